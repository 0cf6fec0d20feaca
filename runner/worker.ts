/**
 * The program process: runs a Pulumi program with the real `@pulumi/pulumi` runtime in mock mode
 * and forwards every resource registration to the runner, which answers with the engine's result.
 * A fresh process per program run keeps the runtime's global state from leaking between runs.
 */
import * as fs from "fs";
import * as path from "path";

import type { DoneMessage, RegisterMessage, RegisterReply, StartMessage } from "./protocol";
import type { Props } from "./wire";

/* eslint-disable @typescript-eslint/no-require-imports, @typescript-eslint/no-explicit-any */

const STACK_TYPE = "pulumi:pulumi:Stack";

/**
 * Compiles `.ts` files with the installed TypeScript 5 (`transpileModule`), honouring the program's
 * own tsconfig. Pulumi's vendored ts-node carries TypeScript 3.8, which cannot read modern syntax.
 */
function installTypeScriptHook(programDir: string): void {
  const ts = require("typescript") as typeof import("typescript");
  let compilerOptions: import("typescript").CompilerOptions = {};
  const tsconfig = path.join(programDir, "tsconfig.json");
  if (fs.existsSync(tsconfig)) {
    const read = ts.readConfigFile(tsconfig, (f) => fs.readFileSync(f, "utf8"));
    const raw = (read.config as { compilerOptions?: unknown } | undefined)?.compilerOptions ?? {};
    compilerOptions = ts.convertCompilerOptionsFromJson(raw, programDir).options;
  }
  const options: import("typescript").CompilerOptions = {
    target: ts.ScriptTarget.ES2020,
    ...compilerOptions,
    // The runtime loads the program with `require`, and closure serialization needs CommonJS.
    module: ts.ModuleKind.CommonJS,
    sourceMap: false,
    inlineSourceMap: false,
    declaration: false,
    noEmit: false,
  };
  const extensions = (
    require("module") as {
      _extensions: Record<string, (m: any, f: string) => void>;
    }
  )._extensions;
  extensions[".ts"] = (module: { _compile(code: string, file: string): void }, filename: string) => {
    const source = fs.readFileSync(filename, "utf8");
    const out = ts.transpileModule(source, {
      compilerOptions: options,
      fileName: filename,
    });
    module._compile(out.outputText, filename);
  };
}

/** The qualified type of a URN (`parentType$childType`), the part the engine chains for children. */
function qualifiedTypeOf(urn: string): string {
  return urn.split("::")[2] ?? "";
}

/** Builds a URN the way the engine does: the whole parent type chain, except the root stack. */
function makeUrn(stack: string, project: string, parent: string, type: string, name: string): string {
  const parentType = parent ? qualifiedTypeOf(parent) : "";
  const qualified = parentType && parentType !== STACK_TYPE ? `${parentType}$${type}` : type;
  return `urn:pulumi:${stack}::${project}::${qualified}::${name}`;
}

function send(msg: RegisterMessage | DoneMessage): void {
  process.send!(msg);
}

let seq = 0;
const pending = new Map<number, (reply: RegisterReply) => void>();

