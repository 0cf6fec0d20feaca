/**
 * The offline runner: runs a Pulumi TypeScript program without the Pulumi CLI, with the real
 * `@pulumi/pulumi` runtime (mock mode) and the real dynamic-provider host driven over gRPC, keeping
 * state in a JSON file. For development and tests; with the Pulumi CLI, use `pulumi up`.
 */
export { banner, run } from "./engine";
export type { Op, PlanStep, RunOptions, RunResult, RunSummary, StepResult } from "./engine";
export type { StateFile, StateResource } from "./state";
