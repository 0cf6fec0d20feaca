import * as fs from "fs";
import * as path from "path";

import type { Props } from "./wire";

/** One resource as recorded in the runner's state file. */
export interface StateResource {
  /** Pulumi URN of the resource. */
  readonly urn: string;
  /** Type token, e.g. `pulumi-nodejs:dynamic:Resource` or a component type. */
  readonly type: string;
  /** Logical name given by the program. */
  readonly name: string;
  /** URN of the parent resource, absent for the root stack. */
  readonly parent?: string;
  /** True for a custom (provider-managed) resource, false for a component or the stack. */
  readonly custom: boolean;
  /** Provider-assigned id of a custom resource. */
  readonly id?: string;
  /** Checked inputs as the provider returned them (wire form, including `__provider`). */
  readonly inputs: Props;
  /** Outputs as the provider returned them (wire form, including `__provider`). */
  readonly outputs: Props;
  /** Reasons a create or update reported the resource as created but not initialized. */
  readonly initErrors?: string[];
  /** Set on an old resource that a replace superseded but whose delete has not succeeded yet. */
  readonly pendingDelete?: boolean;
}

/** The whole state file. */
export interface StateFile {
  /** Format version of this file. */
  readonly version: 1;
  /** Pulumi project name. */
  readonly project: string;
  /** Stack name. */
  readonly stack: string;
  /** Resources, parents before children. */
  readonly resources: StateResource[];
}

/** Reads a state file, or returns an empty state when the file does not exist. */
export function loadState(file: string, project: string, stack: string): StateFile {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { version: 1, project, stack, resources: [] };
    throw e;
  }
  const parsed = JSON.parse(text) as StateFile;
  if (parsed.version !== 1 || !Array.isArray(parsed.resources)) {
    throw new Error(`state file ${file} is not a version 1 offline-runner state`);
  }
  if (parsed.stack !== stack || parsed.project !== project) {
    throw new Error(`state file ${file} belongs to ${parsed.project}/${parsed.stack}, not ${project}/${stack}`);
  }
  return parsed;
}

/** Writes the state through a temporary file and a rename, so a crash never leaves half a file. */
export function saveState(file: string, state: StateFile): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(state, null, 2) + "\n");
  fs.renameSync(tmp, file);
}
