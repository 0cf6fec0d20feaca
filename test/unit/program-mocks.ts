/** The Pulumi runtime mocked for tests of the program side: every registration is recorded, and none reaches an engine. */
import * as pulumi from "@pulumi/pulumi";
import { InputError } from "../../provider/shared/errors";

/** What the mocked runtime recorded, emptied before each test. */
export interface Registrations {
  /** The resources registered since the test began, in order. */
  readonly registered: pulumi.runtime.MockResourceArgs[];
  /** Lets every pending registration reach the mocks. */
  settle(): Promise<void>;
  /** The InputError `construct` throws, after checking that nothing was registered (not even later). */
  refusal(construct: () => unknown): Promise<InputError>;
}

/**
 * Mocks the runtime for this test file and records each resource registered. A resource's outputs are its inputs,
 * plus what `outputs` returns for it (what its provider would have recorded, e.g. a batch's `resetCount`).
 */
export function mockRegistrations(
  outputs: (args: pulumi.runtime.MockResourceArgs) => Record<string, unknown> = () => ({}),
): Registrations {
  const registered: pulumi.runtime.MockResourceArgs[] = [];
  void pulumi.runtime.setMocks({
    newResource: (args) => {
      registered.push(args);
      return { id: `${args.name}-id`, state: { ...args.inputs, ...outputs(args) } };
    },
    call: () => ({}),
  });
  beforeEach(() => registered.splice(0));
  const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 50));
  const refusal = async (construct: () => unknown): Promise<InputError> => {
    let error: unknown;
    try {
      construct();
    } catch (err) {
      error = err;
    }
    await settle();
    expect(registered).toEqual([]);
    expect(error).toBeInstanceOf(InputError);
    return error as InputError;
  };
  return { registered, settle, refusal };
}
