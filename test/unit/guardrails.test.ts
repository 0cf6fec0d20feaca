import { UpdateGuard } from "../../provider/guardrails";

describe("UpdateGuard", () => {
  test("the cap refuses the reset past it, before any call", () => {
    const guard = new UpdateGuard();
    for (let i = 0; i < 3; i++) {
      guard.admit({ maxResetsPerUpdate: 3 });
      guard.settle(true);
    }
    expect(() => guard.admit({ maxResetsPerUpdate: 3 })).toThrow(
      "stopped by maxResetsPerUpdate 3: this update already reset 3 devices (3 admitted). The rest are left for the next update; raise maxResetsPerUpdate to go further.",
    );
  });

  test("the failure ratio aborts only after 20 tries, once exceeded", () => {
    const guard = new UpdateGuard();
    for (let i = 0; i < 19; i++) {
      guard.admit({ maxFailureRatio: 0.1 });
      guard.settle(i < 15);
    }
    expect(() => guard.admit({ maxFailureRatio: 0.1 })).not.toThrow();
    guard.settle(false);
    expect(() => guard.admit({ maxFailureRatio: 0.1 })).toThrow(
      "aborted by maxFailureRatio 0.1: 5 of 20 resets in this update failed (15 devices were reset). No further device is reset in this update; fix the cause, then run it again (devices already reset are recorded and will not be reset again).",
    );
  });
});
