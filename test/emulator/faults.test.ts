// Injected faults: each kind as the SDK experiences it, every kind of the fault table answering as its entry says,
// scripted one-off faults, seeded replay, the guarantee that a ResetThing under a replacing fault changed nothing,
// and that the apply-then faults did reset the device.
import { ResetThingRequest } from "@alicloud/iot20180120";
import { startEmulator, type Emulator } from "../../emulator";
import {
  appliesOperation,
  FAULT_KINDS,
  FAULTS,
  FaultInjector,
  type FaultKind,
  type FaultSpec,
} from "../../emulator/faults";
import { sdkClient, sdkError } from "./helpers";

const req = (deviceName = "sensor-001") => new ResetThingRequest({ productKey: "a1DemoProduct", deviceName });
const ref = { productKey: "a1DemoProduct", deviceName: "sensor-001" };

describe("scripted faults", () => {
  let emu: Emulator;
  beforeEach(async () => {
    emu = await startEmulator();
  });
  afterEach(async () => {
    await emu.stop();
  });

  test("throttle: the next 2 ResetThing calls get 400 Throttling, the third succeeds", async () => {
    emu.scriptFaults("ResetThing", "throttle", 2);
    const client = sdkClient(emu);
    for (let i = 0; i < 2; i++) {
      const err = await sdkError(client.resetThing(req()));
      expect([err.statusCode, err.code, err.data.Message]).toEqual([
        400,
        "Throttling",
        "Request was denied due to request throttling.",
      ]);
    }
    expect(emu.resetCount(ref)).toBe(0);
    expect(emu.device(ref)?.registered).toBe(true);
    expect((await client.resetThing(req())).body?.success).toBe(true);
    expect(emu.resetCount(ref)).toBe(1);
    expect(emu.requests().map((r) => [r.outcome, r.fault ?? null, r.httpStatus, r.code ?? null])).toEqual([
      ["fault", "throttle", 400, "Throttling"],
      ["fault", "throttle", 400, "Throttling"],
      ["success", null, 200, null],
    ]);
  });

  test("serverError: 503 ServiceUnavailable with a JSON body, nothing reset", async () => {
    emu.scriptFaults("ResetThing", "serverError", 1);
    const err = await sdkError(sdkClient(emu).resetThing(req()));
    expect([err.statusCode, err.code, err.data.Message]).toEqual([
      503,
      "ServiceUnavailable",
      "The request has failed due to a temporary failure of the server.",
    ]);
    expect(emu.resetCount(ref)).toBe(0);
  });

  test("badGateway: a 502 HTML page makes the SDK throw a bare SyntaxError", async () => {
    emu.scriptFaults("ResetThing", "badGateway", 1);
    const err = (await sdkError(sdkClient(emu).resetThing(req()))) as unknown as Error;
    expect(err).toBeInstanceOf(SyntaxError);
    expect(emu.requests()[0]).toMatchObject({ outcome: "fault", fault: "badGateway", httpStatus: 502 });
    expect(emu.resetCount(ref)).toBe(0);
  });

  test("drop: the connection is destroyed without a response", async () => {
    emu.scriptFaults("ResetThing", "drop", 1);
    const err = (await sdkError(sdkClient(emu).resetThing(req()))) as unknown as { code: string; message: string };
    expect(err.code).toBe("ECONNRESET");
    expect(err.message).toBe(
      `socket hang upPOST ${emu.endpoint}/?DeviceName=sensor-001&ProductKey=a1DemoProduct failed.`,
    );
    expect(emu.requests()[0]).toMatchObject({ outcome: "fault", fault: "drop", httpStatus: 0 });
    expect(emu.resetCount(ref)).toBe(0);
  });

  test("timeout: the request is never answered; the SDK's read timeout fires", async () => {
    emu.scriptFaults("ResetThing", "timeout", 1);
    const err = (await sdkError(sdkClient(emu, { readTimeout: 200 }).resetThing(req()))) as unknown as {
      name: string;
      message: string;
    };
    expect(err.name).toBe("RequestTimeoutError");
    expect(err.message).toBe(
      `ReadTimeout(200). POST ${emu.endpoint}/?DeviceName=sensor-001&ProductKey=a1DemoProduct failed.`,
    );
    expect(emu.requests()[0]).toMatchObject({ outcome: "fault", fault: "timeout", httpStatus: 0 });
    expect(emu.resetCount(ref)).toBe(0);
  });

  test("applyThenDrop: the device IS reset, then the connection is destroyed without a response", async () => {
    emu.scriptFaults("ResetThing", "applyThenDrop", 1);
    const err = (await sdkError(sdkClient(emu).resetThing(req()))) as unknown as { code: string; message: string };
    expect(err.code).toBe("ECONNRESET");
    expect(err.message).toBe(
      `socket hang upPOST ${emu.endpoint}/?DeviceName=sensor-001&ProductKey=a1DemoProduct failed.`,
    );
    expect(emu.requests()[0]).toMatchObject({ outcome: "fault", fault: "applyThenDrop", httpStatus: 0, applied: true });
    expect(emu.resetCount(ref)).toBe(1);
    expect(emu.totalResets()).toBe(1);
  });

  test("applyThenHang: the device IS reset, then the request is never answered", async () => {
    emu.scriptFaults("ResetThing", "applyThenHang", 1);
    const err = (await sdkError(sdkClient(emu, { readTimeout: 200 }).resetThing(req()))) as unknown as {
      name: string;
      message: string;
    };
    expect(err.name).toBe("RequestTimeoutError");
    expect(err.message).toBe(
      `ReadTimeout(200). POST ${emu.endpoint}/?DeviceName=sensor-001&ProductKey=a1DemoProduct failed.`,
    );
    expect(emu.requests()[0]).toMatchObject({ outcome: "fault", fault: "applyThenHang", httpStatus: 0, applied: true });
    expect(emu.resetCount(ref)).toBe(1);
  });

  test("an apply-then fault on a call that fails changes nothing and records the business Code", async () => {
    emu.scriptFaults("ResetThing", "applyThenDrop", 1);
    await sdkError(sdkClient(emu).resetThing(req("ghost-001")));
    expect(emu.requests()[0]).toMatchObject({
      outcome: "fault",
      fault: "applyThenDrop",
      applied: false,
      code: "iot.device.NotExistedDevice",
    });
    expect(emu.totalResets()).toBe(0);
  });

  test("a held timeout socket does not keep stop() waiting", async () => {
    emu.scriptFaults("*", "timeout", 1);
    const pending = sdkClient(emu, { readTimeout: 60_000 })
      .resetThing(req())
      .then(
        () => "answered",
        (e: { code?: string }) => e.code,
      );
    while (emu.requests().length === 0) await new Promise((r) => setTimeout(r, 5));
    await emu.stop();
    // The client sees its connection reset by the stopping server rather than waiting out its timeout.
    expect(await pending).toBe("ECONNRESET");
  });

  test("scripts are per action: a QueryDeviceDetail call does not consume a ResetThing script", async () => {
    emu.scriptFaults("ResetThing", "serverError", 1);
    const client = sdkClient(emu);
    const detail = await client.queryDeviceDetail({ productKey: "a1DemoProduct", deviceName: "sensor-001" } as never);
    expect(detail.body?.success).toBe(true);
    expect((await sdkError(client.resetThing(req()))).code).toBe("ServiceUnavailable");
  });
});

