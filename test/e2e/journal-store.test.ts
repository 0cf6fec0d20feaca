/**
 * The journal beside the state, in a real S3 server (SeaweedFS on 127.0.0.1), under the real Pulumi CLI with its
 * DIY S3 backend. Two runners share nothing but the server: each has its own work folder and PULUMI_HOME.
 *
 * 1. Lost runners: a runner's CLI and provider host are SIGKILLed together at seeded moments (the runner is gone:
 *    nothing records how its last resets ended), the operator removes the stack lock (`pulumi cancel`) and the other
 *    runner goes on. Every device ends up reset exactly once.
 * 2. Two updates of one stack against one journal, started within 50 ms with the stack lock out of play: one stops
 *    before any ResetThing, naming the journal and the other writer; never two writers.
 *
 * IOT_RESET_E2E_RUNNER_DEVICES and IOT_RESET_E2E_RACES raise the sizes (CONTRIBUTING.md, "Larger runs").
 */
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { Emulator, mulberry32, startOssEmulator, type OssEmulator } from "../../emulator";
import { startS3Server, type S3Server } from "../../engine/seaweedfs";
import type { RunResult } from "../../engine/stack";
import { TEST_KEY_ID, TEST_SECRET } from "../provider/support";
import { threadEmulator } from "./emulator-thread";
import { testStack, TestStack } from "./engine";
import { alive, providerHosts, pulumiCli, waitFor } from "./processes";
import { cohortFleet, cohortProgram } from "./programs/cohort";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const DEVICES = Number(process.env.IOT_RESET_E2E_RUNNER_DEVICES ?? 2000);
/** The OSS path's fleet: the journal in the emulator's OSS endpoint. */
const OSS_DEVICES = Number(process.env.IOT_RESET_E2E_OSS_RUNNER_DEVICES ?? 2000);
const RACES = Number(process.env.IOT_RESET_E2E_RACES ?? 10);
const SEED = 20261207;
const LEASE_SECONDS = 3;

let s3: S3Server;
let oss: OssEmulator;
let client: S3Client;
let emu: Emulator;
let dir: string;
const runners: TestStack[] = [];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "iot-runners-"));
  s3 = await startS3Server({ dir: path.join(dir, "s3") });
  for (const bucket of ["state-lost-s3", "state-lost-oss", "journals"]) await s3.createBucket(bucket);
  client = s3.client();
  oss = await startOssEmulator({ credentials: [{ accessKeyId: TEST_KEY_ID, accessKeySecret: TEST_SECRET }] });
  oss.createBucket("journals");
  oss.createBucket("versioned", { versioning: "Suspended" });
}, 120_000);
afterAll(async () => {
  client?.destroy();
  await oss?.stop();
  await s3?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  emu = await threadEmulator({ latency: { fixedMs: 20, jitterMs: 10 } });
});
afterEach(async () => {
  for (const host of providerHosts()) process.kill(host.pid, "SIGKILL");
  await emu.stop();
  for (const r of runners.splice(0)) r.dispose();
});

/** `iotReset:journal` for the journal under `prefix` in the `journals` bucket of S3 (SeaweedFS) or OSS (the emulator). */
function journalUrl(prefix: string, store: "s3" | "oss" = "s3"): string {
  return store === "s3"
    ? `s3://journals/${prefix}?endpoint=${s3.endpoint}&region=${s3.region}&forcePathStyle=true&lease=${LEASE_SECONDS}`
    : `oss://journals/${prefix}?endpoint=${oss.endpoint}&lease=${LEASE_SECONDS}`;
}

/** A runner: a work folder and PULUMI_HOME of its own, the state in the S3 server, the journal in `store`. */
async function runner(
  stateBucket: string,
  journalPrefix: string,
  devices: number,
  store: "s3" | "oss" = "s3",
): Promise<TestStack> {
  // The AWS SDK's default chain finds the server's keys in the environment, as a pipeline's does.
  const t = await testStack(cohortProgram, { backendUrl: s3.backendUrl(stateBucket), env: s3.env() });
  runners.push(t);
  await t.stack.setConfig(
    {
      "alicloud:region": "cn-shanghai",
      "iotReset:journal": journalUrl(journalPrefix, store),
      endpoint: emu.endpoint,
      devices: String(devices),
      campaign: "c1",
      stage: "3",
      batchSize: "250",
    },
    { "alicloud:accessKey": TEST_KEY_ID, "alicloud:secretKey": TEST_SECRET },
  );
  return t;
}

async function keys(bucket: string, prefix: string): Promise<string[]> {
  const out: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }),
    );
    out.push(...(page.Contents ?? []).map((o) => o.Key as string));
    token = page.NextContinuationToken;
  } while (token);
  return out;
}

