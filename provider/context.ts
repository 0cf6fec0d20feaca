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
  private credential: Credential | undefined;
  private readonly apis = new Map<string, IotApi>();

  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {
    this.current = readSettings(() => undefined);
  }

  /** The settings in force. */
  get settings(): ProviderSettings {
    return this.current;
  }

  /** Takes the stack config (called once by the host's `configure`, before any resource operation). */
  configure(get: (key: string) => string | undefined): void {
    this.current = readSettings(get);
    this.credential = undefined;
    this.apis.clear();
  }

  /** The client for one resource's region and endpoint; throws a ConfigurationError naming what is missing. */
  api(args: { region?: string; endpoint?: string }): IotApi {
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
