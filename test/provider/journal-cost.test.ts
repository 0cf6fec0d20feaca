// What the reset journal costs: one batch of devices through the provider against the emulator (its own process, as
// `iot-emulator`) enforcing a ResetThing quota with 25–35 ms latency, with the journal (fsync'd group commits on
// this machine's disk) and with `iotReset:journal` `off`, alternated. A measurement, not a timed assertion: it is
// skipped unless IOT_RESET_MEASURE_JOURNAL=1, and prints its numbers. Build first (`npx tsc -p tsconfig.json`).
//
//   IOT_RESET_MEASURE_JOURNAL=1 npx jest test/provider/journal-cost.test.ts
import { ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as batch from "../../provider/host/batch-reset";
import { context } from "./support";

const CLI = path.join(__dirname, "..", "..", "lib", "emulator", "cli.js");
const N = Number(process.env.IOT_RESET_MEASURE_DEVICES ?? 5000);
const ROUNDS = Number(process.env.IOT_RESET_MEASURE_ROUNDS ?? 3);
const measure = process.env.IOT_RESET_MEASURE_JOURNAL === "1" ? test : test.skip;

interface Run {
  readonly rate: number;
  readonly batches: number;
  readonly lines: number;
  readonly writeMs: number;
}

async function startCli(qps: number, fleet: string): Promise<{ child: ChildProcessWithoutNullStreams; info: any }> {
  const args = [CLI, "--json", "--port", "0", "--fleet", fleet, "--qps", `ResetThing=${qps}`];
  const child = spawn(process.execPath, [...args, "--latency-ms", "25", "--jitter-ms", "10"], { stdio: "pipe" });
  const line = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString("utf8");
      if (out.includes("\n")) resolve(out.slice(0, out.indexOf("\n")));
    });
    child.on("exit", (code) => reject(new Error(`iot-emulator exited with ${code}`)));
  });
  return { child, info: JSON.parse(line) };
}

async function run(journal: boolean, qps: number, fleet: string, dir: string): Promise<Run> {
  const { child, info } = await startCli(qps, fleet);
  try {
    const devices = Array.from({ length: N }, (_, i) => ({
      productKey: "a1Cost",
      deviceName: `dev-${String(i).padStart(5, "0")}`,
    }));
    const config: Record<string, string> = {
      "alicloud:region": "cn-shanghai",
      "alicloud:accessKey": info.accessKeyId,
      "alicloud:secretKey": info.accessKeySecret,
      "iotReset:resetQps": String(qps),
      "iotReset:journal": journal ? `journal-${Date.now()}.jsonl` : "off",
    };
    const ctx = context(config, dir);
    const started = performance.now();
    const result = await batch.create(ctx, { campaign: "cost", devices, endpoint: info.endpoint });
    const seconds = (performance.now() - started) / 1000;
    expect(result.outs.resetCount).toBe(N);
    const stats = ctx.openJournal?.stats ?? { batches: 0, lines: 0, writeMs: 0 };
    await ctx.openJournal?.close();
    return { rate: N / seconds, ...stats };
  } finally {
    child.kill("SIGTERM");
  }
}

measure(
  "journal cost",
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "journal-cost-"));
    const fleet = path.join(dir, "fleet.json");
    fs.writeFileSync(
      fleet,
      JSON.stringify({ products: [{ productKey: "a1Cost", generate: { prefix: "dev-", count: N, pad: 5 } }] }),
    );
    const rows: string[] = [
      `${N} devices, ${ROUNDS} rounds each, alternated; load average ${os.loadavg()[0]?.toFixed(1)}`,
    ];
    for (const qps of [500, 5000]) {
      const off: Run[] = [];
      const on: Run[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        off.push(await run(false, qps, fleet, dir));
        on.push(await run(true, qps, fleet, dir));
      }
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
      const rOff = median(off.map((r) => r.rate));
      const rOn = median(on.map((r) => r.rate));
      const batches = on.reduce((n, r) => n + r.batches, 0);
      const lines = on.reduce((n, r) => n + r.lines, 0);
      const writeMs = on.reduce((n, r) => n + r.writeMs, 0);
      rows.push(
        `quota ${qps}/s: journal off ${off.map((r) => r.rate.toFixed(0)).join(", ")} resets/s (median ${rOff.toFixed(0)}); ` +
          `on ${on.map((r) => r.rate.toFixed(0)).join(", ")} (median ${rOn.toFixed(0)}); cost ${(100 * (1 - rOn / rOff)).toFixed(1)}%; ` +
          `${(lines / batches).toFixed(1)} lines per fdatasync'd write, ${(writeMs / batches).toFixed(2)} ms per write`,
      );
    }
    rows.push(`load average after: ${os.loadavg()[0]?.toFixed(1)}`);
    process.stdout.write(`\n${rows.join("\n")}\n`);
  },
  1_800_000,
);
