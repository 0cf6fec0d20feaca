// Each failure kind produced by a real local socket and met by the real SDK through the provider's client:
// not applied (retried), answered (retried, or final for Success: false), unknown outcome (never resent).
import * as net from "node:net";
import { Emulator } from "../../emulator";
import { IotApi } from "../../provider/host/iot-api";
import {
  IotApiError,
  RetriesExhaustedError,
  SendingStoppedError,
  UnknownOutcomeError,
} from "../../provider/shared/errors";
import { configFor, context, directApi, emulator, fakeServer } from "./support";

const pair = { productKey: "a1DemoProduct", deviceName: "sensor-001" };
const URL_TAIL = "POST"; // the SDK's transport appends "POST <url> failed." to Node's messages; the provider drops it

let emu: Emulator;
beforeEach(async () => {
  emu = await emulator();
});
afterEach(() => emu.stop());

/** The provider's client for an endpoint, with a short read timeout and few fast retries. */
function client(endpoint: string, extra: Record<string, string> = {}): IotApi {
  const ctx = context(configFor(emu, { "iotReset:readTimeoutMs": "300", "iotReset:maxAttempts": "3", ...extra }));
  return ctx.api({ endpoint });
}

describe("not applied: refused before the service acted, retried", () => {
  test("connection refused: nothing was written, every attempt is retried until the bound", async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const { port } = closed.address() as net.AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const error = await client(`http://127.0.0.1:${port}`)
      .resetThing(pair)
      .catch((e) => e);
    expect(error).toBeInstanceOf(RetriesExhaustedError);
    expect(error.attempts).toBe(3);
    expect(error.lastFailure).toBe(`ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:${port}`);
  });

  test("Throttling.User from the account quota: retried, nothing reset", async () => {
    emu.setQuota("ResetThing", 0);
    const error = await client(emu.endpoint)
      .resetThing(pair)
      .catch((e) => e);
    expect(error).toBeInstanceOf(RetriesExhaustedError);
    expect(emu.requests({ action: "ResetThing" }).map((r) => r.code)).toEqual([
      "Throttling.User",
      "Throttling.User",
      "Throttling.User",
    ]);
    expect(emu.resetCount(pair)).toBe(0);
  });

  test("the time a call waits for its turn at the pacer is not retry time: throttled after a long wait, it is retried", async () => {
    // At 2 calls a second, the sixth of six calls leaves after about 2.5 s at the pacer, past a 1 s retry budget: the
    // budget counts from its first attempt (a cohort batch's call can wait minutes behind earlier batches at the quota).
    let n = 0;
    const server = await fakeServer((_req, res) => {
      n++;
      if (n === 6) {
        res.writeHead(400, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            Code: "Throttling.User",
            Message: "Request was denied due to user flow control.",
            RequestId: "T6",
          }),
        );
      } else {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ RequestId: `R${n}`, Success: true }));
      }
    });
    try {
      const api = client(server.endpoint, { "iotReset:resetQps": "2", "iotReset:maxRetrySeconds": "1" });
      const devices = Array.from({ length: 6 }, (_, i) => ({ productKey: "a1DemoProduct", deviceName: `s-${i}` }));
      const started = Date.now();
      const answers = await Promise.all(
        devices.map((d) =>
          api.resetThing(d).then(
            (b) => b.requestId,
            (e: Error) => e.message,
          ),
        ),
      );
      expect(Date.now() - started).toBeGreaterThan(2000);
      expect(answers.sort()).toEqual(["R1", "R2", "R3", "R4", "R5", "R7"]);
      expect(server.count()).toBe(7);
    } finally {
      await server.close();
    }
  });

  test("a signature error (HTTP 400 JSON) is final: one call, an error naming the Code", async () => {
    const ctx = context(configFor(emu, { "alicloud:secretKey": "wrong-secret" }));
    const error = await ctx
      .api({ endpoint: emu.endpoint })
      .resetThing(pair)
      .catch((e) => e);
    expect(error).toBeInstanceOf(IotApiError);
    expect(error.code).toBe("SignatureDoesNotMatch");
    expect(emu.requests()).toHaveLength(1);
  });

  test("the stop switch: no attempt leaves once sending is stopped", async () => {
    const ctx = context(configFor(emu));
    ctx.stopSending("the engine is gone");
    const error = await ctx
      .api({ endpoint: emu.endpoint })
      .resetThing(pair)
      .catch((e) => e);
    expect(error).toBeInstanceOf(SendingStoppedError);
    expect(error.message).toBe("sending stopped: the engine is gone");
    expect(emu.requests()).toHaveLength(0);
  });
});

