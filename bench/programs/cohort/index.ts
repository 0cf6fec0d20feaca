/**
 * Benchmark program: one `DeviceCohortReset` over a generated fleet of `devices` devices named
 * `<prefix><zero-padded index>` in product `productKey`, `batchSize` devices per batch, in one stage unless
 * `stages` (a JSON array of cumulative percentages) and `stage` (how many are promoted, required with several
 * stages) are set.
 * Every argument comes from stack config, so the benchmark points it at a fresh emulator per scenario.
 */
// Typed against the package's sources but loaded by its name, as a user's program loads it. (The root
// tsconfig compiles bench/**; a type import of "pulumi-alicloud-iot-reset" would make tsc read the lib/
// declarations it also writes, TS5055.)
import type * as iotReset from "../../../provider";
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { DeviceCohortReset } = require("pulumi-alicloud-iot-reset") as typeof iotReset;
import { benchFleet } from "../fleet";

const { config, devices, campaign } = benchFleet();

const stages = config.getObject<number[]>("stages");
const stage = config.getNumber("stage");

const cohort = new DeviceCohortReset("bench", {
  devices,
  campaign,
  batchSize: config.getNumber("batchSize"),
  ...(stages ? { stages } : {}),
  ...(stage !== undefined ? { stage } : {}),
  endpoint: config.require("endpoint"),
});

export const selected = cohort.selectedCount;
export const batches = cohort.batches.length;
export const resetCount = cohort.resetCount;
