/**
 * The provider objects that Pulumi serializes into each resource's state (`__provider`).
 *
 * Each method only forwards to the stable entry point `pulumi-alicloud-iot-reset/provider-host`, resolved
 * at run time from the program's directory. Nothing but the handler's name and the program's project and stack
 * names is captured, so the serialized text is small, carries no code and no secret, and does not change with
 * the package's internals. The project and stack name the reset journal: the dynamic-provider host is not told
 * the stack by the engine.
 */
import * as pulumi from "@pulumi/pulumi";
import type * as dynamic from "@pulumi/pulumi/dynamic";

/** The handler sets that `provider-host` exports. */
type HandlerName = "deviceReset" | "batchReset" | "promotionGate";

/** What `configure` passes on to the host entry point: the engine's request plus the program's stack. */
export interface ForwardedConfigure extends dynamic.ConfigureRequest {
  /** The Pulumi project of the program that declared the resource. */
  readonly project?: string;
  /** The Pulumi stack of the program that declared the resource. */
  readonly stack?: string;
}

function forwardTo(handler: HandlerName, project: string, stack: string): dynamic.ResourceProvider {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const entry = (): Required<dynamic.ResourceProvider> => require("pulumi-alicloud-iot-reset/provider-host")[handler];
  return {
    configure: (req) => entry().configure({ config: req.config, project, stack } as ForwardedConfigure),
    check: (olds, news) => entry().check(olds, news),
    diff: (id, olds, news) => entry().diff(id, olds, news),
    create: (inputs) => entry().create(inputs),
    update: (id, olds, news) => entry().update(id, olds, news),
    delete: (id, props) => entry().delete(id, props),
    read: (id, props) => entry().read(id, props),
  };
}

// One object per handler and stack: Pulumi serializes each provider object once (it caches by identity).
const handles = new Map<string, dynamic.ResourceProvider>();

function handleFor(handler: HandlerName): dynamic.ResourceProvider {
  const project = pulumi.getProject();
  const stack = pulumi.getStack();
  const key = JSON.stringify([handler, project, stack]);
  let handle = handles.get(key);
  if (!handle) {
    handle = forwardTo(handler, project, stack);
    handles.set(key, handle);
  }
  return handle;
}

/** The provider of `DeviceRegistrationReset` resources of the running program's stack. */
export const deviceResetHandle = (): dynamic.ResourceProvider => handleFor("deviceReset");

/** The provider of `DeviceBatchReset` resources of the running program's stack. */
export const batchResetHandle = (): dynamic.ResourceProvider => handleFor("batchReset");

/** The provider of `DevicePromotionGate` resources of the running program's stack. */
export const promotionGateHandle = (): dynamic.ResourceProvider => handleFor("promotionGate");
