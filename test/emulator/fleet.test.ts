// Fleet files: the bundled demo fleet, generated devices, IotIds, and validation errors naming the path.
import { iotIdFor, startEmulator, validateFleet, loadFleetFile, demoFleetPath } from "../../emulator";

test("the bundled demo fleet has what the README promises", () => {
  const demo = loadFleetFile(demoFleetPath());
  const publicProducts = demo.instances?.[0]?.products ?? [];
  expect(publicProducts.map((p) => [p.productKey, p.dynamicRegistration])).toEqual([
    ["a1DemoProduct", true],
    ["a1StaticProd", false],
    ["a1FleetDemo", true],
  ]);
  expect(publicProducts[2]?.generate).toEqual({ prefix: "cam-", count: 240, pad: 4 });
  expect(demo.instances?.[1]?.iotInstanceId).toBe("iot-cn-demo01");
  expect(publicProducts[0]?.devices?.find((d) => d.deviceName === "gateway-01")).toEqual({
    deviceName: "gateway-01",
    gateway: true,
    subDeviceCount: 2500,
  });
});

test("generate creates padded names for 100,000 devices", async () => {
  const emu = await startEmulator({
    fleet: {
      instances: [
        {
          iotInstanceId: "iot-cn-bench",
          products: [{ productKey: "a1Bench", generate: { prefix: "dev-", count: 100_000, pad: 5 } }],
        },
      ],
    },
  });
  try {
    expect(emu.device({ productKey: "a1Bench", deviceName: "dev-00000", iotInstanceId: "iot-cn-bench" })?.iotId).toBe(
      iotIdFor("a1Bench", "dev-00000", "iot-cn-bench"),
    );
    expect(emu.device({ productKey: "a1Bench", deviceName: "dev-99999", iotInstanceId: "iot-cn-bench" })).toBeDefined();
    expect(
      emu.device({ productKey: "a1Bench", deviceName: "dev-100000", iotInstanceId: "iot-cn-bench" }),
    ).toBeUndefined();
  } finally {
    await emu.stop();
  }
});

test("iotIdFor is stable, 26 letters/digits, and depends on the instance", () => {
  const id = iotIdFor("a1DemoProduct", "sensor-001");
  expect(id).toMatch(/^[A-Za-z0-9]{21}00100$/);
  expect(iotIdFor("a1DemoProduct", "sensor-001")).toBe(id);
  expect(iotIdFor("a1DemoProduct", "sensor-001", "iot-cn-demo01")).not.toBe(id);
  expect(iotIdFor("a1DemoProduct", "sensor-002")).not.toBe(id);
});

test("a fleet-given IotId is used as is", async () => {
  const emu = await startEmulator({
    fleet: { products: [{ productKey: "a1P", devices: [{ deviceName: "dev-1x", iotId: "FixedIotId0000000000100" }] }] },
  });
  try {
    expect(emu.device({ iotId: "FixedIotId0000000000100" })?.deviceName).toBe("dev-1x");
  } finally {
    await emu.stop();
  }
});

test("validation errors name the source and the JSON path", () => {
  expect(() => validateFleet({}, "f.json")).toThrow("f.json: `(root)` must have `instances` or `products`");
  expect(() =>
    validateFleet({ products: [{ productKey: "a1P", generate: { prefix: "d-", count: 0 } }] }, "f.json"),
  ).toThrow("f.json: `products[0].generate.count` must be an integer from 1 to 1000000");
  expect(() =>
    validateFleet({ instances: [{ products: [{ productKey: "a1P", devices: [{ deviceName: "ab" }] }] }] }, "f.json"),
  ).toThrow(
    "f.json: `instances[0].products[0].devices[0].deviceName` must be 4-32 letters, digits or `-_.:@` (the IoT Platform DeviceName rule)",
  );
  expect(() =>
    validateFleet(
      { products: [{ productKey: "a1P", devices: [{ deviceName: "abcd", subDeviceCount: 3 }] }] },
      "f.json",
    ),
  ).toThrow("f.json: `products[0].devices[0].subDeviceCount` needs `gateway: true`");
});

test("a duplicate device is refused at start", async () => {
  await expect(
    startEmulator({
      fleet: { products: [{ productKey: "a1P", devices: [{ deviceName: "dup-1" }, { deviceName: "dup-1" }] }] },
    }),
  ).rejects.toThrow("fleet option: device a1P/dup-1 already exists in the public instance");
});

test("the emulator binds 127.0.0.1 by default", async () => {
  const emu = await startEmulator();
  try {
    expect(emu.endpoint).toBe(`http://127.0.0.1:${emu.port}`);
  } finally {
    await emu.stop();
  }
});

test("a fleet sets devices' starting status; a status outside ONLINE/OFFLINE/DISABLE names its path", async () => {
  const emu = await startEmulator({
    fleet: {
      products: [
        {
          productKey: "a1Status",
          devices: [
            { deviceName: "off-0001", status: "OFFLINE" },
            { deviceName: "dis-0001", status: "DISABLE" },
          ],
          generate: [
            { prefix: "on-", count: 2, pad: 4 },
            { prefix: "idle-", count: 1, pad: 4, status: "OFFLINE" },
            { prefix: "new-", count: 1, pad: 4, activated: false },
          ],
        },
      ],
    },
  });
  try {
    const status = (deviceName: string) => emu.device({ productKey: "a1Status", deviceName })?.status;
    expect(["off-0001", "dis-0001", "on-0000", "on-0001", "idle-0000", "new-0000"].map(status)).toEqual([
      "OFFLINE",
      "DISABLE",
      "ONLINE",
      "ONLINE",
      "OFFLINE",
      "UNACTIVE",
    ]);
  } finally {
    await emu.stop();
  }
  expect(() =>
    validateFleet(
      { products: [{ productKey: "a1S", devices: [{ deviceName: "dev-0001", status: "UNACTIVE" }] }] },
      "f.json",
    ),
  ).toThrow('f.json: `products[0].devices[0].status` must be "ONLINE", "OFFLINE" or "DISABLE"');
  expect(() =>
    validateFleet(
      { products: [{ productKey: "a1S", generate: { prefix: "d-", count: 1, status: "online" } }] },
      "f.json",
    ),
  ).toThrow('f.json: `products[0].generate.status` must be "ONLINE", "OFFLINE" or "DISABLE"');
});
