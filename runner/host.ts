import { ChildProcess, spawn } from "child_process";
import * as readline from "readline";

import * as grpc from "@grpc/grpc-js";
import * as structproto from "google-protobuf/google/protobuf/struct_pb";
import * as provrpc from "@pulumi/pulumi/proto/provider_grpc_pb";
import * as provproto from "@pulumi/pulumi/proto/provider_pb";
import * as statusproto from "@pulumi/pulumi/proto/status_pb";

import type { Props } from "./wire";

/** What a Create (or Update) reported as "created but failed to initialize". */
export interface InitFailure {
  /** Id of the resource that exists despite the failure. */
  readonly id: string;
  /** Partial outputs the provider returned. */
  readonly properties: Props;
  /** Reasons the provider gave (may be empty). */
  readonly reasons: string[];
}

/** An error returned by a provider RPC, with the init-failure detail when the host packed one. */
export class ProviderError extends Error {
  /** Set when the resource was created but failed to initialize (ErrorResourceInitFailed). */
  readonly initFailure?: InitFailure;

  /** Wraps a provider failure `message`, with its init-failure detail if any. */
  constructor(message: string, initFailure?: InitFailure) {
    super(message);
    this.name = "ProviderError";
    if (initFailure) this.initFailure = initFailure;
  }
}

/** Identity of the resource an RPC is about; the engine sends it with every call. */
export interface ResourceRef {
  /** URN of the resource. */
  readonly urn: string;
  /** Logical name. */
  readonly name: string;
  /** Type token. */
  readonly type: string;
}

/** Result of Check. */
export interface CheckResult {
  /** Inputs after the provider's check (defaults applied). */
  readonly inputs: Props;
  /** Validation failures; empty when the inputs are valid. */
  readonly failures: Array<{ property: string; reason: string }>;
}

/** Result of Diff. */
export interface DiffResult {
  /** `unknown` when the provider has no diff (or did not say), else whether anything changed. */
  readonly changes: "unknown" | "none" | "some";
  /** Properties whose change forces a replacement. */
  readonly replaces: string[];
  /** True when the provider asks for the old resource to go before the new one is created. */
  readonly deleteBeforeReplace: boolean;
}

/** How long to wait for the host to print its port before giving up. */
const HOST_START_TIMEOUT_MS = 30_000;
/** How long to wait for the host to exit on shutdown before killing it. */
const HOST_STOP_TIMEOUT_MS = 5_000;

function toStruct(p: Props): structproto.Struct {
  return structproto.Struct.fromJavaScript(p as Record<string, structproto.JavaScriptValue>);
}

function fromStruct(s: structproto.Struct | undefined): Props {
  return (s?.toJavaScript() ?? {}) as Props;
}

/** Reads the ErrorResourceInitFailed detail the host puts in `grpc-status-details-bin`. */
function initFailureOf(err: grpc.ServiceError): InitFailure | undefined {
  const raw = err.metadata?.get("grpc-status-details-bin")[0];
  if (raw === undefined || typeof raw === "string") return undefined;
  const status = statusproto.Status.deserializeBinary(new Uint8Array(raw));
  for (const any of status.getDetailsList()) {
    if (!any.getTypeName().endsWith("pulumirpc.ErrorResourceInitFailed")) continue;
    const detail = provproto.ErrorResourceInitFailed.deserializeBinary(any.getValue_asU8());
    return {
      id: detail.getId(),
      properties: fromStruct(detail.getProperties()),
      reasons: detail.getReasonsList(),
    };
  }
  return undefined;
}

function toProviderError(err: grpc.ServiceError): ProviderError {
  // `details` is the provider's own message; `message` adds the gRPC status code in front.
  return new ProviderError(err.details || err.message, initFailureOf(err));
}

/**
 * The real dynamic-provider host (`@pulumi/pulumi/cmd/dynamic-provider`) in a child process, driven
 * over gRPC with the requests the engine sends.
 */
export class ProviderHost {
  private constructor(
    private readonly child: ChildProcess,
    private readonly client: provrpc.ResourceProviderClient,
  ) {}

