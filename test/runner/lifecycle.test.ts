import * as fs from "fs";

import { banner } from "../../runner";
import { changes, ensureRunnerBuilt, RECORDED, RECORDER, Spec, urn, Workspace } from "./helpers";

const A: Spec = { label: "a", value: "1" };
const B: Spec = { label: "b", value: "2", group: "outer/inner", withJob: true };

let ws: Workspace;
beforeAll(ensureRunnerBuilt, 120_000);
beforeEach(() => {
  ws = new Workspace();
});
afterEach(() => ws.dispose());

test("the first run configures the host once, checks each resource in preview and apply, and creates each once", async () => {
  const result = await ws.run([A, B]);

  expect(result.exitCode).toBe(0);
  expect(ws.counts()).toEqual({ configure: 1, check: 4, create: 2 });
  expect(ws.calls()[0]!.op).toBe("configure");
  expect(ws.mutations().sort()).toEqual(["create a", "create b"]);
  expect(result.summary).toEqual({
    created: 5,
    updated: 0,
    replaced: 0,
    deleted: 0,
    same: 0,
    failed: 0,
  });
  expect(result.stdout.split("\n")[0]).toBe(banner(RECORDER, ws.statePath, {}));
  expect(result.stdout).toContain("\nResources: 5 created, 0 updated, 0 replaced, 0 deleted, 0 unchanged, 0 failed\n");
  expect(result.stdout).toContain('\n  +  created  b  success=true requestId="req-b-create" jobId="job-b"\n');
  expect(result.outputs).toEqual({
    count: 2,
    requestIds: ["req-a-create", "req-b-create"],
  });
  expect(result.stdout).toContain('\nOutputs:\n  count: 2\n  requestIds: ["req-a-create","req-b-create"]\n');
});

test("URNs chain the parent types as Pulumi does, leaving out the root stack", async () => {
  const result = await ws.run([A, B]);

  // Sorted: the runtime registers resources concurrently.
  expect(result.steps.map((s) => s.urn).sort()).toEqual(
    [
      urn("fixture:index:Group", "outer"),
      urn("fixture:index:Group$fixture:index:Group", "inner"),
      urn(`fixture:index:Group$fixture:index:Group$${RECORDED}`, "b"),
      urn("pulumi:pulumi:Stack", "recorder-dev"),
      urn(RECORDED, "a"),
    ].sort(),
  );
  const b = ws.state().resources.find((r) => r.name === "b")!;
  expect(b.parent).toBe(urn("fixture:index:Group$fixture:index:Group", "inner"));
  expect(ws.customs()).toEqual({
    a: {
      id: "id-a",
      outputs: {
        label: "a",
        value: "1",
        success: true,
        requestId: "req-a-create",
      },
    },
    b: {
      id: "id-b",
      outputs: {
        label: "b",
        value: "2",
        withJob: true,
        success: true,
        requestId: "req-b-create",
        jobId: "job-b",
      },
    },
  });
});

test("an unchanged second run sends no create, update or delete", async () => {
  await ws.run([A, B]);
  const result = await ws.run([A, B]);

  expect(result.exitCode).toBe(0);
  expect(ws.counts()).toEqual({ configure: 1, check: 4, diff: 4 });
  expect(
    ws
      .calls()
      .filter((c) => c.op === "diff")
      .map((c) => c.changes),
  ).toEqual([false, false, false, false]);
  expect(result.summary).toEqual({
    created: 0,
    updated: 0,
    replaced: 0,
    deleted: 0,
    same: 5,
    failed: 0,
  });
  expect(result.outputs).toEqual({
    count: 2,
    requestIds: ["req-a-create", "req-b-create"],
  });
});

test("a change the diff marks as replace creates the new resource, then deletes the old one", async () => {
  await ws.run([A, B]);
  const result = await ws.run([A, { ...B, trigger: "rotate-2024" }]);

  expect(result.exitCode).toBe(0);
  expect(ws.mutations()).toEqual(["create b", "delete b"]);
  const [create, del] = ws.calls().filter((c) => c.op === "create" || c.op === "delete");
  expect(create!.end).toBeLessThanOrEqual(del!.start);
  expect(changes(result)).toEqual(["replace b"]);
  expect(result.steps.find((s) => s.name === "b")!.replaces).toEqual(["trigger"]);
  expect(result.stdout).toContain("\n  +- replace pulumi-nodejs:dynamic/fixture:Recorded  b  [replace: trigger]\n");
  expect(result.summary).toEqual({
    created: 0,
    updated: 0,
    replaced: 1,
    deleted: 0,
    same: 4,
    failed: 0,
  });
  expect(ws.customs()["b"]!.outputs["trigger"]).toBe("rotate-2024");
  expect(result.providerLog).toEqual(["recorder: deleting b (id-b)"]);
  expect(result.stdout).toContain("\nprovider: recorder: deleting b (id-b)\n");
});

