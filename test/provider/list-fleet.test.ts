// listFleet against the emulator, through the provider's own client: the exact devices and the exact calls, past the
// 10,000th device (NextToken) and the 100,000th (the deep-page quota), and the errors a user sees.
import { listFleet, FleetListingError, InputError, type FleetDevice } from "../../provider";
import type { Emulator } from "../../emulator";
import { configFor, emulator } from "./support";

/** The names of a listing, which lists devices by pair. */
const namesOf = (devices: ReadonlyArray<FleetDevice>): string[] =>
  devices.map((d) => ("deviceName" in d ? d.deviceName : d.iotId));

const pad = (i: number, width: number) => String(i).padStart(width, "0");

function settings(emu: Emulator, extra: Record<string, string> = {}): (key: string) => string | undefined {
  const config = configFor(emu, extra);
  return (key) => config[key];
}

/** How many devices the big listing has; IOT_RESET_LIST_DEVICES changes it (the figure is the default). */
const BIG = Number(process.env.IOT_RESET_LIST_DEVICES ?? 120_000);

test(
  `${BIG.toLocaleString("en-US")} devices are listed exactly, past NextToken and the deep-page quota, without a throttled call`,
  async () => {
    const emu = await emulator({
      fleet: { products: [{ productKey: "a1Big", generate: { prefix: "cam-", count: BIG, pad: 6 } }] },
    });
    try {
      const lines: string[] = [];
      const started = Date.now();
      const devices = await listFleet({
        productKey: "a1Big",
        endpoint: emu.endpoint,
        config: settings(emu),
        onProgress: (line) => lines.push(line),
      });
      const seconds = (Date.now() - started) / 1000;
      // Every device once, sorted by name: none repeated, none missing.
      expect(devices.length).toBe(BIG);
      expect(devices.every((d) => "productKey" in d && d.productKey === "a1Big")).toBe(true);
      expect(namesOf(devices).every((name, i) => name === `cam-${pad(i, 6)}`)).toBe(true);
      // The exact calls: page n has CurrentPage n, PageSize 50, and from page 2 the NextToken of page n - 1.
      const pages = Math.ceil(BIG / 50);
      const calls = emu.requests({ action: "QueryDevice" });
      expect(emu.requests().filter((r) => r.outcome !== "success")).toEqual([]);
      expect(calls.length).toBe(pages);
      expect(
        calls.every(
          (r, i) =>
            r.params["ProductKey"] === "a1Big" &&
            r.params["CurrentPage"] === String(i + 1) &&
            r.params["PageSize"] === "50" &&
            (i === 0) === (r.params["NextToken"] === undefined) &&
            r.params["IotInstanceId"] === undefined,
        ),
      ).toBe(true);
      const deep = calls.filter((r) => Number(r.params["CurrentPage"]) * 50 >= 100_000);
      expect(deep.length).toBe(Math.max(0, pages - 1999));
      // Within the quotas in every one-second window: 50 for QueryDevice pages, 2 for the deep ones.
      expect(maxInAnySecond(calls.filter((r) => Number(r.params["CurrentPage"]) * 50 < 100_000))).toBeLessThanOrEqual(
        50,
      );
      expect(maxInAnySecond(deep)).toBeLessThanOrEqual(2);
      // Every progress line has one shape; a listing past the deep pages runs minutes, so it reports, then ends.
      const done = `done: ${BIG.toLocaleString("en-US")} devices listed`;
      for (const line of lines) {
        expect(line).toMatch(
          /^listFleet: product "a1Big": (\S+ of \S+ devices listed|done: \S+ devices listed) \(\d+ pages, \d+ s\)$/,
        );
      }
      if (deep.length > 0) expect(lines.at(-1)).toMatch(new RegExp(`: ${done} \\(${pages} pages, \\d+ s\\)$`));
      // The figures of bench/results (a measure, not an assertion): the time, the calls, and each kind of page's rate.
      const span = (rs: ReadonlyArray<{ time: number }>) =>
        rs.length > 1 ? ((rs.at(-1)?.time ?? 0) - (rs[0]?.time ?? 0)) / 1000 : 0;
      const shallow = calls.filter((r) => Number(r.params["CurrentPage"]) * 50 < 100_000);
      const rate = (rs: ReadonlyArray<{ time: number }>) =>
        span(rs) > 0 ? ((rs.length - 1) / span(rs)).toFixed(2) : "-";
      process.stderr.write(
        `listFleet measured: ${BIG} devices in ${seconds.toFixed(1)} s, ${calls.length} QueryDevice calls: ` +
          `${shallow.length} in ${span(shallow).toFixed(1)} s (${rate(shallow)}/s), ` +
          `${deep.length} deep in ${span(deep).toFixed(1)} s (${rate(deep)}/s)\n`,
      );
    } finally {
      await emu.stop();
    }
  },
  15 * 60_000,
);

