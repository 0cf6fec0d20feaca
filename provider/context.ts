/**
 * What one provider process holds across resources: the stack's settings, the credential built from them,
 * and one API client per target. Created once per process by the host entry point.
 */
import type Credential from "@alicloud/credentials";
import { IotApi } from "./api";
import type { CheckFailure } from "./inputs";
import {
  buildCredential,
  credentialSourceProblem,
  environmentRegion,
  NO_REGION,
  ProviderSettings,
  readSettings,
  resolveTarget,
} from "./settings";

/** The provider process's state. */
export class ProviderContext {
  private current: ProviderSettings;
  /** Why the stack config was refused; every later call fails with it rather than run on defaults. */
  private configError: Error | undefined;
  private credential: Credential | undefined;
  /** Why no credential can exist, computed once per configure; null when one may. */
  private credentialProblem: string | null | undefined;
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
    this.credentialProblem = undefined;
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

  /**
   * What a resource's calls would lack, found without any network call: no region from its args, stack config or
   * the environment, or no possible source of credentials. `check` reports these, so that a preview fails where
   * `up` would, before anything is sent.
   */
  preflight(args: { region?: unknown; endpoint?: unknown }): CheckFailure[] {
    const failures: CheckFailure[] = [];
    let settings: ProviderSettings;
    try {
      settings = this.settings;
    } catch (err) {
      return [{ property: "", reason: (err as Error).message }];
    }
    if (args.region === undefined && settings.region === undefined) {
      try {
        if (environmentRegion(this.env) === undefined) failures.push({ property: "region", reason: NO_REGION });
      } catch (err) {
        failures.push({ property: "region", reason: (err as Error).message });
      }
    }
    this.credentialProblem ??= credentialSourceProblem(settings, this.env) ?? null;
    if (this.credentialProblem !== null) failures.push({ property: "", reason: this.credentialProblem });
    return failures;
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