describe("every kind of the fault table", () => {
  /** The HTTP status and Code that a scripted call under `kind` is answered, as its FAULTS entry says. */
  function promised(kind: FaultKind): { httpStatus: number; code?: string } {
    const { answer }: FaultSpec = FAULTS[kind];
    switch (answer.send) {
      case "gatewayError": {
        const err = answer.errors[answer.errors.length - 1]!();
        return { httpStatus: err.status, code: err.code };
      }
      case "html":
        return { httpStatus: answer.status };
      case "reset":
      case "silence":
        return { httpStatus: 0 };
    }
  }

  test.each(FAULT_KINDS)(
    "%s answers as its entry says and resets the device only if the entry applies it",
    async (kind) => {
      const applies = appliesOperation(kind);
      const emu = await startEmulator();
      try {
        emu.scriptFaults("ResetThing", kind, 1);
        // A kind that never answers costs the test only this read timeout; one that hangs the server fails it.
        await sdkClient(emu, { readTimeout: 200 })
          .resetThing(req())
          .catch(() => undefined);
        const logged = emu.requests().map(({ outcome, fault, httpStatus, code, applied }) => ({
          outcome,
          fault,
          httpStatus,
          code,
          applied,
        }));
        expect(logged).toEqual([{ outcome: "fault", fault: kind, ...promised(kind), applied: applies || undefined }]);
        expect(emu.resetCount(ref)).toBe(applies ? 1 : 0);
      } finally {
        await emu.stop();
      }
    },
  );
});