describe("answered: the service answered with an error", () => {
  test("503 ServiceUnavailable (JSON) is retried; the reset then succeeds once", async () => {
    emu.scriptFaults("ResetThing", "serverError", 1);
    const result = await client(emu.endpoint).resetThing(pair);
    expect(emu.requests({ action: "ResetThing" }).map((r) => r.outcome)).toEqual(["fault", "success"]);
    expect(result.requestId).toBe(emu.requests()[1]?.requestId);
    expect(emu.resetCount(pair)).toBe(1);
  });

  test("Success: false is final: one call", async () => {
    const error = await client(emu.endpoint)
      .resetThing({ productKey: "a1DemoProduct", deviceName: "ghost-001" })
      .catch((e) => e);
    expect(error).toBeInstanceOf(IotApiError);
    expect(error.code).toBe("iot.device.NotExistedDevice");
    expect(emu.requests()).toHaveLength(1);
  });
});

describe("unknown outcome: written, no usable answer, never resent", () => {
  test.each([
    ["applyThenDrop", 1, "ECONNRESET: socket hang up"],
    ["drop", 0, "ECONNRESET: socket hang up"],
    ["applyThenHang", 1, "RequestTimeoutError: ReadTimeout(300)"],
    ["timeout", 0, "RequestTimeoutError: ReadTimeout(300)"],
    ["badGateway", 0, "a response that is not JSON (a gateway or load-balancer error page)"],
  ] as const)("%s: one call, UnknownOutcomeError (applied %i time)", async (fault, applied, failure) => {
    emu.scriptFaults("ResetThing", fault, 1);
    const error = await client(emu.endpoint)
      .resetThing(pair)
      .catch((e) => e);
    expect(error).toBeInstanceOf(UnknownOutcomeError);
    expect(emu.requests({ action: "ResetThing" })).toHaveLength(1);
    expect(emu.resetCount(pair)).toBe(applied);
    expect(error.attempt).toBe(1);
    expect(error.failure).toBe(failure);
    expect(error.message).toBe(
      `ResetThing for device "a1DemoProduct/sensor-001" has an unknown outcome: attempt 1, sent at ${error.sentAt}, got ` +
        `no answer (${error.failure}). IoT Platform may have reset the device, so it is not sent again.`,
    );
    expect(error.failure).not.toContain(URL_TAIL);
  });

  test("a 504 HTML page from a proxy: unknown, one call", async () => {
    const proxy = await fakeServer((_req, res) => {
      res.writeHead(504, { "content-type": "text/html" });
      res.end("<html><body>504 Gateway Time-out</body></html>");
    });
    try {
      const error = await client(proxy.endpoint)
        .resetThing(pair)
        .catch((e) => e);
      expect(error).toBeInstanceOf(UnknownOutcomeError);
      expect(error.failure).toBe("a response that is not JSON (a gateway or load-balancer error page)");
      expect(proxy.count()).toBe(1);
    } finally {
      await proxy.close();
    }
  });

  test("the connection closed in the middle of the answer: unknown, one call", async () => {
    const server = await fakeServer((req, res) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": "200" });
      res.write('{"RequestId":"R1","Succ');
      setTimeout(() => req.socket.destroy(), 20);
    });
    try {
      const error = await client(server.endpoint)
        .resetThing(pair)
        .catch((e) => e);
      expect(error).toBeInstanceOf(UnknownOutcomeError);
      expect(error.failure).toBe("ECONNRESET: aborted");
      expect(server.count()).toBe(1);
    } finally {
      await server.close();
    }
  });

  test('the SDK\'s "ConnectTimeout" that fires after the request was written is an unknown outcome', async () => {
    // The SDK's connect timeout is a socket idle timer: shorter than the read timeout, it fires on a written request.
    const server = await fakeServer(() => undefined);
    try {
      const api = directApi(server.endpoint, { settings: { readTimeoutMs: 2000, connectTimeoutMs: 200 } });
      const error = await api.resetThing(pair).catch((e) => e);
      expect(error).toBeInstanceOf(UnknownOutcomeError);
      expect(error.failure).toBe("RequestTimeoutError: ConnectTimeout (the SDK's socket idle timeout)");
      expect(server.count()).toBe(1);
    } finally {
      await server.close();
    }
  });

  test("QueryJob only reads: an unknown outcome there is retried", async () => {
    const api = client(emu.endpoint);
    const { jobId } = await api.resetThing({ productKey: "a1DemoProduct", deviceName: "gateway-01" });
    emu.scriptFaults("QueryJob", "drop", 1);
    const status = await api.queryJob(jobId as string, pair);
    expect(status.status).toBe("IN_PROGRESS");
    expect(emu.requests({ action: "QueryJob" }).map((r) => r.outcome)).toEqual(["fault", "success"]);
  });
});
