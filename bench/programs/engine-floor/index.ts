/**
 * Benchmark program: the engine's floor. The same resources as the cohort program (one component, one dynamic
 * resource per batch, named and filled as a `DeviceCohortReset` names and fills its batches: the device keys in the
 * inputs, a record per reset device in the outputs) under a dynamic provider that does no work: it calls no API,
 * keeps no journal and paces nothing. What an operation costs here is what the Pulumi engine, the Node.js runtime
 * and the dynamic-provider host cost for that shape of state; the cohort program's time above it is the package's.
 */
import * as pulumi from "@pulumi/pulumi";
// Typed against the sources, loaded by name: see ../cohort/index.ts for why.
import type * as internals from "../../../provider/internals";
const { deviceKey, planCohort, DEFAULT_BATCH_SIZE } =
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require("pulumi-alicloud-iot-reset/internals") as typeof internals;
import { benchFleet } from "../fleet";

const { config, devices, campaign } = benchFleet();
const batchSize = config.getNumber("batchSize") ?? DEFAULT_BATCH_SIZE;

/**
 * Records each device as the package's batch does (a RequestId and the time, ~150 B of checkpoint per device), and
 * tells update from replace as its diff does; nothing else. Each function stands alone: the runtime serializes the
 * provider into every resource's state, and a captured helper would travel with it.
 */
const floor: pulumi.dynamic.ResourceProvider = {
  async check(_olds, news) {
    return { inputs: news };
  },
  async diff(_id, olds, news) {
    if (olds.campaign !== news.campaign) return { changes: true, replaces: ["campaign"], deleteBeforeReplace: true };
    const recorded = olds.results ?? {};
    const added = (news.devices as string[]).some((key) => !Object.prototype.hasOwnProperty.call(recorded, key));
    return { changes: added };
  },
  async create(inputs) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded where the serialized function runs
    const { randomUUID } = require("crypto") as typeof import("crypto");
    const results: Record<string, { requestId: string; resetAt: string }> = {};
    for (const key of inputs.devices as string[]) {
      results[key] = { requestId: randomUUID().toUpperCase(), resetAt: new Date().toISOString() };
    }
    const { devices: _devices, ...echo } = inputs;
    return { id: randomUUID(), outs: { ...echo, results, resetCount: Object.keys(results).length } };
  },
  async update(_id, olds, news) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded where the serialized function runs
    const { randomUUID } = require("crypto") as typeof import("crypto");
    const results: Record<string, { requestId: string; resetAt: string }> = { ...(olds.results ?? {}) };
    for (const key of news.devices as string[]) {
      results[key] ??= { requestId: randomUUID().toUpperCase(), resetAt: new Date().toISOString() };
    }
    const { devices: _devices, ...echo } = news;
    return { outs: { ...echo, results, resetCount: Object.keys(results).length } };
  },
  async delete() {
    return;
  },
};

const plan = planCohort(devices, [100], 1, batchSize);

/** A batch under the floor provider. */
class FloorBatch extends pulumi.dynamic.Resource {
  constructor(name: string, props: pulumi.Inputs, opts: pulumi.CustomResourceOptions) {
    super(floor, name, props, opts, "iot", "EngineFloorBatch");
  }
}

class EngineFloor extends pulumi.ComponentResource {
  constructor(name: string) {
    super("iot-reset-bench:index:EngineFloor", name);
    for (const { bucket, devices: members } of plan.batches) {
      new FloorBatch(
        `${name}-b${bucket}`, // named as the default layout names its batches
        { devices: members.map(deviceKey), campaign, results: undefined, resetCount: undefined },
        { parent: this },
      );
    }
    this.registerOutputs({});
  }
}

new EngineFloor("bench");

export const batches = plan.buckets;
