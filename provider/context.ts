/**
 * What one provider process holds across resources: the stack's settings, the credential built from them,
 * and one API client per target. Created once per process by the host entry point.
 */
import type Credential from "@alicloud/credentials";
import { IotApi } from "./api";
import { buildCredential, ProviderSettings, readSettings, resolveTarget } from "./settings";

/** The provider process's state. */
export class ProviderContext {
  private current: ProviderSettings;
  /** Why the stack config was refused; every later call fails with it rather than run on defaults. */
  private configError: Error | undefined;
  private credential: Credential | undefined;
  private readonly apis = new Map<string, IotApi>();

  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {
    this.current = readSettings(() => undefined);
  }

  /** The settings in force; throws when the stack config was refused, so nothing runs on defaults. */
  get settings(): ProviderSettings {
    if (this.configError) throw this.configError;
    return this.current;
  }

  /** Takes the stack config (called once by the host's `configure`, before any resource operation). */
  configure(get: (key: string) => string | undefined): void {
    this.credential = undefined;
    this.apis.clear();
    try {
      this.current = readSettings(get);
      this.configError = undefined;
    } catch (err) {
      // The host caches the provider before configure finishes, so remember the refusal for every call.
      this.configError = err as Error;
      throw err;
    }
  }

  /** The client for one resource's region and endpoint; throws a ConfigurationError naming what is missing. */
  api(args: { region?: string; endpoint?: string }): IotApi {
    if (this.configError) throw this.configError;
    const target = resolveTarget(args, this.current, this.env);
    const key = `${target.protocol}://${target.endpoint}|${target.region}`;
    let api = this.apis.get(key);
    if (!api) {
      this.credential ??= buildCredential(this.current, this.env);
      api = new IotApi(target, this.credential, this.current);
      this.apis.set(key, api);
    }
    return api;
  }
}
