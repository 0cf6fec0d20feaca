import { UpdateGuard } from "../../provider/host/update-guard";

describe("UpdateGuard", () => {
  test("the cap refuses the reset past it, before any call", async () => {
    const guard = new UpdateGuard();
    for (let i = 0; i < 3; i++) {
      await guard.admit({ maxResetsPerUpdate: 3 });
      guard.settle(true);
    }
    await expect(guard.admit({ maxResetsPerUpdate: 3 })).rejects.toThrow(
      "stopped by maxResetsPerUpdate 3: this update already sent 3 resets (3 succeeded so far). The rest are left for the next update; raise maxResetsPerUpdate to go further.",
    );
  });

  test("the failure ratio admits a sample of 20, then aborts once exceeded", async () => {
    const guard = new UpdateGuard();
    for (let i = 0; i < 20; i++) await guard.admit({ maxFailureRatio: 0.1 });
    let admitted21 = false;
    const next = guard.admit({ maxFailureRatio: 0.1 }).then(() => (admitted21 = true));
    await Promise.resolve();
    expect(admitted21).toBe(false);
    for (let i = 0; i < 20; i++) guard.settle(i < 15);
    await expect(next).rejects.toThrow(
      "aborted by maxFailureRatio 0.1: 5 of 20 resets in this update failed (15 devices were reset). No further device is reset in this update; fix the cause, then run it again (devices already reset are recorded and will not be reset again).",
    );
  });

  test("in flight is bounded so that the ratio holds even if all of them fail", async () => {
    const guard = new UpdateGuard();
    for (let i = 0; i < 20; i++) await guard.admit({ maxFailureRatio: 0.2 });
    for (let i = 0; i < 20; i++) guard.settle(true);
    // 20 finished, 0 failed: at 0.2, (k) / (20 + k) <= 0.2 allows k = 5 in flight.
    for (let i = 0; i < 5; i++) await guard.admit({ maxFailureRatio: 0.2 });
    let sixth = false;
    void guard.admit({ maxFailureRatio: 0.2 }).then(() => (sixth = true));
    await Promise.resolve();
    expect(sixth).toBe(false);
    guard.settle(true);
    await new Promise((r) => setImmediate(r));
    expect(sixth).toBe(true);
  });
});
