// Where the reset journal lives, which journals are refused before anything is sent, and how its records follow
// the resources: a device reset in a campaign is recorded, not sent, by any later create in that campaign, also after
// a delete.
import * as fs from "node:fs";
import * as path from "node:path";
import { Emulator } from "../../emulator";
import * as batch from "../../provider/host/batch-reset";
import { ProviderContext } from "../../provider/host/provider-context";
import { ConfigurationError, JournalError } from "../../provider/shared/errors";
import { readJournal } from "../../provider/host/journal-file";
import { configFor, context, emulator, journalPath, programDir } from "./support";

const devices = Array.from({ length: 6 }, (_, i) => ({ productKey: "a1Journal", deviceName: `dev-${i}` }));

let emu: Emulator;
beforeEach(async () => {
  emu = await emulator();
  emu.addDevices(
    "a1Journal",
    devices.map(({ deviceName }) => ({ deviceName })),
  );
});
afterEach(() => emu.stop());

const inputs = (campaign = "c1", list = devices) => ({ campaign, devices: list, endpoint: emu.endpoint });

test("by default the journal is .iot-reset/journal-<project>-<stack>.jsonl in the program directory", async () => {
  await batch.create(context(configFor(emu)), inputs());
  const journal = readJournal(journalPath(emu));
  expect(journal.header).toMatchObject({ project: "iot-reset-test", stack: "test" });
  expect(journal.entries.map((e) => e.ev).sort()).toEqual([...Array(6).fill("reset"), ...Array(6).fill("sending")]);
});

test("iotReset:journal points elsewhere (relative to the program directory); `off` writes none", async () => {
  await batch.create(context(configFor(emu, { "iotReset:journal": "ci-cache/resets.jsonl" })), inputs());
  expect(readJournal(path.join(programDir(emu), "ci-cache", "resets.jsonl")).entries).toHaveLength(12);
  expect(fs.existsSync(journalPath(emu))).toBe(false);
  await batch.create(context(configFor(emu, { "iotReset:journal": "off" })), inputs("c2"));
  expect(fs.existsSync(journalPath(emu))).toBe(false);
  expect(emu.requests({ action: "ResetThing" })).toHaveLength(12);
});

test("a journal of another stack is refused before anything is sent", async () => {
  fs.mkdirSync(path.dirname(journalPath(emu)), { recursive: true });
  fs.writeFileSync(
    journalPath(emu),
    '{"journal":"pulumi-alicloud-iot-reset/journal","version":1,"project":"iot-reset-test","stack":"prod","created":"2026-01-01T00:00:00.000Z"}\n',
  );
  const error = await batch.create(context(configFor(emu)), inputs()).catch((e) => e);
  expect(error).toBeInstanceOf(JournalError);
  expect(error.message).toContain('belongs to project "iot-reset-test", stack "prod", not to this update\'s project');
  expect(emu.requests()).toHaveLength(0);
});

test("without the project and stack names the journal cannot be placed: refused before anything is sent", async () => {
  const ctx = new ProviderContext({}, programDir(emu));
  ctx.configure((k) => configFor(emu)[k]);
  const error = await batch.create(ctx, inputs()).catch((e) => e);
  expect(error).toBeInstanceOf(ConfigurationError);
  expect(error.message).toBe(
    "The reset journal needs the Pulumi project and stack names, and this provider did not receive them (a program " +
      "built with an older pulumi-alicloud-iot-reset?). Run the update with this version's program.",
  );
  expect(emu.requests()).toHaveLength(0);
});

test("devices moved to a new batch in the same campaign are recorded from the journal, not reset again", async () => {
  const first = await batch.create(context(configFor(emu)), inputs("c1", devices.slice(0, 4)));
  emu.clearRequests();
  // A re-formed batch (new name, same campaign) holding two of those devices and two new ones.
  const moved = await batch.create(context(configFor(emu)), inputs("c1", devices.slice(2)));
  expect(emu.requests().map((r) => r.params.DeviceName)).toEqual(expect.arrayContaining(["dev-4", "dev-5"]));
  expect(emu.requests()).toHaveLength(2);
  const results = moved.outs.results as Record<string, { requestId: string }>;
  for (const key of ["a1Journal/dev-2", "a1Journal/dev-3"]) {
    expect(results[key]?.requestId).toBe((first.outs.results as Record<string, { requestId: string }>)[key]?.requestId);
  }
  for (const d of devices) expect(emu.resetCount(d)).toBe(1);
});

test("a delete keeps the batch's resets: its campaign gone back to sends nothing; a new campaign resets again", async () => {
  const ctx = context(configFor(emu));
  const created = await batch.create(ctx, inputs());
  const other = await batch.create(ctx, inputs("c2"));
  await batch.remove(ctx, created.id, created.outs);
  await batch.remove(ctx, other.id, other.outs);
  emu.clearRequests();
  // Back to c1 (a revert, or a new cohort after a destroy): recorded from the journal with the RequestIds of then.
  const back = await batch.create(context(configFor(emu)), inputs());
  expect(emu.requests()).toEqual([]);
  // Sorted: the results' key order follows the order answers arrived in, and state (a protobuf Struct) has none.
  const requestIds = (results: unknown) =>
    Object.entries(results as Record<string, { requestId: string }>)
      .map(([key, r]) => [key, r.requestId])
      .sort(([a], [b]) => (a as string).localeCompare(b as string));
  expect(requestIds(back.outs.results)).toEqual(requestIds(created.outs.results));
  expect(back.outs.resetCount).toBe(6);
  await batch.create(context(configFor(emu)), inputs("c3"));
  expect(emu.requests({ action: "ResetThing" })).toHaveLength(6);
  for (const d of devices) expect(emu.resetCount(d)).toBe(3);
  expect(readJournal(journalPath(emu)).entries.filter((e) => e.ev === "released")).toEqual([]);
});
