/**
 * What one provider process holds across resources: the stack's settings, the credential built from them,
 * one API client per target, the switch that stops sending, the reset journal, the guardrails' counts, and the
 * resource operations under way. The engine starts a provider process for each update, so this is the update's
 * state, all of it: the host entry point creates one and keeps nothing else.
 */
import * as path from "node:path";
import type Credential from "@alicloud/credentials";
import { IotApi, SendGate } from "./iot-api";
import { Underway } from "./underway";
import { Pacers } from "./pacer";
import { GuardClock, systemClock, UpdateGuard } from "./update-guard";
import { ConfigurationError } from "../shared/errors";
import type { CheckFailure } from "../shared/inputs";
import { defaultJournalPath, Journal, JournalIdentity } from "./journal";
import { openJournal } from "./journal-file";
import type { BucketLocation } from "./journal-location";
import { openObjectJournal, type ObjectBucket } from "./journal-objects";
import { s3Bucket } from "./journal-s3";
import { ossBucket } from "./journal-oss";
import {
  buildCredential,
  credentialSourceProblem,
  environmentRegion,
  NO_REGION,
  ProviderSettings,
  readSettings,
  resolveTarget,
  targetKey,
} from "./settings";

/** The project and stack of the update, as the program saw them (passed through the serialized provider). */
export interface StackIdentity {
  readonly project?: string;
  readonly stack?: string;
}

/** The provider process's state. */
export class ProviderContext {
  private current: ProviderSettings;
  /** Why the stack config was refused; every later call fails with it rather than run on defaults. */
  private configError: Error | undefined;
  private credential: Credential | undefined;
  /** Why no credential can exist, computed once per configure; null when one may. */
  private credentialProblem: string | null | undefined;
  private readonly apis = new Map<string, IotApi>();
  private identity: StackIdentity = {};
  private opened: Journal | undefined;
  /** The journal being opened: every resource of the update waits for the same opening. */
  private opening: Promise<Journal | undefined> | undefined;
  /** Stops every call not yet sent; the host flips it when the engine is gone or the update is cancelled. */
  readonly gate = new SendGate();
  /** The pacer of each API action, shared by every resource of the update: the quotas are per account. */
  readonly pacers = new Pacers();
  /** The guardrails of the update, counted across every batch the process serves. */
  readonly guard: UpdateGuard;
  /**
   * Batches started so far: each batch's calls are ranked by its start at the shared pacers, so the batches under
   * way end one after another instead of together (see `Pacer`).
   */
  private batchesStarted = 0;
  /** Resource operations under way: an interrupted process ends once none is left. */
  private readonly operations = new Underway();
  /** Interruptions received (the engine's SIGINT, or a supervisor's). */
  private interrupts = 0;

  constructor(
    private readonly env: NodeJS.ProcessEnv = process.env,
    /** Where the program runs: the default journal lives here (the engine starts the provider in it). */
    private readonly programDir: string = process.cwd(),
    /** The guard's clock: the system clock in the provider, a fake one in tests. */
    clock: GuardClock = systemClock,
  ) {
    this.guard = new UpdateGuard(clock);
    this.current = readSettings(() => undefined);
  }

  /** The settings in force; throws when the stack config was refused, so nothing runs on defaults. */
  get settings(): ProviderSettings {
    if (this.configError) throw this.configError;
    return this.current;
  }

