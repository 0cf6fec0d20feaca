/**
 * The provider side, loaded inside Pulumi's dynamic-provider host as
 * `require("pulumi-alicloud-iot-reset/provider-host")`.
 *
 * This module path is a contract: the provider text stored in every resource's state names it, and the
 * engine runs `diff` and `delete` with the text an older version stored. Later versions must keep this
 * entry point and the handler names below (`deviceReset`, `batchReset`) working.
 */
import type * as dynamic from "@pulumi/pulumi/dynamic";
import { ProviderContext } from "./context";
import * as batch from "./batch";
import * as device from "./device";

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

/** Handlers of `DeviceRegistrationReset`. */
export const deviceReset: dynamic.ResourceProvider = {
  configure,
  check: async (olds, news) => device.check(olds, news, context),
  diff: async (id, olds, news) => device.diff(id, olds, news, context.settings),
  create: (inputs) => device.create(context, inputs),
  update: (id, olds, news) => device.update(context, id, olds, news),
  delete: (id, props) => device.remove(context, id, props),
  read: (id, props) => device.read(context, id, props),
};

/** Handlers of `DeviceBatchReset`, the batches of a `DeviceCohortReset`. */
export const batchReset: dynamic.ResourceProvider = {
  configure,
  check: async (olds, news) => batch.check(olds, news, context),
  diff: async (id, olds, news) => batch.diff(id, olds, news, context.settings),
  create: (inputs) => batch.create(context, inputs),
  update: (id, olds, news) => batch.update(context, id, olds, news),
  delete: (id, props) => batch.remove(context, id, props),
  read: async (id, props) => ({ id, props }),
};
