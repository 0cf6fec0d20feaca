/** Shared set-up for provider tests: an emulator on port 0 and a provider context configured for it. */
import { Emulator, startEmulator, EmulatorOptions } from "../../emulator";
import { resetPacers } from "../../provider/budget";
import { ProviderContext } from "../../provider/context";

export const TEST_SECRET = "TestSecret-7f3a9c1e5b2d4086";
export const TEST_KEY_ID = "LTAIProviderTest0001";

/** Starts an emulator with known test credentials. */
export function emulator(options: EmulatorOptions = {}): Promise<Emulator> {
  return startEmulator({ credentials: [{ accessKeyId: TEST_KEY_ID, accessKeySecret: TEST_SECRET }], ...options });
}

/** A provider context as the host builds it, with stack config; no environment credentials or region. */
export function context(config: Record<string, string>): ProviderContext {
  resetPacers();
  const ctx = new ProviderContext({});
  ctx.configure((key) => config[key]);
  return ctx;
}

/** Stack config that points at an emulator, with fast retries and polls for tests. */
export function configFor(emu: Emulator, extra: Record<string, string> = {}): Record<string, string> {
  return {
    "alicloud:region": "cn-shanghai",
    "alicloud:accessKey": TEST_KEY_ID,
    "alicloud:secretKey": TEST_SECRET,
    "iotReset:readTimeoutMs": "5000",
    "iotReset:jobPollSeconds": "0.05",
    ...extra,
  };
}

/** The parameters the emulator received for each call of an action, in order. */
export function sent(emu: Emulator, action = "ResetThing"): Array<Record<string, string>> {
  return emu.requests({ action }).map((r) => r.params);
}