describe("random faults and latency", () => {
  test("a seed draws the same kinds as before: the kinds keep their order on the unit interval", () => {
    const rates = Object.fromEntries(FAULT_KINDS.slice(0, 7).map((kind) => [kind, 0.1]));
    const injector = new FaultInjector({ seed: 7, ...rates });
    const draws = Array.from({ length: 24 }, () => {
      const d = injector.decide("ResetThing");
      return d ? `${d.kind}/${d.variant}` : "none";
    });
    // Recorded before the fault table existed; a kind appended to the table (rate 0 here) changes none of it.
    expect(draws).toEqual([
      "serverError/0",
      "serverError/1",
      "none",
      "applyThenHang/0",
      "applyThenDrop/0",
      "badGateway/0",
      "badGateway/0",
      "drop/0",
      "applyThenDrop/0",
      "none",
      "drop/0",
      "throttle/0",
      "none",
      "applyThenDrop/0",
      "throttle/0",
      "timeout/0",
      "drop/0",
      "applyThenDrop/0",
      "drop/0",
      "none",
      "drop/0",
      "none",
      "throttle/0",
      "throttle/0",
    ]);
  });

  async function runSeeded(seed: number): Promise<string[]> {
    const emu = await startEmulator({ faults: { seed, serverError: 0.2, throttle: 0.2, badGateway: 0.1, drop: 0.1 } });
    try {
      const client = sdkClient(emu);
      // Sequential on purpose: the same seed gives the same faults for the same order of requests.
      for (let i = 0; i < 40; i++) await client.resetThing(req(`sensor-00${(i % 8) + 1}`)).catch(() => undefined);
      return emu.requests().map((r) => `${r.outcome}:${r.fault ?? ""}:${r.code ?? ""}`);
    } finally {
      await emu.stop();
    }
  }

  test("the same seed replays the same faults; another seed gives another sequence", async () => {
    const a = await runSeeded(42);
    const b = await runSeeded(42);
    const c = await runSeeded(7);
    expect(a).toHaveLength(40);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
    expect(new Set(a.map((s) => s.split(":")[0]))).toEqual(new Set(["success", "fault"]));
    expect(
      a.some((s) => s === "fault:serverError:InternalError") ||
        a.some((s) => s === "fault:serverError:ServiceUnavailable"),
    ).toBe(true);
  });

  test("seeded apply-then faults reset the device once per faulted call, and replay with the seed", async () => {
    async function run(): Promise<{ log: string[]; resets: number }> {
      const emu = await startEmulator({ faults: { seed: 11, applyThenDrop: 0.3, applyThenHang: 0.2 } });
      try {
        const client = sdkClient(emu, { readTimeout: 100 });
        for (let i = 0; i < 20; i++) await client.resetThing(req(`sensor-00${(i % 8) + 1}`)).catch(() => undefined);
        return {
          log: emu.requests().map((r) => `${r.outcome}:${r.fault ?? ""}:${r.applied ?? ""}`),
          resets: emu.totalResets(),
        };
      } finally {
        await emu.stop();
      }
    }
    const a = await run();
    expect(await run()).toEqual(a);
    // Every call is applied: the answered ones and the faulted ones alike.
    expect(a.resets).toBe(20);
    expect(a.log.filter((l) => l === "fault:applyThenDrop:true").length).toBeGreaterThan(0);
    expect(a.log.filter((l) => l === "fault:applyThenHang:true").length).toBeGreaterThan(0);
    expect(a.log.every((l) => l === "success::" || l.endsWith(":true"))).toBe(true);
  });

  test("faults.actions limits random faults to the listed actions; faulted resets change nothing", async () => {
    const emu = await startEmulator({ faults: { seed: 3, serverError: 1, actions: ["ResetThing"] } });
    try {
      const client = sdkClient(emu);
      expect(
        (await client.queryDeviceDetail({ productKey: "a1DemoProduct", deviceName: "sensor-001" } as never)).body
          ?.success,
      ).toBe(true);
      const err = await sdkError(client.resetThing(req()));
      expect(["InternalError", "ServiceUnavailable"]).toContain(err.code);
      expect(emu.totalResets()).toBe(0);
      expect(emu.device(ref)?.registered).toBe(true);
    } finally {
      await emu.stop();
    }
  });

  test("latency delays every answer by the fixed amount", async () => {
    const emu = await startEmulator({ latency: { fixedMs: 150 } });
    try {
      const started = Date.now();
      await sdkClient(emu).resetThing(req());
      expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    } finally {
      await emu.stop();
    }
  });
});
