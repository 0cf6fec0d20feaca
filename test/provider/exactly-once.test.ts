// Exactly once through lost answers: resets applied by IoT Platform whose answers are lost (applyThenDrop,
// applyThenHang) are never resent silently; they are named, kept in state, and sent exactly once more only when
// the operator asks. Counts are the emulator's own: requests received and resets applied per device.
import * as fs from "node:fs";
import { Emulator } from "../../emulator";
import * as batch from "../../provider/host/batch-reset";
import * as device from "../../provider/host/device-reset";
import { PartialResetError } from "../../provider/shared/errors";
import { readJournal } from "../../provider/host/journal-file";
import { configFor, context, emulator, journalPath } from "./support";

const N = 300;
const name = (i: number) => `dev-${String(i).padStart(4, "0")}`;
const fleet = Array.from({ length: N }, (_, i) => ({ productKey: "a1Once", deviceName: name(i) }));
const ADVICE_TAIL = "then either accept it as reset: `pulumi config set iotReset:acceptUnknown";

let emu: Emulator;
afterEach(() => emu.stop());

function freshGuard(): void {
  // Each run is one update in a new provider process: a fresh guard.
}

/** The device keys of the ResetThing calls the emulator received since the last clear. */
function sentKeys(): string[] {
  return emu.requests({ action: "ResetThing" }).map((r) => `${r.params.ProductKey}/${r.params.DeviceName}`);
}

