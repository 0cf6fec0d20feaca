// Devices that come back after a reset: OFFLINE at the reset, ONLINE again after a seeded delay or never,
// read through the real SDK's BatchGetDeviceState and the emulator's own report, with an injected clock.
import { createHash } from "node:crypto";
import Client, { BatchGetDeviceStateRequest, ResetThingRequest } from "@alicloud/iot20180120";
import { comeBackPlan, iotIdFor, startEmulator, type ComeBackOptions, type Emulator } from "../../emulator";
import { sdkClient } from "./helpers";

/** The documented draw, computed here without the emulator's code: who never comes back, and each delay. */
function expectedPlan(
  seed: number,
  iotId: string,
  neverRatio: number,
  minMs: number,
  maxMs: number,
): { never: true } | { never: false; delayMs: number } {
  const h = createHash("sha256").update(`${seed}\u0000${iotId}`).digest();
  if (h.readUInt32BE(0) / 4294967296 < neverRatio) return { never: true };
  return { never: false, delayMs: minMs + Math.floor((h.readUInt32BE(4) / 4294967296) * (maxMs - minMs + 1)) };
}

const names = (prefix: string, count: number, pad: number) =>
  Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(pad, "0")}`);

/** Statuses of devices of one product, 50 per BatchGetDeviceState call, in the order asked. */
async function statuses(client: Client, productKey: string, deviceNames: string[]) {
  const out: Array<{ deviceName?: string; status?: string }> = [];
  for (let i = 0; i < deviceNames.length; i += 50) {
    const res = await client.batchGetDeviceState(
      new BatchGetDeviceStateRequest({ productKey, deviceName: deviceNames.slice(i, i + 50) }),
    );
    expect(res.body?.success).toBe(true);
    out.push(...(res.body?.deviceStatusList?.deviceStatus ?? []));
  }
  return out;
}

/** Resets every device through the SDK, `width` calls at a time; each must succeed. */
async function resetAll(client: Client, productKey: string, deviceNames: string[], width = 25): Promise<void> {
  for (let i = 0; i < deviceNames.length; i += width) {
    const results = await Promise.all(
      deviceNames
        .slice(i, i + width)
        .map((deviceName) => client.resetThing(new ResetThingRequest({ productKey, deviceName }))),
    );
    for (const r of results) expect(r.body?.success).toBe(true);
  }
}

describe("with an injected clock", () => {
  let now: number;
  let emu: Emulator | undefined;
  const start = async (
    comeBack: ComeBackOptions,
    products: Array<{ productKey: string; count: number; dynamicRegistration?: boolean }>,
  ) => {
    now = Date.now();
    emu = await startEmulator({
      clock: () => now,
      comeBack,
      quotas: { ResetThing: Infinity, BatchGetDeviceState: Infinity },
      fleet: {
        products: products.map((p) => ({
          productKey: p.productKey,
          ...(p.dynamicRegistration !== undefined ? { dynamicRegistration: p.dynamicRegistration } : {}),
          generate: { prefix: "dev-", count: p.count, pad: 5 },
        })),
      },
    });
    return emu;
  };
  afterEach(async () => {
    await emu?.stop();
    emu = undefined;
  });

  test("ONLINE before a reset, OFFLINE at it, ONLINE again exactly at reset time + the drawn delay, or never", async () => {
    const comeBack = { seed: 7, neverRatio: 0.25, delayMs: { minMs: 1000, maxMs: 5000 } };
    const e = await start(comeBack, [{ productKey: "a1Back", count: 20 }]);
    const client = sdkClient(e);
    const devs = names("dev-", 20, 5);
    expect((await statuses(client, "a1Back", devs)).map((d) => d.status)).toEqual(devs.map(() => "ONLINE"));

    const t0 = now;
    await resetAll(client, "a1Back", devs);
    const plans = devs.map((deviceName) => expectedPlan(7, iotIdFor("a1Back", deviceName), 0.25, 1000, 5000));
    // The emulator's own draw agrees with the independent computation, device by device.
    expect(devs.map((deviceName) => e.comeBackPlan({ productKey: "a1Back", deviceName }))).toEqual(plans);
    expect(
      devs.map((deviceName) => comeBackPlan(comeBack, { productKey: "a1Back", iotId: iotIdFor("a1Back", deviceName) })),
    ).toEqual(plans);
    expect((await statuses(client, "a1Back", devs)).map((d) => d.status)).toEqual(devs.map(() => "OFFLINE"));

    // Every instant at which some device changes, the instant before it, and after the longest delay.
    const instants = new Set<number>([t0 + 5001]);
    for (const p of plans) if (!p.never) instants.add(t0 + p.delayMs - 1).add(t0 + p.delayMs);
    for (const t of [...instants].sort((a, b) => a - b)) {
      now = t;
      const expected = plans.map((p) => (!p.never && t >= t0 + p.delayMs ? "ONLINE" : "OFFLINE"));
      expect({ t: t - t0, statuses: (await statuses(client, "a1Back", devs)).map((d) => d.status) }).toEqual({
        t: t - t0,
        statuses: expected,
      });
    }
    // The report says who came back and when, and who never will.
    const report = e.comeBacks();
    expect(report).toEqual(
      devs.map((deviceName, i) => {
        const p = plans[i];
        const base = { productKey: "a1Back", deviceName, iotId: iotIdFor("a1Back", deviceName), resetAt: t0 };
        return p?.never
          ? { ...base, outcome: "never" }
          : { ...base, outcome: "back", onlineAt: t0 + (p?.delayMs ?? 0) };
      }),
    );
    expect(e.device({ productKey: "a1Back", deviceName: "dev-00000" })?.resetCount).toBe(1);
  });

  test("2,000 devices with 20% never returning: the never set is exactly the seeded draw's, and the seed decides it", async () => {
    const comeBack = { seed: 2026, neverRatio: 0.2, delayMs: { minMs: 0, maxMs: 60_000 } };
    const e = await start(comeBack, [{ productKey: "a1Fleet", count: 2000 }]);
    const client = sdkClient(e);
    const devs = names("dev-", 2000, 5);
    const t0 = now;
    await resetAll(client, "a1Fleet", devs, 50);
    const plans = devs.map((d) => expectedPlan(2026, iotIdFor("a1Fleet", d), 0.2, 0, 60_000));
    const expectedNever = devs.filter((_, i) => plans[i]?.never);

    // Halfway: exactly the devices whose delay has passed are back.
    now = t0 + 30_000;
    const halfway = e.comeBacks();
    expect(halfway.filter((r) => r.outcome === "back").map((r) => r.deviceName)).toEqual(
      devs.filter((_, i) => {
        const p = plans[i];
        return p !== undefined && !p.never && p.delayMs <= 30_000;
      }),
    );
    expect(halfway.filter((r) => r.outcome === "never").map((r) => r.deviceName)).toEqual(expectedNever);

    now = t0 + 60_000;
    const report = e.comeBacks({ productKey: "a1Fleet" });
    expect(report).toHaveLength(2000);
    expect(report.filter((r) => r.outcome === "pending")).toEqual([]);
    expect(report.filter((r) => r.outcome === "never").map((r) => r.deviceName)).toEqual(expectedNever);
    const online = (await statuses(client, "a1Fleet", devs)).filter((d) => d.status === "ONLINE");
    expect(online).toHaveLength(2000 - expectedNever.length);
    // Another seed draws another set (so the seed, not the names alone, decides).
    const otherNever = devs.filter((d) => expectedPlan(2027, iotIdFor("a1Fleet", d), 0.2, 0, 60_000).never);
    expect(otherNever).not.toEqual(expectedNever);
    e.setComeBack({ ...comeBack, seed: 2027 });
    expect(devs.filter((d) => e.comeBackPlan({ productKey: "a1Fleet", deviceName: d }).never)).toEqual(otherNever);
  });

  test("a product's rule overrides the fleet default; fields it leaves out fall back to the default", async () => {
    const e = await start(
      {
        seed: 3,
        neverRatio: 0,
        delayMs: { minMs: 100, maxMs: 100 },
        byProduct: { a1Dead: { neverRatio: 1 }, a1Slow: { delayMs: { minMs: 9000, maxMs: 9000 } } },
      },
      [
        { productKey: "a1Dead", count: 3 },
        { productKey: "a1Slow", count: 3 },
        { productKey: "a1Fast", count: 3 },
      ],
    );
    const client = sdkClient(e);
    const devs = names("dev-", 3, 5);
    const t0 = now;
    for (const pk of ["a1Dead", "a1Slow", "a1Fast"]) await resetAll(client, pk, devs);
    now = t0 + 100;
    expect((await statuses(client, "a1Fast", devs)).map((d) => d.status)).toEqual(["ONLINE", "ONLINE", "ONLINE"]);
    expect((await statuses(client, "a1Slow", devs)).map((d) => d.status)).toEqual(["OFFLINE", "OFFLINE", "OFFLINE"]);
    now = t0 + 9000;
    expect((await statuses(client, "a1Slow", devs)).map((d) => d.status)).toEqual(["ONLINE", "ONLINE", "ONLINE"]);
    now = t0 + 600_000; // ten minutes: within the accepted x-acs-date skew of the real clock
    expect((await statuses(client, "a1Dead", devs)).map((d) => d.status)).toEqual(["OFFLINE", "OFFLINE", "OFFLINE"]);
    expect(e.comeBacks({ productKey: "a1Dead" }).map((r) => r.outcome)).toEqual(["never", "never", "never"]);
  });

  test("a device not activated stays UNACTIVE, a disabled one DISABLE, one without dynamic registration ONLINE", async () => {
    const e = await start({ delayMs: { minMs: 10, maxMs: 10 } }, [
      { productKey: "a1Static", count: 1, dynamicRegistration: false },
    ]);
    e.addDevices("a1Mixed", [
      { deviceName: "never-activated", activated: false },
      { deviceName: "disabled-01", status: "DISABLE" },
      { deviceName: "offline-01", status: "OFFLINE" },
    ]);
    const client = sdkClient(e);
    const mixed = ["never-activated", "disabled-01", "offline-01"];
    expect((await statuses(client, "a1Mixed", mixed)).map((d) => d.status)).toEqual(["UNACTIVE", "DISABLE", "OFFLINE"]);
    const t0 = now;
    now += 5;
    await resetAll(client, "a1Mixed", mixed);
    await resetAll(client, "a1Static", ["dev-00000"]);
    const after = await client.batchGetDeviceState(
      new BatchGetDeviceStateRequest({ productKey: "a1Mixed", deviceName: mixed }),
    );
    expect(after.body?.deviceStatusList?.deviceStatus?.map((d) => d.status)).toEqual([
      "UNACTIVE",
      "DISABLE",
      "OFFLINE",
    ]);
    expect((await statuses(client, "a1Static", ["dev-00000"]))[0]?.status).toBe("ONLINE");
    // The device that was already OFFLINE has no new status change at the reset, and comes back after the delay.
    expect(e.device({ productKey: "a1Mixed", deviceName: "offline-01" })).toMatchObject({ statusChangedAt: t0 });
    now = t0 + 15;
    expect(e.device({ productKey: "a1Mixed", deviceName: "offline-01" })).toMatchObject({
      status: "ONLINE",
      statusChangedAt: t0 + 15,
      lastOnlineAt: t0 + 15,
    });
    expect(e.comeBacks().map((r) => [r.deviceName, r.outcome])).toEqual([["offline-01", "back"]]);
    // setDeviceStatus changes the status now and cancels a pending return.
    e.setDeviceStatus({ productKey: "a1Mixed", deviceName: "disabled-01" }, "ONLINE");
    await resetAll(client, "a1Mixed", ["disabled-01"]);
    e.setDeviceStatus({ productKey: "a1Mixed", deviceName: "disabled-01" }, "DISABLE");
    now += 1000;
    expect(e.device({ productKey: "a1Mixed", deviceName: "disabled-01" })).toMatchObject({
      status: "DISABLE",
      statusChangedAt: t0 + 15,
    });
  });

  test("bad come-back options are refused with a message naming the option", async () => {
    await expect(startEmulator({ comeBack: { neverRatio: 1.5 } })).rejects.toThrow(
      "`comeBack.neverRatio` must be a number from 0 to 1, got 1.5",
    );
    await expect(
      startEmulator({ comeBack: { byProduct: { a1X: { delayMs: { minMs: 10, maxMs: 5 } } } } }),
    ).rejects.toThrow(
      "`comeBack.byProduct.a1X.delayMs.maxMs` must be an integer number of ms, at least minMs (10), got 5",
    );
  });
});

test("by default time is real: a device is back once its delay has passed on the wall clock", async () => {
  const emu = await startEmulator({ comeBack: { delayMs: { minMs: 50, maxMs: 80 } } });
  try {
    const client = sdkClient(emu);
    const ref = { productKey: "a1DemoProduct", deviceName: "sensor-003" };
    await client.resetThing(new ResetThingRequest(ref));
    expect(emu.device(ref)?.status).toBe("OFFLINE");
    await new Promise((r) => setTimeout(r, 200));
    const res = await client.batchGetDeviceState(
      new BatchGetDeviceStateRequest({ productKey: ref.productKey, deviceName: [ref.deviceName] }),
    );
    expect(res.body?.deviceStatusList?.deviceStatus?.[0]?.status).toBe("ONLINE");
    const plan = emu.comeBackPlan(ref);
    if (plan.never) throw new Error("the default never-return ratio is 0, so every device comes back");
    const [record] = emu.comeBacks();
    expect(record?.outcome).toBe("back");
    expect((record?.onlineAt ?? 0) - (record?.resetAt ?? 0)).toBe(plan.delayMs);
  } finally {
    await emu.stop();
  }
});
