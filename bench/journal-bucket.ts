/**
 * The reset journal in S3 for the benchmark (`--journal s3`): a bucket of the scenario's own SeaweedFS server (on
 * 127.0.0.1, started and stopped by the benchmark; with `--backend s3` it holds the state too), and a counting proxy in
 * front of it, so that every request the provider host makes of the bucket is counted and timed where it is sent (SDK
 * retries included), not inferred. After the workload the journal's folder is listed and read: its segment objects (one
 * create-only PutObject each), their bytes and lines.
 */
import * as http from "http";
import type { AddressInfo } from "net";
import { GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import type { S3Server } from "../engine/seaweedfs";

const BUCKET = "iot-reset-journal";
const PREFIX = "bench";

/** One request the provider host made of the bucket, as the proxy saw it. */
interface BucketRequest {
  /** `PUT segment`, `PUT probe`, `PUT other`, `GET`, `LIST`, `DELETE`, `HEAD`, … */
  readonly kind: string;
  readonly status: number;
  /** Epoch ms when the request arrived and when its answer was sent. */
  readonly at: number;
  readonly ms: number;
}

/** Count and latency of one kind of request. */
export interface RequestCount {
  readonly count: number;
  /** Answers of 2xx. */
  readonly ok: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** The journal's bucket traffic and objects of one scenario. */
export interface JournalMeasure {
  /** The `iotReset:journal` the stack had. */
  readonly setting: string;
  /** Requests during the rollout's `pulumi up`, by kind. */
  readonly rollout: Record<string, RequestCount>;
  /** Requests during the whole scenario, by kind. */
  readonly total: Record<string, RequestCount>;
  /** Objects in the journal's folder at the end of the scenario. */
  readonly objects: {
    readonly segments: number;
    readonly snapshots: number;
    readonly bytes: number;
    /** Journal lines (entries) in the segments, header lines not counted. */
    readonly lines: number;
    /** The most lines one segment holds (the largest group commit). */
    readonly maxLines: number;
  };
}

/** The journal's bucket of a running SeaweedFS, behind a counting proxy. */
export interface JournalBucket {
  /** The `iotReset:journal` setting that points the provider at the bucket through the proxy. */
  readonly setting: string;
  /** The environment of the provider host: AWS keys and region for its credential chain. */
  readonly env: Record<string, string>;
  /** Counts and lists what the scenario did; `rollout` is the window of its first `pulumi up`, epoch ms. */
  measure(rollout?: { from: number; to: number }): Promise<JournalMeasure>;
  /** Stops the proxy (the server is its starter's to stop). */
  stop(): Promise<void>;
}

function classify(method: string, url: string): string {
  const u = new URL(url, "http://proxy");
  const key = u.pathname.split("/").slice(2).join("/");
  if (method === "GET" && (u.searchParams.has("list-type") || key === "")) return "LIST";
  if (method === "PUT") {
    const name = key.slice(key.lastIndexOf("/") + 1);
    return name.startsWith("seg-") ? "PUT segment" : name.startsWith(".journal-probe-") ? "PUT probe" : "PUT other";
  }
  return method;
}

function summarize(requests: readonly BucketRequest[]): Record<string, RequestCount> {
  const by = new Map<string, BucketRequest[]>();
  for (const r of requests) {
    const list = by.get(r.kind) ?? [];
    list.push(r);
    by.set(r.kind, list);
  }
  const out: Record<string, RequestCount> = {};
  for (const [kind, rs] of [...by].sort(([a], [b]) => a.localeCompare(b))) {
    const ms = rs.map((r) => r.ms).sort((a, b) => a - b);
    const at = (q: number) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))] ?? 0;
    out[kind] = {
      count: rs.length,
      ok: rs.filter((r) => r.status >= 200 && r.status < 300).length,
      meanMs: ms.reduce((a, b) => a + b, 0) / ms.length,
      p50Ms: at(0.5),
      p99Ms: at(0.99),
      maxMs: ms.at(-1) ?? 0,
    };
  }
  return out;
}

/** Creates the journal's bucket on `server`, and a counting proxy on 127.0.0.1 in front of the server. */
export async function startJournalBucket(server: S3Server): Promise<JournalBucket> {
  const proxy = http.createServer();
  try {
    await server.createBucket(BUCKET);
    const upstream = new URL(server.endpoint);
    const agent = new http.Agent({ keepAlive: true });
    const requests: BucketRequest[] = [];
    proxy.on("request", (req, res) => {
      const at = Date.now();
      const started = performance.now();
      const kind = classify(req.method ?? "GET", req.url ?? "/");
      // The Host header is passed on unchanged: it is part of what the request's signature covers.
      const out = http.request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
          agent,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          answer.on("end", () =>
            requests.push({ kind, status: answer.statusCode ?? 0, at, ms: performance.now() - started }),
          );
        },
      );
      out.on("error", () => {
        requests.push({ kind, status: 0, at, ms: performance.now() - started });
        res.destroy();
      });
      req.pipe(out);
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    const endpoint = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    const setting = `s3://${BUCKET}/${PREFIX}?region=${server.region}&endpoint=${endpoint}&forcePathStyle=true`;
    return {
      setting,
      env: server.env(),
      measure: async (rollout) => {
        const client = server.client();
        try {
          const objects: { key: string; size: number }[] = [];
          let token: string | undefined;
          do {
            const page = await client.send(
              new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${PREFIX}/`, ContinuationToken: token }),
            );
            for (const o of page.Contents ?? []) objects.push({ key: o.Key ?? "", size: o.Size ?? 0 });
            token = page.IsTruncated ? page.NextContinuationToken : undefined;
          } while (token);
          const segments = objects.filter((o) => /\/seg-\d+\.jsonl$/.test(o.key));
          let lines = 0;
          let maxLines = 0;
          for (const s of segments) {
            const out = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: s.key }));
            const text = (await out.Body?.transformToString("utf8")) ?? "";
            const n = text.split("\n").filter(Boolean).length - 1;
            lines += n;
            maxLines = Math.max(maxLines, n);
          }
          return {
            setting,
            rollout: summarize(rollout ? requests.filter((r) => r.at >= rollout.from && r.at <= rollout.to) : []),
            total: summarize(requests),
            objects: {
              segments: segments.length,
              snapshots: objects.filter((o) => /\/snap-\d+\.jsonl$/.test(o.key)).length,
              bytes: segments.reduce((a, s) => a + s.size, 0),
              lines,
              maxLines,
            },
          };
        } finally {
          client.destroy();
        }
      },
      stop: async () => {
        proxy.closeAllConnections();
        await new Promise((resolve) => proxy.close(resolve));
        agent.destroy();
      },
    };
  } catch (err) {
    proxy.close();
    throw err;
  }
}
