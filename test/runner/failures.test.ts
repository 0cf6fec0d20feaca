import * as fs from "fs";

import { run } from "../../runner";
import { changes, ensureRunnerBuilt, UNSUPPORTED, Workspace } from "./helpers";

let ws: Workspace;
beforeAll(ensureRunnerBuilt, 120_000);
beforeEach(() => {
  ws = new Workspace();
});
afterEach(() => ws.dispose());

test("a check failure names the property and the rule, exits 1 and creates nothing", async () => {
  const result = await ws.run([
    { label: "a", value: "1" },
    { label: "bad", value: "invalid" },
  ]);

  expect(result.exitCode).toBe(1);
  expect(ws.counts()).toEqual({ configure: 1, check: 2 });
  expect(result.errors).toEqual(['bad: check failed: property `value`: must not be "invalid"']);
  expect(result.stdout).toContain('\nerror: bad: check failed: property `value`: must not be "invalid"\n');
  expect(fs.existsSync(ws.statePath)).toBe(false);
});

test("a create failure exits 1 and the resources created beside it are recorded", async () => {
  const result = await ws.run([
    { label: "a", value: "1" },
    { label: "b", value: "2", failCreate: true },
    { label: "c", value: "3" },
  ]);

  expect(result.exitCode).toBe(1);
  expect(ws.mutations().sort()).toEqual(["create a", "create b", "create c"]);
  expect(result.errors).toEqual(["b: create refused for b"]);
  expect(result.stdout).toContain("\n  !  failed   b: create refused for b\n");
  expect(result.summary).toEqual({
    created: 3,
    updated: 0,
    replaced: 0,
    deleted: 0,
    same: 0,
    failed: 1,
  });
  expect(Object.keys(ws.customs()).sort()).toEqual(["a", "c"]);

  // The next run creates only what is missing.
  const again = await ws.run([
    { label: "a", value: "1" },
    { label: "b", value: "2" },
    { label: "c", value: "3" },
  ]);
  expect(again.exitCode).toBe(0);
  expect(ws.mutations()).toEqual(["create b"]);
});

test("an init failure is recorded with its partial outputs, and the next run updates it though the diff sees no change", async () => {
  const spec = { label: "a", value: "1", initFail: true };
  const first = await ws.run([spec]);

  expect(first.exitCode).toBe(1);
  expect(first.errors).toEqual(["a: created as id-a but failed to initialize: a did not come up"]);
  expect(ws.customs()).toEqual({
    a: {
      id: "id-a",
      outputs: { label: "a", value: "1", success: false },
      initErrors: ["a did not come up"],
    },
  });

  const second = await ws.run([spec]);
  expect(second.exitCode).toBe(0);
  expect(
    ws
      .calls()
      .filter((c) => c.op === "diff")
      .map((c) => c.changes),
  ).toEqual([false, false]);
  expect(ws.mutations()).toEqual(["update a"]);
  expect(changes(second)).toEqual(["update a"]);
  expect(ws.customs()).toEqual({
    a: {
      id: "id-a",
      outputs: {
        label: "a",
        value: "1",
        initFail: true,
        success: true,
        requestId: "req-a-update",
      },
    },
  });

  const third = await ws.run([spec]);
  expect(ws.mutations()).toEqual([]);
  expect(third.summary.same).toBe(2);
});

test("a resource of a real provider package is refused as unsupported by the offline runner", async () => {
  const result = await run({
    programDir: UNSUPPORTED,
    stack: "dev",
    statePath: ws.statePath,
  });

  expect(result.exitCode).toBe(1);
  expect(result.errors).toEqual([
    "logs: resource type aws:s3/bucket:Bucket is unsupported by the offline runner, which runs only dynamic " +
      "providers (pulumi.dynamic.Resource); use the Pulumi CLI for this program",
  ]);
  expect(fs.existsSync(ws.statePath)).toBe(false);
});

test("a program that throws fails the run and deletes nothing", async () => {
  await ws.run([{ label: "a", value: "1" }]);
  const result = await ws.run([], {
    config: { "recorder:resources": "not json" },
  });

  expect(result.exitCode).toBe(1);
  expect(result.errors).toHaveLength(1);
  expect(result.errors[0]).toMatch(/^program failed: .*JSON/);
  expect(ws.mutations()).toEqual([]);
  expect(Object.keys(ws.customs())).toEqual(["a"]);
});