test("listings run together share the account's quota: no second holds more than 50 QueryDevice calls", async () => {
  const emu = await emulator({
    fleet: {
      products: [
        { productKey: "a1East", generate: { prefix: "east-", count: 3000, pad: 4 } },
        { productKey: "a1West", generate: { prefix: "west-", count: 3000, pad: 4 } },
      ],
    },
  });
  try {
    const list = (productKey: string) => listFleet({ productKey, endpoint: emu.endpoint, config: settings(emu) });
    const [east, west] = await Promise.all([list("a1East"), list("a1West")]);
    expect([east.length, west.length]).toEqual([3000, 3000]);
    const calls = emu.requests({ action: "QueryDevice" });
    expect(calls.filter((r) => r.outcome !== "success")).toEqual([]);
    expect(calls.length).toBe(120);
    expect(maxInAnySecond(calls)).toBeLessThanOrEqual(50);
  } finally {
    await emu.stop();
  }
}, 60_000);

function maxInAnySecond(calls: ReadonlyArray<{ time: number }>): number {
  const times = calls.map((c) => c.time).sort((a, b) => a - b);
  let max = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while ((times[i] as number) - (times[j] as number) >= 1000) j++;
    max = Math.max(max, i - j + 1);
  }
  return max;
}

describe("listFleet", () => {
  let emu: Emulator;
  beforeEach(async () => {
    emu = await emulator({
      fleet: {
        instances: [
          {
            iotInstanceId: "iot-cn-list",
            products: [
              {
                productKey: "a1Cams",
                devices: [
                  { deviceName: "cam-off", status: "OFFLINE", groups: ["grpNorth"] },
                  { deviceName: "cam-new", activated: false },
                ],
                generate: { prefix: "cam-", count: 60, pad: 3, groups: ["grpNorth"] },
              },
              { productKey: "a1Other", devices: [{ deviceName: "other-1", groups: ["grpNorth"] }] },
            ],
          },
        ],
      },
    });
  });
  afterEach(async () => {
    await emu.stop();
  });
  const base = () => ({ iotInstanceId: "iot-cn-list", endpoint: emu.endpoint, config: settings(emu) });

  test("a product of an instance: every device, sorted, with the exact QueryDevice calls", async () => {
    const devices = await listFleet({ productKey: "a1Cams", ...base() });
    expect(namesOf(devices)).toEqual([
      ...Array.from({ length: 60 }, (_, i) => `cam-${pad(i, 3)}`),
      "cam-new",
      "cam-off",
    ]);
    expect(
      emu
        .requests({ action: "QueryDevice" })
        .map((r) => [r.params["CurrentPage"], r.params["IotInstanceId"], r.params["NextToken"] !== undefined]),
    ).toEqual([
      ["1", "iot-cn-list", false],
      ["2", "iot-cn-list", true],
    ]);
  });

  test("`status` keeps the devices in that status", async () => {
    expect(await listFleet({ productKey: "a1Cams", status: "OFFLINE", ...base() })).toEqual([
      { productKey: "a1Cams", deviceName: "cam-off" },
    ]);
    expect(await listFleet({ productKey: "a1Cams", status: "UNACTIVE", ...base() })).toEqual([
      { productKey: "a1Cams", deviceName: "cam-new" },
    ]);
  });

  test("`groupId` lists the product's members of the group; with `status`, their states are read in batches of 50", async () => {
    const group = await listFleet({ productKey: "a1Cams", groupId: "grpNorth", ...base() });
    expect(group.length).toBe(61);
    expect(namesOf(group)).not.toContain("other-1");
    expect(emu.requests({ action: "QueryDeviceListByDeviceGroup" }).map((r) => r.params["CurrentPage"])).toEqual([
      "1",
      "2",
    ]);
    emu.clearRequests();
    const offline = await listFleet({ productKey: "a1Cams", groupId: "grpNorth", status: "OFFLINE", ...base() });
    expect(offline).toEqual([{ productKey: "a1Cams", deviceName: "cam-off" }]);
    expect(
      emu
        .requests({ action: "BatchGetDeviceState" })
        .map((r) => Object.keys(r.params).filter((k) => k.startsWith("IotId.")).length),
    ).toEqual([50, 11]);
  });

  test("a throttled page is retried: the listing is whole and the user sees no error", async () => {
    emu.scriptFaults("QueryDevice", "throttle", 2);
    const devices = await listFleet({ productKey: "a1Cams", ...base() });
    expect(devices.length).toBe(62);
    expect(emu.requests({ action: "QueryDevice" }).map((r) => [r.params["CurrentPage"], r.code ?? r.outcome])).toEqual([
      ["1", "Throttling"],
      ["1", "Throttling"],
      ["1", "success"],
      ["2", "success"],
    ]);
  });

  test("an unknown product is an error naming it, the Code, the RequestId and what to do", async () => {
    const err = await listFleet({ productKey: "a1Nope", ...base() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FleetListingError);
    const requestId = emu.requests({ action: "QueryDevice" })[0]?.requestId;
    expect((err as Error).message).toBe(
      `listFleet: listing product "a1Nope" in instance "iot-cn-list" failed (QueryDevice): iot.prod.NotExistedProduct: ` +
        `The specified product does not exist. (RequestId: ${requestId}). Check productKey, and pass iotInstanceId for ` +
        `a product of an instance that has an ID.`,
    );
  });

  test("an unknown group is an error naming the group", async () => {
    const err = await listFleet({ productKey: "a1Cams", groupId: "grpNope", ...base() }).catch((e: unknown) => e);
    const requestId = emu.requests({ action: "QueryDeviceListByDeviceGroup" })[0]?.requestId;
    expect((err as Error).message).toBe(
      `listFleet: listing product "a1Cams" in instance "iot-cn-list" in device group "grpNope" failed ` +
        `(QueryDeviceListByDeviceGroup): iot.group.NotExistedGroup: The group does not exist. (RequestId: ${requestId}). ` +
        `Check groupId (the group's GroupId, not its name) and iotInstanceId.`,
    );
  });

  test("a wrong secret names the Code and says to check the credentials; the secret is nowhere in the message", async () => {
    const err = await listFleet({
      productKey: "a1Cams",
      ...base(),
      config: settings(emu, { "alicloud:secretKey": "WrongSecret-0000" }),
    }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(
      /^listFleet: listing product "a1Cams" in instance "iot-cn-list" failed \(QueryDevice\): SignatureDoesNotMatch: Specified signature does not match our calculation\. [\s\S]* \(RequestId: [0-9A-F-]{36}\)\. Check the Alibaba Cloud credentials/,
    );
    expect((err as Error).message).not.toContain("WrongSecret-0000");
  });

  test("bad arguments are refused before any call, naming the argument", async () => {
    await expect(listFleet({ productKey: "", ...base() })).rejects.toThrow(
      new InputError('listFleet: `productKey` must be a ProductKey (1-64 letters, digits, _ or -), got ""'),
    );
    await expect(listFleet({ productKey: "a1Cams", status: "ON" as never, ...base() })).rejects.toThrow(
      'listFleet: `status` must be one of ONLINE, OFFLINE, UNACTIVE, DISABLE, got "ON"',
    );
    expect(emu.requests()).toEqual([]);
  });
});
