/**
 * The provider objects that Pulumi serializes into each resource's state (`__provider`).
 *
 * Each method only forwards to the stable entry point `pulumi-alicloud-iot-reset/provider-host`, resolved
 * at run time from the program's directory. Nothing is captured, so the serialized text is a few hundred
 * bytes, carries no code and no secret, and stays the same across package versions: an upgrade changes
 * no `__provider` text and so never looks like a change to the engine.
 */
import type * as dynamic from "@pulumi/pulumi/dynamic";

/* eslint-disable @typescript-eslint/no-require-imports */

/** Forwards every lifecycle call of `DeviceRegistrationReset` to the host entry point. */
export const deviceResetHandle: dynamic.ResourceProvider = {
  configure(req: unknown) {
    return require("pulumi-alicloud-iot-reset/provider-host").deviceReset.configure(req);
  },
  check(olds, news) {
    return require("pulumi-alicloud-iot-reset/provider-host").deviceReset.check(olds, news);
  },
  diff(id, olds, news) {
    return require("pulumi-alicloud-iot-reset/provider-host").deviceReset.diff(id, olds, news);
  },
  create(inputs) {
    return require("pulumi-alicloud-iot-reset/provider-host").deviceReset.create(inputs);
  },
  update(id, olds, news) {
    return require("pulumi-alicloud-iot-reset/provider-host").deviceReset.update(id, olds, news);
  },
  delete(id, props) {
    return require("pulumi-alicloud-iot-reset/provider-host").deviceReset.delete(id, props);
  },
  read(id, props) {
    return require("pulumi-alicloud-iot-reset/provider-host").deviceReset.read(id, props);
  },
} as dynamic.ResourceProvider;