  /**
   * Starts the host script with `cwd` set to the program directory, so that `require` in a
   * serialized provider resolves from there as it does under the engine; `onLog` gets every line
   * the host prints after its port.
   */
  static async start(
    hostScript: string,
    cwd: string,
    env: NodeJS.ProcessEnv,
    onLog: (line: string) => void,
  ): Promise<ProviderHost> {
    // The host wants an engine address argument; it only checks that one is present.
    const child = spawn(process.execPath, [hostScript, "127.0.0.1:0"], {
      cwd,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    readline.createInterface({ input: child.stderr! }).on("line", onLog);
    const stdout = readline.createInterface({ input: child.stdout! });
    const port = await new Promise<number>((resolve, reject) => {
      let got = false;
      const timer = setTimeout(
        () => reject(new Error(`dynamic-provider host printed no port within ${HOST_START_TIMEOUT_MS} ms`)),
        HOST_START_TIMEOUT_MS,
      );
      stdout.on("line", (line) => {
        if (got) return onLog(line);
        got = true;
        clearTimeout(timer);
        const p = Number(line.trim());
        if (Number.isInteger(p) && p > 0) resolve(p);
        else reject(new Error(`dynamic-provider host printed ${JSON.stringify(line)} instead of its port`));
      });
      child.on("exit", (code) => {
        clearTimeout(timer);
        if (!got) reject(new Error(`dynamic-provider host exited with code ${code} before printing its port`));
      });
      child.on("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
    }).catch((e: unknown) => {
      child.kill("SIGKILL");
      throw e;
    });
    const client = new provrpc.ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    return new ProviderHost(child, client);
  }

  private call<Res>(send: (cb: (err: grpc.ServiceError | null, res: Res) => void) => unknown): Promise<Res> {
    return new Promise((resolve, reject) => {
      send((err, res) => (err ? reject(toProviderError(err)) : resolve(res)));
    });
  }

  /** Configure: hands the whole stack config (namespaced keys, plain strings) to the host. */
  async configure(config: Record<string, string>): Promise<void> {
    const req = new provproto.ConfigureRequest();
    req.setArgs(toStruct(config));
    req.setAcceptsecrets(true);
    req.setAcceptresources(true);
    req.setSendsOldInputs(true);
    req.setSendsOldInputsToDelete(true);
    await this.call<provproto.ConfigureResponse>((cb) => this.client.configure(req, cb));
  }

  /** Check: `olds` are the old inputs (or `{}`), `news` the program's inputs. */
  async check(r: ResourceRef, olds: Props, news: Props): Promise<CheckResult> {
    const req = new provproto.CheckRequest();
    req.setUrn(r.urn).setName(r.name).setType(r.type);
    req.setOlds(toStruct(olds)).setNews(toStruct(news));
    const res = await this.call<provproto.CheckResponse>((cb) => this.client.check(req, cb));
    return {
      inputs: fromStruct(res.getInputs()),
      failures: res.getFailuresList().map((f) => ({ property: f.getProperty(), reason: f.getReason() })),
    };
  }

  /** Diff: `olds` are the old OUTPUTS (as the engine sends them), `news` the checked inputs. */
  async diff(r: ResourceRef, id: string, olds: Props, news: Props, oldInputs: Props): Promise<DiffResult> {
    const req = new provproto.DiffRequest();
    req.setUrn(r.urn).setName(r.name).setType(r.type).setId(id);
    req.setOlds(toStruct(olds)).setNews(toStruct(news)).setOldInputs(toStruct(oldInputs));
    const res = await this.call<provproto.DiffResponse>((cb) => this.client.diff(req, cb));
    const c = res.getChanges();
    const D = provproto.DiffResponse.DiffChanges;
    return {
      changes: c === D.DIFF_NONE ? "none" : c === D.DIFF_SOME ? "some" : "unknown",
      replaces: res.getReplacesList(),
      deleteBeforeReplace: res.getDeletebeforereplace(),
    };
  }

  /** Create: returns the new id and outputs; throws {@link ProviderError} (maybe with initFailure). */
  async create(r: ResourceRef, news: Props): Promise<{ id: string; outputs: Props }> {
    const req = new provproto.CreateRequest();
    req.setUrn(r.urn).setName(r.name).setType(r.type).setProperties(toStruct(news));
    const res = await this.call<provproto.CreateResponse>((cb) => this.client.create(req, cb));
    return { id: res.getId(), outputs: fromStruct(res.getProperties()) };
  }

  /** Update: `olds` are the old outputs; returns the new outputs. */
  async update(r: ResourceRef, id: string, olds: Props, news: Props, oldInputs: Props): Promise<Props> {
    const req = new provproto.UpdateRequest();
    req.setUrn(r.urn).setName(r.name).setType(r.type).setId(id);
    req.setOlds(toStruct(olds)).setNews(toStruct(news)).setOldInputs(toStruct(oldInputs));
    const res = await this.call<provproto.UpdateResponse>((cb) => this.client.update(req, cb));
    return fromStruct(res.getProperties());
  }

  /** Delete: `outputs` are the recorded outputs, which carry the provider that created the resource. */
  async delete(r: ResourceRef, id: string, outputs: Props, oldInputs: Props): Promise<void> {
    const req = new provproto.DeleteRequest();
    req.setUrn(r.urn).setName(r.name).setType(r.type).setId(id);
    req.setProperties(toStruct(outputs)).setOldInputs(toStruct(oldInputs));
    await this.call<unknown>((cb) => this.client.delete(req, cb));
  }

  /** Closes the channel and stops the host, killing it if it does not exit in time. */
  async stop(): Promise<void> {
    this.client.close();
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.child.kill("SIGKILL");
        resolve();
      }, HOST_STOP_TIMEOUT_MS);
      this.child.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
      this.child.kill("SIGTERM");
    });
  }
}