describe("a batch through lost answers (2% applyThenDrop, 1% applyThenHang)", () => {
  beforeEach(async () => {
    emu = await emulator({ faults: { seed: 7, applyThenDrop: 0.02, applyThenHang: 0.01, actions: ["ResetThing"] } });
    emu.addDevices(
      "a1Once",
      fleet.map(({ deviceName }) => ({ deviceName })),
    );
    freshGuard();
  });

  test("no device is reset twice; each unknown one is named and kept; the next update sends nothing to them; the resend setting sends each exactly once more and marks it", async () => {
    // Long enough that only the held answers time out, even on a busy machine (the emulator shares this process).
    const config = configFor(emu, { "iotReset:readTimeoutMs": "2000" });
    const inputs = { campaign: "rotation-1", devices: fleet, endpoint: emu.endpoint };

    // Run 1: every device is sent once; the faulted ones are applied, but their answers are lost.
    const first = await batch.create(context(config), inputs).catch((e) => e);
    expect(first).toBeInstanceOf(PartialResetError);
    const faulted = emu.requests({ action: "ResetThing", outcome: "fault" });
    const lost = faulted.map((r) => `${r.params.ProductKey}/${r.params.DeviceName}`).sort();
    const u = lost.length;
    expect(u).toBeGreaterThan(3);
    expect(faulted.every((r) => r.applied === true)).toBe(true);
    expect(sentKeys()).toHaveLength(N);
    expect(new Set(sentKeys()).size).toBe(N);
    for (const d of fleet) expect(emu.resetCount(d)).toBe(1);
    expect(Object.keys(first.properties.unknownOutcomes).sort()).toEqual(lost);
    expect(Object.keys(first.properties.results)).toHaveLength(N - u);
    expect(first.properties.resetCount).toBe(N - u);
    for (const key of lost) {
      const record = first.properties.unknownOutcomes[key];
      const request = faulted.find((r) => `${r.params.ProductKey}/${r.params.DeviceName}` === key);
      expect(record).toEqual({
        sentAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        attempt: 1,
        error: expect.any(String),
      });
      // The SDK names a held answer's timeout after whichever of its two timers fires first.
      expect(record.error).toMatch(
        request?.fault === "applyThenDrop"
          ? /^ECONNRESET: socket hang up$/
          : /^RequestTimeoutError: (ReadTimeout\(2000\)|ConnectTimeout \(the SDK's socket idle timeout\))$/,
      );
      expect(first.message).toContain(
        `\n  unknown outcome: ${key}: sent at ${record.sentAt} (attempt 1), no answer: ${record.error}\n`,
      );
    }
    const [headline] = first.message.split("\n");
    expect(headline).toBe(
      `${N - u} of ${N} devices of this batch reset and recorded; 0 left for the next update; ${u} with an unknown outcome, not sent again until you decide:`,
    );
    expect(first.reasons).toHaveLength(u + 1);
    expect(first.reasons[u]).toBe(
      `IoT Platform may have reset each of them, so none of them is sent again. Check each device in the IoT console (or ` +
        `with QueryDeviceDetail; for a gateway, its device jobs), ${ADVICE_TAIL} "${first.reasons
          .slice(0, u)
          .map((r: string) => r.split(": ")[1])
          .join(",")}"\`, or send it exactly once more (its record then says it may have been reset twice): ` +
        `\`pulumi config set iotReset:resendUnknown "${first.reasons
          .slice(0, u)
          .map((r: string) => r.split(": ")[1])
          .join(",")}"\`; and run \`pulumi up\` again.`,
    );

    // Run 2, a new update: the unknown devices make a change, and fail it again; nothing is sent.
    emu.clearRequests();
    freshGuard();
    expect(batch.diff("id", first.properties, inputs).changes).toBe(true);
    const second = await batch.update(context(config), first.id, first.properties, inputs).catch((e) => e);
    expect(second).toBeInstanceOf(PartialResetError);
    expect(emu.requests()).toHaveLength(0);
    expect(Object.keys(second.properties.unknownOutcomes).sort()).toEqual(lost);
    expect(second.message.split("\n")[0]).toBe(
      `0 of ${u} devices of this batch reset and recorded; 0 left for the next update; ${u} with an unknown outcome, not sent again until you decide:`,
    );

    // Run 3, with the resend setting: each unknown device is sent exactly once more, and its record says so.
    emu.clearRequests();
    freshGuard();
    const resendConfig = { ...config, "iotReset:resendUnknown": "all" };
    const third = await batch
      .update(context(resendConfig), first.id, second.properties, inputs)
      .then((r) => ({ properties: r.outs as Record<string, any>, error: undefined }))
      .catch((e) => ({ properties: e.properties as Record<string, any>, error: e }));
    expect(sentKeys().sort()).toEqual(lost);
    for (const key of lost) {
      const [productKey, deviceName] = key.split("/") as [string, string];
      expect(emu.resetCount({ productKey, deviceName })).toBe(2);
    }
    // A resend can meet another lost answer (the faults are random): that device is unknown again, marked resent.
    const lostAgain = emu
      .requests({ action: "ResetThing", outcome: "fault" })
      .map((r) => `${r.params.ProductKey}/${r.params.DeviceName}`)
      .sort();
    expect(Object.keys(third.properties.unknownOutcomes ?? {}).sort()).toEqual(lostAgain);
    for (const key of lostAgain) {
      expect(third.properties.unknownOutcomes[key]).toMatchObject({ resent: true, resends: 1 });
    }
    for (const key of lost.filter((k) => !lostAgain.includes(k))) {
      expect(third.properties.results[key]).toEqual({
        requestId: expect.any(String),
        resetAt: expect.any(String),
        mayBeResetTwice: true,
      });
    }
    expect(third.properties.resetCount).toBe(N - lostAgain.length);

    // Run 4, the setting still there: a device already resent is not sent again without a decision of its own (`#2`);
    // accepting settles it.
    emu.clearRequests();
    freshGuard();
    if (third.error) {
      const fourth = await batch.update(context(resendConfig), first.id, third.properties, inputs).catch((e) => e);
      expect(fourth).toBeInstanceOf(PartialResetError);
      for (const key of lostAgain) expect(fourth.message).toContain(`(this was resend 1; another is named ${key}#2)`);
      expect(fourth.message).toContain(
        `\`pulumi config set iotReset:resendUnknown "${lostAgain.map((k) => `${k}#2`).join(",")}"\``,
      );
      const accepted = await batch.update(
        context({ ...config, "iotReset:acceptUnknown": lostAgain.join(",") }),
        first.id,
        fourth.properties,
        inputs,
      );
      for (const key of lostAgain) expect(accepted.outs?.results[key]).toMatchObject({ acceptedUnknown: true });
      expect(accepted.outs?.resetCount).toBe(N);
      expect(accepted.outs?.unknownOutcomes).toBeUndefined();
    } else {
      const fourth = await batch.update(context(resendConfig), first.id, third.properties, inputs);
      expect(fourth.outs?.resetCount).toBe(N);
    }
    expect(emu.requests()).toHaveLength(0);

    // The journal holds, for each device, what was sent and what came back; no credential.
    const journal = readJournal(journalPath(emu));
    expect(journal.header).toMatchObject({ project: "iot-reset-test", stack: "test", version: 1 });
    const lines = journal.entries;
    expect(lines.filter((e) => e.ev === "sending" && !("resend" in e && e.resend))).toHaveLength(N);
    expect(lines.filter((e) => e.ev === "sending" && "resend" in e && e.resend)).toHaveLength(u);
    expect(lines.filter((e) => e.ev === "unknown")).toHaveLength(u + lostAgain.length);
    const text = JSON.stringify(journal);
    expect(text).not.toContain(config["alicloud:secretKey"]);
    expect(text).not.toContain(config["alicloud:accessKey"]);
  });
});

describe("a gateway whose answer is lost", () => {
  beforeEach(async () => {
    emu = await emulator();
    freshGuard();
  });

  test("never gets a second topology job by default", async () => {
    const config = configFor(emu);
    const gateway = { productKey: "a1DemoProduct", deviceName: "gateway-01" };
    const inputs = { campaign: "c", devices: [gateway], endpoint: emu.endpoint };
    emu.scriptFaults("ResetThing", "applyThenDrop", 1);
    const first = await batch.create(context(config), inputs).catch((e) => e);
    expect(first.properties.unknownOutcomes["a1DemoProduct/gateway-01"]).toMatchObject({ attempt: 1 });
    expect(emu.jobs()).toHaveLength(1);
    for (let run = 0; run < 2; run++) {
      freshGuard();
      const again = await batch.update(context(config), first.id, first.properties, inputs).catch((e) => e);
      expect(again).toBeInstanceOf(PartialResetError);
    }
    expect(emu.requests({ action: "ResetThing" })).toHaveLength(1);
    expect(emu.jobs()).toHaveLength(1);
    expect(emu.resetCount(gateway)).toBe(1);
  });
});

describe("a DeviceRegistrationReset whose answer is lost", () => {
  const pair = { productKey: "a1DemoProduct", deviceName: "sensor-001" };

  beforeEach(async () => {
    emu = await emulator();
  });

  test("fails naming the device and how to decide; an update sends nothing; accepting records it without a call", async () => {
    const config = configFor(emu, { "iotReset:readTimeoutMs": "300" });
    const inputs = { ...pair, endpoint: emu.endpoint, triggers: ["w1"] };
    emu.scriptFaults("ResetThing", "applyThenHang", 1);
    const error = await device.create(context(config), inputs).catch((e) => e);
    expect(error).toBeInstanceOf(PartialResetError);
    const record = error.properties.unknownOutcome;
    expect(record).toEqual({
      sentAt: expect.any(String),
      attempt: 1,
      error: "RequestTimeoutError: ReadTimeout(300)",
    });
    expect(error.id).toBe(`unknown:a1DemoProduct/sensor-001@${record.sentAt}`);
    expect(error.properties.success).toBe(false);
    expect(error.message).toBe(
      `The reset of device "a1DemoProduct/sensor-001" has an unknown outcome: a1DemoProduct/sensor-001: sent at ` +
        `${record.sentAt} (attempt 1), no answer: RequestTimeoutError: ReadTimeout(300). IoT Platform may have reset ` +
        `it, so it is not sent again. Check the device in the IoT console (or with QueryDeviceDetail; for a gateway, ` +
        `its device jobs), then either accept it as reset: \`pulumi config set iotReset:acceptUnknown ` +
        `"a1DemoProduct/sensor-001"\`, or send it exactly once more (its record then says it may have been reset ` +
        `twice): \`pulumi config set iotReset:resendUnknown "a1DemoProduct/sensor-001"\`; and run \`pulumi up\` again.`,
    );
    expect(emu.resetCount(pair)).toBe(1);

    expect(device.diff(error.id, error.properties, inputs)).toEqual({
      changes: true,
      replaces: [],
      deleteBeforeReplace: false,
    });
    const again = await device.update(context(config), error.id, error.properties, inputs).catch((e) => e);
    expect(again).toBeInstanceOf(PartialResetError);
    expect(again.message).toBe(error.message);

    const accepted = await device.update(
      context({ ...config, "iotReset:acceptUnknown": "a1DemoProduct/sensor-001" }),
      error.id,
      again.properties,
      inputs,
    );
    expect(accepted.outs).toEqual({ ...inputs, success: true, resetAt: record.sentAt, acceptedUnknown: true });
    expect(emu.requests({ action: "ResetThing" })).toHaveLength(1);
    expect(device.diff(error.id, accepted.outs as Record<string, unknown>, inputs).changes).toBe(false);
  });

  test("with the resend setting it is sent exactly once more and recorded as possibly reset twice", async () => {
    const config = configFor(emu);
    const inputs = { ...pair, endpoint: emu.endpoint };
    emu.scriptFaults("ResetThing", "applyThenDrop", 1);
    const error = await device.create(context(config), inputs).catch((e) => e);
    const resent = await device.update(
      context({ ...config, "iotReset:resendUnknown": "a1DemoProduct/sensor-001" }),
      error.id,
      error.properties,
      inputs,
    );
    const calls = emu.requests({ action: "ResetThing" });
    expect(calls).toHaveLength(2);
    expect(resent.outs).toEqual({
      ...inputs,
      success: true,
      requestId: calls[1]?.requestId,
      resetAt: expect.any(String),
      mayBeResetTwice: true,
    });
    expect(emu.resetCount(pair)).toBe(2);
    // Settled: the setting left in place sends nothing more.
    const later = await device.update(
      context({ ...config, "iotReset:resendUnknown": "all" }),
      error.id,
      resent.outs as Record<string, unknown>,
      inputs,
    );
    expect(later.outs).toEqual(resent.outs);
    expect(emu.requests({ action: "ResetThing" })).toHaveLength(2);
  });
});

describe("a resend sent by an update that was killed before state recorded it", () => {
  beforeEach(async () => {
    emu = await emulator();
    emu.addDevices("a1Once", [{ deviceName: name(0) }, { deviceName: name(1) }]);
  });

  test("the journal's resend wins over state's older record: the device is held until a second resend is named, then sent once", async () => {
    const config = configFor(emu, { "iotReset:readTimeoutMs": "2000" });
    const inputs = { campaign: "resend-kill", devices: fleet.slice(0, 2), endpoint: emu.endpoint };
    // Both answers lost: state records two unknown outcomes, neither resent.
    emu.scriptFaults("ResetThing", "applyThenDrop", 2);
    const ctx = context(config);
    const first = await batch.create(ctx, inputs).catch((e) => e);
    expect(first).toBeInstanceOf(PartialResetError);
    expect(first.properties.unknownOutcomes[`a1Once/${name(0)}`]).toMatchObject({ attempt: 1 });
    expect(first.properties.unknownOutcomes[`a1Once/${name(0)}`].resent).toBeUndefined();
    // The update's provider process ends: its journal is closed, and the next process reads the file afresh.
    await ctx.settle();
    // An update with the resend setting sent dev-0000 once more and was killed before its answer reached the
    // journal or state: the journal's last line for it is that resend's "sending".
    const file = journalPath(emu);
    const scope = readJournal(file).entries[0]?.scope as string;
    fs.appendFileSync(
      file,
      `${JSON.stringify({ ev: "sending", at: new Date().toISOString(), scope, device: `a1Once/${name(0)}`, attempt: 1, resend: true })}\n`,
    );
    emu.clearRequests();
    const resendConfig = { ...config, "iotReset:resendUnknown": `a1Once/${name(0)},a1Once/${name(1)}` };
    const next = await batch.update(context(resendConfig), first.id, first.properties, inputs).catch((e) => e);
    // dev-0001 gets its one resend; dev-0000, whose resend the journal shows, is held for a decision.
    expect(sentKeys()).toEqual([`a1Once/${name(1)}`]);
    expect(next).toBeInstanceOf(PartialResetError);
    expect(next.message).toContain(`a1Once/${name(0)}: sent at`);
    expect(next.message).toContain(`(this was resend 1; another is named a1Once/${name(0)}#2)`);
    expect(next.message).toContain(`\`pulumi config set iotReset:resendUnknown "a1Once/${name(0)}#2"\``);
    expect(next.properties.unknownOutcomes[`a1Once/${name(0)}`]).toMatchObject({ resent: true, resends: 1 });
    expect(emu.resetCount({ productKey: "a1Once", deviceName: name(0) })).toBe(1);

    // The console shows it reset once, as the killed resend never left. A resend number that skips the second is
    // held; the second is sent exactly once; left in place, it sends nothing more.
    const withResend = (value: string) => context({ ...config, "iotReset:resendUnknown": value });
    emu.clearRequests();
    const skipped = await batch
      .update(withResend(`a1Once/${name(0)}#3`), first.id, next.properties, inputs)
      .catch((e) => e);
    expect(skipped).toBeInstanceOf(PartialResetError);
    expect(emu.requests()).toHaveLength(0);
    const second = await batch.update(withResend(`a1Once/${name(0)}#2`), first.id, skipped.properties, inputs);
    expect(sentKeys()).toEqual([`a1Once/${name(0)}`]);
    expect(second.outs?.results[`a1Once/${name(0)}`]).toEqual({
      requestId: expect.any(String),
      resetAt: expect.any(String),
      mayBeResetTwice: true,
    });
    expect(second.outs?.unknownOutcomes).toBeUndefined();
    const again = await batch.update(withResend(`a1Once/${name(0)}#2`), first.id, second.outs ?? {}, inputs);
    expect(again.outs).toEqual(second.outs);
    expect(emu.resetCount({ productKey: "a1Once", deviceName: name(0) })).toBe(2);
  });
});