function register(msg: Omit<RegisterMessage, "kind" | "seq">): Promise<RegisterReply> {
  seq += 1;
  const mine = seq;
  return new Promise((resolve) => {
    pending.set(mine, resolve);
    send({ kind: "register", seq: mine, ...msg });
  });
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

async function runProgram(start: StartMessage): Promise<DoneMessage> {
  installTypeScriptHook(start.programDir);
  // Use the program's own copy of @pulumi/pulumi: the runtime's state is per copy, and the program's
  // resources register through the copy it imports.
  const pulumiMain = require.resolve("@pulumi/pulumi", {
    paths: [start.programDir, __dirname],
  });
  const pulumiDir = path.dirname(pulumiMain);
  const pulumi = require(pulumiMain);
  const settings = require(path.join(pulumiDir, "runtime", "settings"));
  const stackModule = require(path.join(pulumiDir, "runtime", "stack"));
  const resproto = require(path.join(pulumiDir, "proto", "resource_pb"));
  const structproto = require(
    require.resolve("google-protobuf/google/protobuf/struct_pb", {
      paths: [pulumiDir],
    }),
  );

  await pulumi.runtime.setMocks(
    {
      newResource: () => {
        throw new Error("unreachable: registrations go to the runner");
      },
      call: (args: { token: string }) => {
        throw new Error(`invoke ${args.token} is unsupported by the offline runner`);
      },
    },
    start.project,
    start.stack,
    start.preview,
  );
  // After setMocks: it resets the runtime's options, config included.
  pulumi.runtime.setAllConfig(start.config, start.secretKeys);

  let stackUrn = "";
  let stackOutputs: Props | undefined;
  const monitor = settings.getMonitor();
  // Replace the mock's registration with one that asks the runner, which runs the engine's steps
  // against the real provider host; the mock's own URNs chain only the last parent type.
  monitor.registerResource = (req: any, callback: (err: unknown, resp?: unknown) => void) => {
    const type: string = req.getType();
    const name: string = req.getName();
    const parent: string = req.getParent();
    const urn = makeUrn(start.stack, start.project, parent, type, name);
    if (type === STACK_TYPE && !parent) stackUrn = urn;
    const inputs = (req.getObject()?.toJavaScript() ?? {}) as Props;
    register({
      urn,
      type,
      name,
      custom: req.getCustom(),
      ...(parent ? { parent } : {}),
      inputs,
      deleteBeforeReplace: req.getDeletebeforereplace(),
      provider: req.getProvider(),
    }).then((reply) => {
      if (reply.kind === "rejected") return callback(new Error(reply.message));
      const resp = new resproto.RegisterResourceResponse();
      resp.setUrn(urn);
      resp.setId(reply.id);
      resp.setObject(structproto.Struct.fromJavaScript(reply.state));
      return callback(null, resp);
    }, callback);
  };
  monitor.registerResourceOutputs = (req: any, callback: (err: unknown, resp?: unknown) => void) => {
    if (req.getUrn() === stackUrn) stackOutputs = (req.getOutputs()?.toJavaScript() ?? {}) as Props;
    callback(null, {});
  };
  monitor.readResource = (req: any, callback: (err: unknown) => void) => {
    callback(
      new Error(`reading existing resource ${req.getName()} [${req.getType()}] is unsupported by the offline runner`),
    );
  };

  let error: string | undefined;
  try {
    await stackModule.runInPulumiStack(async () => {
      let exported = require(start.main);
      // As the Node.js language host does: a default export replaces the named ones, and an exported
      // function is the program.
      if (
        exported &&
        Object.getOwnPropertyDescriptor(exported, "default") !== undefined &&
        Object.keys(exported).length === 1
      ) {
        exported = exported.default;
      }
      return await (exported instanceof Function ? exported() : exported);
    });
  } catch (e) {
    error = errorText(e);
  }
  // Registrations not reachable from the outputs may still be in flight.
  await settings.waitForRPCs();
  return {
    kind: "done",
    ...(stackOutputs ? { outputs: stackOutputs } : {}),
    ...(error !== undefined ? { error } : {}),
  };
}

// A failed registration rejects outputs nobody awaits; the runner reports the resource's error
// itself, so these must not crash the process before it reports what did succeed.
process.on("unhandledRejection", () => undefined);

process.on("message", (msg: StartMessage | RegisterReply) => {
  if (msg.kind === "start") {
    runProgram(msg)
      .catch((e: unknown): DoneMessage => ({
        kind: "done",
        error: e instanceof Error ? (e.stack ?? e.message) : String(e),
      }))
      .then((done) => process.send!(done, () => process.exit(0)));
    return;
  }
  const resolve = pending.get(msg.seq);
  pending.delete(msg.seq);
  resolve?.(msg);
});