test("an update-only change sends exactly one update", async () => {
  await ws.run([A, B]);
  const result = await ws.run([{ ...A, value: "1-bis" }, B]);

  expect(result.exitCode).toBe(0);
  expect(ws.mutations()).toEqual(["update a"]);
  expect(changes(result)).toEqual(["update a"]);
  expect(ws.customs()["a"]).toEqual({
    id: "id-a",
    outputs: {
      label: "a",
      value: "1-bis",
      success: true,
      requestId: "req-a-update",
    },
  });
});

test("--preview after a change plans exactly the changed resources and sends no create, update or delete", async () => {
  await ws.run([A, B]);
  const before = fs.readFileSync(ws.statePath, "utf8");
  const planJson = `${ws.dir}/plan.json`;
  const result = await ws.run(
    [
      { ...A, value: "9" },
      { ...B, trigger: "t" },
      { label: "c", value: "3" },
    ],
    {
      preview: true,
      planJsonPath: planJson,
    },
  );

  expect(result.exitCode).toBe(0);
  expect(ws.counts()).toEqual({ configure: 1, check: 3, diff: 2 });
  expect(changes(result)).toEqual(
    ["update a", "create c", "replace b"].sort((x, y) => order(result, x) - order(result, y)),
  );
  expect(fs.readFileSync(ws.statePath, "utf8")).toBe(before);
  const plan = JSON.parse(fs.readFileSync(planJson, "utf8")) as {
    steps: Array<{
      name: string;
      op: string;
      replaces?: string[];
      inputs?: Record<string, unknown>;
    }>;
  };
  expect(plan.steps.filter((s) => s.op !== "same").map((s) => [s.name, s.op, s.replaces ?? null])).toEqual(
    result.steps.filter((s) => s.op !== "same").map((s) => [s.name, s.op, s.replaces ?? null]),
  );
  expect(plan.steps.find((s) => s.name === "a")!.inputs!["value"]).toBe("9");
  expect(result.stdout.split("\n")[0]).toContain("offline runner (not `pulumi preview`)");
});

/** Position of a `op name` change among the run's steps (the program registers in parallel). */
function order(result: { steps: Array<{ name: string }> }, change: string): number {
  return result.steps.findIndex((s) => s.name === change.split(" ")[1]);
}

test("a first --preview shows outputs the provider has not produced yet as unknown", async () => {
  const result = await ws.run([A], { preview: true });

  expect(result.exitCode).toBe(0);
  expect(ws.mutations()).toEqual([]);
  expect(result.outputs).toEqual({ count: 1, requestIds: "[unknown]" });
  expect(result.stdout).toContain("\n  requestIds: [unknown]\n");
  expect(fs.existsSync(ws.statePath)).toBe(false);
});

test("resources the program no longer registers are deleted after the creates, children before parents", async () => {
  await ws.run([A, B]);
  const result = await ws.run([{ label: "c", value: "3" }]);

  expect(result.exitCode).toBe(0);
  expect(ws.mutations()).toEqual(["create c", "delete b", "delete a"]);
  const steps = changes(result);
  // By depth: b (under outer/inner), then inner, then a and outer (both directly under the stack).
  expect(steps.slice(0, 3)).toEqual(["create c", "delete b", "delete inner"]);
  expect(steps.slice(3).sort()).toEqual(["delete a", "delete outer"]);
  expect(ws.state().resources.map((r) => r.name)).toEqual(["recorder-dev", "c"]);
});

test("--destroy deletes every resource and leaves an empty state", async () => {
  await ws.run([A, B]);
  const result = await ws.run([A, B], { destroy: true });

  expect(result.exitCode).toBe(0);
  expect(ws.counts()).toEqual({ configure: 1, delete: 2 });
  expect(ws.mutations()).toEqual(["delete b", "delete a"]);
  expect(result.summary).toEqual({
    created: 0,
    updated: 0,
    replaced: 0,
    deleted: 5,
    same: 0,
    failed: 0,
  });
  expect(ws.state()).toEqual({
    version: 1,
    project: "recorder",
    stack: "dev",
    resources: [],
  });
  expect(result.stdout.split("\n")[0]).toContain("offline runner (not `pulumi destroy`)");
});
