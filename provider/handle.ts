/**
 * The provider objects that Pulumi serializes into each resource's state (`__provider`).
 *
 * Each method only forwards to the stable entry point `pulumi-alicloud-iot-reset/provider-host`, resolved
 * at run time from the program's directory. Nothing but the handler's name is captured, so the serialized
 * text is small, carries no code and no secret, and does not change with the package's internals.
 */
import type * as dynamic from "@pulumi/pulumi/dynamic";

/** The handler sets that `provider-host` exports. */
type HandlerName = "deviceReset" | "batchReset";

function forwardTo(handler: HandlerName): dynamic.ResourceProvider {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const entry = (): Required<dynamic.ResourceProvider> => require("pulumi-alicloud-iot-reset/provider-host")[handler];
  return {
    configure: (req) => entry().configure(req),
    check: (olds, news) => entry().check(olds, news),
    diff: (id, olds, news) => entry().diff(id, olds, news),
    create: (inputs) => entry().create(inputs),
    update: (id, olds, news) => entry().update(id, olds, news),
    delete: (id, props) => entry().delete(id, props),
    read: (id, props) => entry().read(id, props),
  };
}

/** Forwards every lifecycle call of `DeviceRegistrationReset` to the host entry point. */
export const deviceResetHandle = forwardTo("deviceReset");

/** Forwards every lifecycle call of `DeviceBatchReset` to the host entry point. */
export const batchResetHandle = forwardTo("batchReset");
