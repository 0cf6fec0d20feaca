// The emulator as a careful gateway: no replay once a nonce would have been forgotten, a log that an
// unauthenticated caller cannot grow, and a warning when it is exposed beyond loopback.
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { startEmulator, type Emulator } from "../../emulator";
import { Authenticator, type IncomingCall } from "../../emulator/auth";
import { GatewayError } from "../../emulator/errors";
import { EMPTY_PAYLOAD_SHA256, signRequest } from "../../emulator/signature";
import { acsDate, forge } from "./helpers";

const KEY = { accessKeyId: "LTAIHygieneTest0001", accessKeySecret: "HygieneSecret-4c1f" };
const SKEW = 15 * 60_000;

/** A signed ResetThing call dated `date`, as the verifier receives it. */
function signedCall(date: number, nonce: string): IncomingCall {
  const headers: Record<string, string> = {
    host: "iot.cn-shanghai.aliyuncs.com",
    "x-acs-action": "ResetThing",
    "x-acs-version": "2018-01-20",
    "x-acs-date": acsDate(date),
    "x-acs-signature-nonce": nonce,
    "x-acs-content-sha256": EMPTY_PAYLOAD_SHA256,
  };
  const query = { ProductKey: "a1DemoProduct", DeviceName: "sensor-001" };
  const signed = signRequest(
    { method: "POST", pathname: "/", query, headers, hashedPayload: EMPTY_PAYLOAD_SHA256 },
    KEY.accessKeyId,
    KEY.accessKeySecret,
  );
  return {
    method: "POST",
    pathname: "/",
    query,
    headers: { ...headers, authorization: signed.authorization },
    body: Buffer.alloc(0),
    params: query,
  };
}

function codeOf(verify: () => unknown): string {
  try {
    verify();
    return "accepted";
  } catch (err) {
    return err instanceof GatewayError ? err.code : String(err);
  }
}

describe("signature nonces outlive the skew window", () => {
  test("a request dated the whole skew ahead cannot be replayed while its date is still accepted", () => {
    const t0 = Date.UTC(2026, 10, 1, 9, 0, 0);
    const auth = new Authenticator([KEY], SKEW, 2 * SKEW);
    const call = signedCall(t0 + SKEW, "future-dated-1");
    expect(codeOf(() => auth.verify(call, t0))).toBe("accepted");
    // Past a nonce memory of one skew (the old default), and the date is still within the skew: refused.
    expect(codeOf(() => auth.verify(call, t0 + SKEW + 1000))).toBe("SignatureNonceUsed");
    expect(codeOf(() => auth.verify(call, t0 + 2 * SKEW))).toBe("SignatureNonceUsed");
    // Once the date is out of the skew the timestamp refuses it, before the nonce is looked at.
    expect(codeOf(() => auth.verify(call, t0 + 2 * SKEW + 1000))).toBe("InvalidTimeStamp.Expired");
  });

  test("through the server: a future-dated request replayed after one skew is refused and resets nothing", async () => {
    const emu = await startEmulator({ credentials: [KEY], clockSkewMs: 3000 });
    try {
      // Dated 1 to 2 s ahead (x-acs-date has whole seconds), replayed 3.1 s later, past a nonce memory of one
      // skew: the date is still within the skew (0.9 s to spare for a slow machine).
      const date = acsDate(Date.now() + 2000);
      expect((await forge(emu, { date, nonce: "replay-after-skew" })).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 3100));
      const replay = await forge(emu, { date, nonce: "replay-after-skew" });
      expect([replay.status, replay.body.Code]).toEqual([400, "SignatureNonceUsed"]);
      expect(emu.resetCount({ productKey: "a1DemoProduct", deviceName: "sensor-001" })).toBe(1);
    } finally {
      await emu.stop();
    }
  });

  test("a nonce memory shorter than twice the skew is refused at start", async () => {
    await expect(startEmulator({ clockSkewMs: 60_000, nonceTtlMs: 60_000 })).rejects.toThrow(
      new RangeError(
        "`nonceTtlMs` must be at least twice `clockSkewMs` (120000 ms), got 60000: a request dated up to clockSkewMs ahead stays acceptable for twice clockSkewMs, and a nonce forgotten sooner could be replayed",
      ),
    );
  });
});

describe("the request log is bounded", () => {
  let emu: Emulator;
  beforeEach(async () => {
    emu = await startEmulator({ credentials: [KEY] });
  });
  afterEach(() => emu.stop());

  test("a refused request leaves no parameter in the log, however large", async () => {
    const body = `ProductKey=a1DemoProduct&DeviceName=${"x".repeat(900_000)}`;
    for (let i = 0; i < 5; i++) {
      const res = await forge(emu, { body, accessKeySecret: "wrong-secret" });
      expect(res.status).toBe(400);
    }
    const log = emu.requests();
    expect(log.map((r) => [r.outcome, r.code, r.params])).toEqual(
      Array.from({ length: 5 }, () => ["auth-error", "SignatureDoesNotMatch", {}]),
    );
    expect(JSON.stringify(log).length).toBeLessThan(2000);
  });

  test("an authenticated request keeps at most 64 parameters, each cut to 1,024 characters", async () => {
    const extra = Array.from({ length: 80 }, (_, i) => `Extra${String(i).padStart(2, "0")}=v`).join("&");
    const body = `ProductKey=a1DemoProduct&DeviceName=sensor-001&Note=${"n".repeat(5000)}&${extra}`;
    const res = await forge(emu, { body, query: {} });
    expect(res.status).toBe(200);
    const [entry] = emu.requests();
    expect(entry?.outcome).toBe("success");
    expect(Object.keys(entry?.params ?? {})).toHaveLength(64);
    expect(entry?.params.DeviceName).toBe("sensor-001");
    expect(entry?.params.Note).toBe(`${"n".repeat(1024)}…[3976 more characters]`);
  });
});

describe("binding beyond loopback warns", () => {
  test("startEmulator warns before binding an address that is not loopback", async () => {
    const warnings: string[] = [];
    // 192.0.2.1 (TEST-NET-1) is on no interface here, so nothing is exposed: the bind fails after the warning.
    const started = await startEmulator({ host: "192.0.2.1", onWarning: (m) => warnings.push(m) }).catch(
      (err: Error) => err,
    );
    if ("stop" in started) await started.stop();
    expect(warnings).toEqual([
      "the IoT emulator binds 192.0.2.1, which is not a loopback address: its test credentials, request log and state are reachable from other hosts. Bind 127.0.0.1 unless that is what you want.",
    ]);
  });

  test("loopback addresses bind without a warning", async () => {
    const warnings: string[] = [];
    for (const host of ["127.0.0.1", "localhost"]) {
      const emu = await startEmulator({ host, onWarning: (m) => warnings.push(m) });
      await emu.stop();
    }
    expect(warnings).toEqual([]);
  });

  test("the CLI prints the warning with --json too", () => {
    const cli = path.join(__dirname, "..", "..", "lib", "emulator", "cli.js");
    const result = spawnSync(process.execPath, [cli, "--host", "192.0.2.1", "--port", "0", "--json"], {
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(result.stderr.split("\n")[0]).toBe(
      "iot-emulator: WARNING: the IoT emulator binds 192.0.2.1, which is not a loopback address: its test credentials, request log and state are reachable from other hosts. Bind 127.0.0.1 unless that is what you want.",
    );
    expect(result.status).toBe(1);
  });
});
