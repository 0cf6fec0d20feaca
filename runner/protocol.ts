import type { Props } from "./wire";

/** Sent by the runner to start the program in the worker process. */
export interface StartMessage {
  readonly kind: "start";
  /** Directory holding `Pulumi.yaml`. */
  readonly programDir: string;
  /** Absolute path of the program's entry, or the directory to `require`. */
  readonly main: string;
  /** Project name. */
  readonly project: string;
  /** Stack name. */
  readonly stack: string;
  /** True to run the program as a preview (unknown outputs stay unknown). */
  readonly preview: boolean;
  /** Stack config with namespaced keys. */
  readonly config: Record<string, string>;
  /** Config keys whose values are secret. */
  readonly secretKeys: string[];
}

/** Sent by the worker for every resource the program registers. */
export interface RegisterMessage {
  readonly kind: "register";
  /** Correlates the reply. */
  readonly seq: number;
  /** URN built as the engine builds it. */
  readonly urn: string;
  /** Type token. */
  readonly type: string;
  /** Logical name. */
  readonly name: string;
  /** True for a custom resource. */
  readonly custom: boolean;
  /** Parent URN, if any. */
  readonly parent?: string;
  /** Inputs in wire form (secrets and unknowns tagged). */
  readonly inputs: Props;
  /** The `deleteBeforeReplace` resource option. */
  readonly deleteBeforeReplace: boolean;
  /** Explicit provider reference, when the program passed one (unsupported by the runner). */
  readonly provider: string;
}

/** Sent by the worker when the program has finished (or failed). */
export interface DoneMessage {
  readonly kind: "done";
  /** Stack outputs in wire form, when the program got as far as registering them. */
  readonly outputs?: Props;
  /** The program's error, if it failed. */
  readonly error?: string;
}

/** The runner's answer to a {@link RegisterMessage}. */
export type RegisterReply =
  | {
      readonly kind: "registered";
      readonly seq: number;
      readonly id: string;
      readonly state: Props;
    }
  | {
      readonly kind: "rejected";
      readonly seq: number;
      readonly message: string;
    };

/** Anything the worker sends. */
export type WorkerMessage = RegisterMessage | DoneMessage;
