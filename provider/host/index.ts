/**
 * The provider side, loaded inside Pulumi's dynamic-provider host as
 * `require("pulumi-alicloud-iot-reset/provider-host")`.
 *
 * This module path is a contract: the provider text stored in every resource's state names it, and the
 * engine runs `diff` and `delete` with the text an older version stored. Later versions must keep this
 * entry point and the handler names below (`deviceReset`, `batchReset`, `promotionGate`) working.
 */
import type * as dynamic from "@pulumi/pulumi/dynamic";
import { ProviderContext } from "./provider-context";
import type { Lifecycle } from "./lifecycle";
import { engineAddress, watchEngine } from "./engine-watch";
import * as batch from "./batch-reset";
import * as device from "./device-reset";
import * as gate from "./promotion-gate";

/** The one context of this provider process: stack settings, credential, clients and budgets. */
const context = new ProviderContext();

/**
 * The configure hook's argument: the stack config, keys with their namespace, secrets decrypted; and the
 * program's project and stack, which the serialized provider adds (an older one does not).
 */
interface ConfigureRequest {
  readonly config: { get(key: string): string | undefined };
  readonly project?: string;
  readonly stack?: string;
}

async function configure(req: ConfigureRequest): Promise<void> {
  context.configure(
    (key) => {
      const value = req.config.get(key);
      return value === undefined ? undefined : String(value);
    },
    {
      ...(typeof req.project === "string" ? { project: req.project } : {}),
      ...(typeof req.stack === "string" ? { stack: req.stack } : {}),
    },
  );
}

/** @internal The process's context, for tests and for the host's own shutdown handling. */
export const providerContext = context;

/**
 * When the engine is gone (a killed CLI), no further reset leaves: calls on the wire get their answers, calls
 * journaled but not yet sent are kept from leaving, the journal records both, and the host exits, instead of
 * resetting devices the engine can no longer record.
 */
const engine = engineAddress();
if (engine) {
  watchEngine(engine, (why) => {
    context.stopSending(why);
    // Nobody reads this host's output any more: a write would fail with EPIPE, and the host's own handler of
    // uncaught errors would write again, forever. Drop such errors and say nothing.
    for (const stream of [process.stdout, process.stderr]) stream.on("error", () => undefined);
    const exit = () => process.exit(1);
    // Bounded by the longest a call on the wire can take to answer, should a socket never settle.
    setTimeout(exit, context.settings.readTimeoutMs + 5_000).unref();
    void context.settle().finally(exit);
  });
}

/**
 * SIGINT: the engine sends it when it is done with this host (`pulumi up`, `preview` and the rest close every
 * provider that way, and kill it 5 s later if it is still there), and a supervisor may send one mid-update (the
 * engine starts the host in a process group of its own, so a terminal's Ctrl-C reaches only the CLI). Either way:
 * stop sending at once, let the operations under way end with what was sent recorded, and exit as soon as none is
 * left, so that no operation waits out the engine's 5 s. A second SIGINT exits at once.
 */
process.on("SIGINT", () => {
  const reason = "the update was interrupted (SIGINT); run `pulumi up` again to send the rest";
  // Once idle: the attempts underway answered or kept from leaving, the journal on disk, then exit.
  const interrupts = context.interrupt(reason, () => void context.settle().finally(() => process.exit(0)));
  if (interrupts > 1) process.exit(130);
});

/** An operation counted while it runs, so that an interrupted host waits for it before exiting. */
function counted<A extends unknown[], R>(operation: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return (...args) => context.operation(() => operation(...args));
}

/** The dynamic-provider handlers of one resource kind. */
function serve(kind: Lifecycle): dynamic.ResourceProvider {
  return {
    configure,
    check: counted(async (olds, news) => kind.check(olds, news, context)),
    diff: counted(async (id, olds, news) => kind.diff(id, olds, news, context.settings)),
    create: counted((inputs) => kind.create(context, inputs)),
    update: counted((id, olds, news) => kind.update(context, id, olds, news)),
    delete: counted((id, props) => kind.remove(context, id, props)),
    read: counted(async (id, props) => (kind.read ? kind.read(context, id, props) : { id, props })),
  };
}

/** Handlers of `DeviceRegistrationReset`. */
export const deviceReset = serve(device);

/** Handlers of `DeviceBatchReset`, the batches of a `DeviceCohortReset`. */
export const batchReset = serve(batch);

/** Handlers of `DevicePromotionGate`, the gates of a staged `DeviceCohortReset` with `promotionGate`. */
export const promotionGate = serve(gate);