/** The writers of the journal's segments that hold entries, in order of their first such segment. */
async function entryWriters(prefix: string): Promise<string[]> {
  const writers: string[] = [];
  for (const key of (await keys("journals", prefix)).filter((k) => k.includes("/seg-")).sort()) {
    const out = await client.send(new GetObjectCommand({ Bucket: "journals", Key: key }));
    const header = JSON.parse(((await out.Body?.transformToString()) ?? "").split("\n")[0] as string) as {
      kind: string;
      writer: { id: string };
    };
    if (header.kind === "entries" && !writers.includes(header.writer.id)) writers.push(header.writer.id);
  }
  return writers;
}

/** Resets applied per device key, from the emulator's log in one call: each successful ResetThing reset its device. */
function resetCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of emu.requests({ action: "ResetThing", outcome: "success" })) {
    const key = `${r.params.ProductKey}/${r.params.DeviceName}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/**
 * What an operator does about the devices an update names as unknown outcomes: checks each in the console (here,
 * the emulator), then accepts the ones that were reset and resends the others, each under the resend number the
 * error gives (`key#2` for a device whose resend was lost too), in the config both clones share.
 */
class Decisions {
  private readonly accept = new Set<string>();
  /** The resend entry of each device to send again, by device key. */
  private readonly resend = new Map<string, string>();

  /** Takes the devices `result` names; returns how many it named. */
  async decide(result: RunResult, runners: readonly TestStack[]): Promise<number> {
    const named = [...result.errors.join("\n").matchAll(/iotReset:resendUnknown "([^"]+)"/g)].flatMap((m) =>
      (m[1] as string).split(","),
    );
    const reset = resetCounts();
    const keys = new Set<string>();
    for (const entry of named) {
      const key = entry.replace(/#\d+$/, "");
      keys.add(key);
      if ((reset.get(key) ?? 0) > 0) {
        this.resend.delete(key);
        this.accept.add(key);
      } else this.resend.set(key, entry);
    }
    for (const t of runners) {
      await t.stack.mergeConfig({
        "iotReset:acceptUnknown": [...this.accept].join(","),
        "iotReset:resendUnknown": [...this.resend.values()].join(","),
      });
    }
    return keys.size;
  }
}

test.each([
  ["S3", "s3", DEVICES],
  ["OSS", "oss", OSS_DEVICES],
] as const)(
  "runners lost at 3 seeded moments, the journal in %s and the state in S3: every device reset exactly once",
  async (_name, store, devices) => {
    emu.addDevices(
      "a1Cohort",
      cohortFleet(devices).map((d) => ({ deviceName: d.deviceName })),
    );
    const a = await runner(`state-lost-${store}`, "lost", devices, store);
    const b = await runner(`state-lost-${store}`, "lost", devices, store);
    const decisions = new Decisions();
    const random = mulberry32(SEED);
    const successes = () => emu.totalResets();
    let unknown = 0;
    let takenOver = 0;
    for (const [kill, t] of [a, b, a].entries()) {
      const target = successes() + Math.floor((devices - successes()) * (0.15 + 0.3 * random()));
      let running: Promise<RunResult>;
      for (;;) {
        let settled: RunResult | undefined;
        running = t.stack.up().then((r) => (settled = r));
        await waitFor(() => successes() >= target || settled !== undefined, 300_000);
        if (settled === undefined) break;
        // Ended before the kill: only the devices the lost runner left without an outcome may stop it.
        const named = await decisions.decide(settled, [a, b]);
        expect(named).toBeGreaterThan(0);
        unknown += named;
        if (settled.warnings.concat(settled.infos).join("\n").includes("this update takes it over")) takenOver++;
      }
      const cli = pulumiCli();
      const hosts = providerHosts(cli?.pid);
      expect(hosts).toHaveLength(1);
      // The runner is lost: the CLI and the provider host die at once, and nothing records how their last resets ended.
      for (const p of [cli?.pid as number, ...hosts.map((h) => h.pid)]) process.kill(p, "SIGKILL");
      const killedAt = Date.now();
      expect((await running).exitCode).not.toBe(0);
      expect(await waitFor(() => hosts.every((h) => !alive(h.pid)), 5_000)).toBe(true);
      expect(emu.requests({ action: "ResetThing" }).filter((r) => r.time > killedAt + 1000)).toEqual([]);
      // The operator, knowing the runner is gone, removes its stack lock from the other runner's clone.
      (kill % 2 === 0 ? b : a).stack.cli(["cancel", "--yes", "--stack", "test"]);
    }
    // Runner B goes on to the end: it waits out the lost writer's lease, takes the journal over, holds the devices sent
    // without a recorded answer until the operator decides, and sends the rest.
    for (let run = 0; ; run++) {
      const result = await b.stack.up();
      if (result.warnings.concat(result.infos).join("\n").includes("this update takes it over")) takenOver++;
      if (result.exitCode === 0) {
        expect(result.errors).toEqual([]);
        break;
      }
      // The engine starts no further batch once one fails, so each run may name the unknown devices of more
      // batches; a run that names none is stuck, and its errors say why.
      const named = await decisions.decide(result, [a, b]);
      if (named === 0 || run >= 8) expect(result.errors).toEqual([]);
      unknown += named;
    }
    expect(takenOver).toBeGreaterThanOrEqual(1);
    expect(unknown).toBeGreaterThan(0);
    const reset = resetCounts();
    const counts = new Map<number, number>();
    for (const d of cohortFleet(devices)) {
      const n = reset.get(`${d.productKey}/${d.deviceName}`) ?? 0;
      counts.set(n, (counts.get(n) ?? 0) + 1);
    }
    expect(Object.fromEntries(counts)).toEqual({ 1: devices });
    // The journal lives in the bucket only: neither runner's folder holds one.
    for (const t of [a, b]) expect(fs.existsSync(path.join(t.dir, "work", ".iot-reset"))).toBe(false);
  },
  1_200_000,
);

test(`two updates of one stack started within 50 ms, the stack lock out of play, ${RACES} times: one writer, the other stops before any reset`, async () => {
  const devices = 300;
  emu.addDevices(
    "a1Cohort",
    cohortFleet(devices).map((d) => ({ deviceName: d.deviceName })),
  );
  const executed = () => emu.requests({ action: "ResetThing" }).filter((r) => r.outcome !== "throttled").length;
  for (let race = 0; race < RACES; race++) {
    const before = executed();
    // Each update keeps its state in a bucket of its own, so no stack lock stands between them: only the journal.
    const prefix = `race-${race}`;
    for (const bucket of [`state-${race}-a`, `state-${race}-b`]) await s3.createBucket(bucket);
    const pair = [await runner(`state-${race}-a`, prefix, devices), await runner(`state-${race}-b`, prefix, devices)];
    // 300 resets at 50 a second take 6 s, longer than two CLIs' start-up can differ on a busy machine: the updates
    // overlap, rather than one finishing before the other opens the journal.
    for (const t of pair) await t.stack.mergeConfig({ "iotReset:resetQps": "50" });
    const t0 = Date.now();
    const spans: string[] = [];
    const results = await Promise.all(
      pair.map(async (t, i) => {
        await new Promise((r) => setTimeout(r, i * 25));
        const start = Date.now() - t0;
        const result = await t.stack.up();
        spans.push(`update ${i}: ${start}-${Date.now() - t0} ms, exit ${result.exitCode}`);
        return result;
      }),
    );
    const refused = results.filter((r) => r.exitCode !== 0);
    // One outcome in one assertion: a failure shows the writers, the calls and when each update ran.
    expect({ race, refused: refused.length, writers: await entryWriters(`${prefix}/`), spans }).toEqual({
      race,
      refused: 1,
      writers: [expect.any(String)],
      spans: expect.any(Array),
    });
    expect(refused[0]?.errors.join("\n")).toMatch(
      /The reset journal s3:\/\/journals\/race-\d+\/journal-iot-reset-e2e-test\/ is in use by another update of this stack: writer [0-9a-f-]{36} \(host [^,]+, process \d+, open since [^)]+\) wrote its segment \d+ at \S+\. This update stops before sending any reset/,
    );
    expect(results.find((r) => r.exitCode === 0)?.errors).toEqual([]);
    // The winner reset the whole selection (stage 3 of [10, 50, 100]), once each.
    expect(executed() - before).toBe(devices);
    for (const t of runners.splice(0)) t.dispose();
  }
}, 1_200_000);

test("a journal in a versioned OSS bucket is refused before anything is sent, naming the bucket", async () => {
  emu.addDevices("a1Cohort", [{ deviceName: "dev-00000" }, { deviceName: "dev-00001" }]);
  await s3.createBucket("state-versioned");
  const t = await runner("state-versioned", "p", 2, "oss");
  await t.stack.mergeConfig({ "iotReset:journal": `oss://versioned/p?endpoint=${oss.endpoint}` });
  const result = await t.stack.up();
  expect(result.exitCode).not.toBe(0);
  expect(result.errors.join("\n")).toMatch(
    /The reset journal's bucket oss:\/\/versioned has versioning Suspended \(GetBucketVersioning, RequestId: [^)]+\): OSS ignores x-oss-forbid-overwrite/,
  );
  expect(emu.requests({ action: "ResetThing" })).toEqual([]);
});
