import { Call, ensureRunnerBuilt, Spec, Workspace } from "./helpers";

let ws: Workspace;
beforeAll(ensureRunnerBuilt, 120_000);
beforeEach(() => {
  ws = new Workspace();
});
afterEach(() => ws.dispose());

/** The most calls whose [start, end) intervals overlap at any instant. */
function maxInFlight(calls: Call[]): number {
  const edges = calls.flatMap((c) => [
    { t: c.start, d: 1 },
    { t: c.end, d: -1 },
  ]);
  // Ends sort before starts at the same instant: a slot handed over is not an overlap.
  edges.sort((a, b) => a.t - b.t || a.d - b.d);
  let now = 0;
  let max = 0;
  for (const e of edges) {
    now += e.d;
    max = Math.max(max, now);
  }
  return max;
}

test("--parallel 2 never has more than 2 provider operations in flight", async () => {
  const specs: Spec[] = ["a", "b", "c", "d", "e", "f"].map((label) => ({
    label,
    value: label,
    sleepMs: 150,
  }));
  const result = await ws.run(specs, { parallel: 2 });

  expect(result.exitCode).toBe(0);
  const calls = ws.calls().filter((c) => c.op !== "configure");
  expect(calls.filter((c) => c.op === "create")).toHaveLength(6);
  expect(maxInFlight(calls)).toBe(2);
});

test("a long apply prints progress every 10% of its operations", async () => {
  const specs: Spec[] = Array.from({ length: 12 }, (_, i) => ({
    label: `r${i}`,
    value: "v",
  }));
  const result = await ws.run(specs);

  expect(result.exitCode).toBe(0);
  const lines = result.stdout.split("\n").filter((l) => l.includes("operations done"));
  // Every 10% (here, 2 operations) gets a line; a slow machine may add time-based lines in between.
  expect(lines).toEqual(expect.arrayContaining([2, 4, 6, 8, 10, 12].map((k) => `  [${k}/12] operations done`)));
  expect(lines[lines.length - 1]).toBe("  [12/12] operations done");
});
