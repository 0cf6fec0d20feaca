/**
 * What the module of each resource kind implements in the provider host (`device-reset.ts`, `batch-reset.ts`,
 * `promotion-gate.ts`): the dynamic-provider verbs, over the one context of the provider process. `index.ts` serves
 * each module with it.
 */
import type * as dynamic from "@pulumi/pulumi/dynamic";
import type { ProviderContext } from "./provider-context";
import type { ProviderSettings } from "./settings";

/** Inputs and outputs as the engine sends them (strings, numbers, booleans and JSON values). */
export type Props = Record<string, unknown>;

/** The verbs of one resource kind. */
export interface Lifecycle {
  /** Validates new inputs without any network call; a failure names the property and the rule. */
  check(olds: Props, news: Props, ctx: ProviderContext): dynamic.CheckResult;
  /** Compares the recorded outputs with new inputs: no change, an update in place, or a replace (a new reset). */
  diff(id: string, olds: Props, news: Props, settings: ProviderSettings): dynamic.DiffResult;
  /** Does what the resource declares (a reset, or a gate's check) and returns its outputs. */
  create(ctx: ProviderContext, inputs: Props): Promise<dynamic.CreateResult>;
  /** Applies new inputs to a recorded resource. */
  update(ctx: ProviderContext, id: string, olds: Props, news: Props): Promise<dynamic.UpdateResult>;
  /** Lets the record leave state; a reset cannot be undone, so nothing is sent. */
  remove(ctx: ProviderContext, id: string, props: Props): Promise<void>;
  /** Refresh; without it the recorded state is kept as it is. */
  read?(ctx: ProviderContext, id: string, props: Props): Promise<dynamic.ReadResult>;
}