  /**
   * Takes the stack config (called once by the host's `configure`, before any resource operation) and the
   * program's project and stack names when the serialized provider carries them.
   */
  configure(get: (key: string) => string | undefined, identity: StackIdentity = {}): void {
    this.credential = undefined;
    this.credentialProblem = undefined;
    this.apis.clear();
    this.identity = identity;
    this.opened = undefined;
    this.opening = undefined;
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

  /** The rank of a batch that starts now among the batches of the update: earlier batches are served first. */
  nextBatchOrder(): number {
    return this.batchesStarted++;
  }

  /** Stops every further call before it is sent; calls already sent finish and are recorded. */
  stopSending(reason: string): void {
    this.gate.stop(reason);
  }

  /** Runs one resource operation, counted while it runs, so that an interrupted process waits for it. */
  operation<R>(run: () => Promise<R>): Promise<R> {
    return this.operations.run(run);
  }

  /**
   * An interruption: the first stops sending at once and runs `whenIdle` as soon as no operation is under way (now,
   * if none is). Returns how many interruptions there have been, this one included.
   */
  interrupt(reason: string, whenIdle: () => void): number {
    if (++this.interrupts === 1) {
      this.stopSending(reason);
      void this.operations.idle().then(whenIdle);
    }
    return this.interrupts;
  }

  /**
   * Resolves once every attempt underway has its answer, or has been kept from leaving, what was recorded of them
   * is durable, and the journal is released for the next update: wait for it after `stopSending` before the
   * process exits, so no journaled reset is left without the line that says how it ended.
   */
  async settle(): Promise<void> {
    // Idle once every journaled reset has appended its outcome line (SendGate.hold); closing writes those lines.
    await this.gate.idle();
    const journal = await this.opening?.catch(() => undefined);
    await journal?.close();
  }

  /** The client for one resource's region and endpoint; throws a ConfigurationError naming what is missing. */
  api(args: { region?: string; endpoint?: string }): IotApi {
    if (this.configError) throw this.configError;
    const target = resolveTarget(args, this.current, this.env);
    const key = `${target.protocol}://${target.endpoint}|${target.region}`;
    let api = this.apis.get(key);
    if (!api) {
      this.credential ??= buildCredential(this.current, this.env);
      api = new IotApi(target, this.credential, this.current, this.gate, this.pacers);
      this.apis.set(key, api);
    }
    return api;
  }

  /** Where one resource's calls go, as a comparable string (part of a journal scope). */
  targetOf(args: { region?: string; endpoint?: string }): string {
    if (this.configError) throw this.configError;
    return targetKey(resolveTarget(args, this.current, this.env));
  }

  /** The project and stack the journal belongs to; throws when they are not known. */
  private journalIdentity(): JournalIdentity {
    const project = this.identity.project || this.env.PULUMI_PROJECT || this.env.PULUMI_NODEJS_PROJECT;
    const stack = this.identity.stack || this.env.PULUMI_NODEJS_STACK;
    if (!project || !stack) {
      throw new ConfigurationError(
        "The reset journal needs the Pulumi project and stack names, and this provider did not receive them " +
          "(a program built with an older pulumi-alicloud-iot-reset?). Run the update with this version's program.",
      );
    }
    return { project, stack };
  }

  /**
   * The reset journal of this stack, opened on first use (creates and updates only; previews never touch it);
   * undefined when `iotReset:journal` is `off`. Rejects with a JournalError for a corrupt, foreign or busy journal,
   * and keeps rejecting for the rest of the update: no resource sends with a journal another update holds.
   */
  journal(): Promise<Journal | undefined> {
    if (this.opened?.isOpen) return Promise.resolve(this.opened);
    if (this.opening === undefined || this.opened !== undefined) {
      this.opening = this.openStackJournal().then((journal) => {
        this.opened = journal;
        return journal;
      });
    }
    return this.opening;
  }

  private async openStackJournal(): Promise<Journal | undefined> {
    const location = this.settings.journal;
    if (location.kind === "off") return undefined;
    const identity = this.journalIdentity();
    if (location.kind === "file") {
      const file =
        location.path === undefined
          ? defaultJournalPath(this.programDir, identity)
          : path.resolve(this.programDir, location.path);
      return openJournal(file, identity);
    }
    return openObjectJournal(this.bucket(location), location, identity);
  }

  /** The client of the journal's bucket: S3 with AWS's credential chain, OSS with this provider's Alibaba one. */
  private bucket(location: BucketLocation): ObjectBucket {
    if (location.kind === "s3") return s3Bucket(location, this.env);
    return ossBucket(location, async () => {
      this.credential ??= buildCredential(this.current, this.env);
      const c = await this.credential.getCredential();
      return {
        accessKeyId: c.accessKeyId ?? "",
        accessKeySecret: c.accessKeySecret ?? "",
        ...(c.securityToken ? { securityToken: c.securityToken } : {}),
      };
    });
  }

  /** The journal if it is already open (for tests and the host); never opens it. */
  get openJournal(): Journal | undefined {
    return this.opened;
  }
}
