/** The package's errors: one base class, a subclass per failure kind, each named for itself. */
import * as api from "../../provider";
import * as internals from "../../provider/internals";
import { assertNever, IotResetError } from "../../provider/shared/errors";
import { PlanError } from "../../provider/plan/read-plan";

describe("errors", () => {
  const errorsOf = (entry: object) =>
    Object.entries(entry).filter(([name]) => name.endsWith("Error")) as Array<
      [string, new (...args: never[]) => Error]
    >;
  const classes = [...errorsOf(api), ...errorsOf(internals)];

  test("every error class the package exports extends IotResetError and is named for itself", () => {
    // The main entry has the errors a program can catch (thrown in its own process); the host's are internals.
    expect(
      errorsOf(api)
        .map(([name]) => name)
        .sort(),
    ).toEqual([
      "ConfigurationError",
      "FleetChangedError",
      "FleetFileError",
      "FleetListingError",
      "InputError",
      "IotResetError",
    ]);
    expect(
      errorsOf(internals)
        .map(([name]) => name)
        .sort(),
    ).toEqual([
      "GuardrailError",
      "IotApiError",
      "JournalError",
      "PartialResetError",
      "PromotionGateError",
      "RequestFailedError",
      "RetriesExhaustedError",
      "UnknownOutcomeError",
    ]);
    for (const [name, cls] of classes) {
      expect(cls.prototype instanceof IotResetError || cls === IotResetError).toBe(true);
      expect(new (cls as unknown as new (...a: unknown[]) => Error)("x", "y", "z", "w", "v").name).toBe(name);
    }
    expect(new PlanError("x")).toBeInstanceOf(IotResetError);
  });

  test("assertNever names what was not handled", () => {
    expect(() => assertNever("surprise" as never, "journal entry")).toThrow(
      new IotResetError('unhandled journal entry: "surprise"'),
    );
  });
});
