/**
 * The GitOps example's comment scripts, run as CI runs them: `scripts/comment.sh` against a stand-in `gh` that keeps a
 * pull request's comments, `scripts/comment-gitlab.sh` against a stand-in of GitLab's notes API on 127.0.0.1. Each push
 * edits one plan comment rather than adding another, a plan over the limit is cut saying so, a failed preview replaces
 * the plan with a note, and outside a pull request the scripts fail naming why.
 */
import { execFile } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as os from "os";
import * as path from "path";

import { ROOT } from "../../engine/root";

const SCRIPTS = path.join(ROOT, "examples", "gitops", "scripts");
const MARKER = "<!-- iot-reset-plan -->";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "iot-comment-"));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** One API call a stand-in answered: its method, its path (with the query) and the body it sent, if any. */
interface Call {
  readonly method: string;
  readonly path: string;
  readonly body?: string;
}

/** A comment (GitHub) or note (GitLab) on the pull or merge request. */
interface Note {
  readonly id: number;
  body: string;
}

/** How a script ended. */
interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a script with bash in `dir`, with only `env` and a PATH that finds the stand-ins first. */
function run(script: string, args: readonly string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      "bash",
      [path.join(SCRIPTS, script), ...args],
      { cwd: dir, env: { PATH: `${path.join(dir, "bin")}:${process.env.PATH}`, HOME: dir, ...env } },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code) : 0, stdout, stderr }),
    );
  });
}

/** Writes a plan file in `dir` and returns its name. */
function plan(text: string, name = "comment.md"): string {
  fs.writeFileSync(path.join(dir, name), text);
  return name;
}

describe("comment.sh (GitHub)", () => {
  interface Comment extends Note {
    readonly html_url: string;
  }
  interface PullRequest {
    comments: Comment[];
    calls: Call[];
  }

  /**
   * A stand-in `gh` that answers `gh api` from a JSON file holding the pull request's comments, and records each call:
   * the list (`--paginate --slurp`: an array of pages), a new comment (POST) and an edit (PATCH).
   */
  const FAKE_GH = `#!/usr/bin/env node
const fs = require("fs");
const file = process.env.FAKE_GH_STATE;
const pr = JSON.parse(fs.readFileSync(file, "utf8"));
const args = process.argv.slice(2);
const option = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const method = option("--method") ?? "GET";
const route = args.find((arg, i) => i > 0 && !arg.startsWith("--") && !args[i - 1].match(/^--(method|input)$/));
const input = option("--input");
const body = input === undefined ? undefined : JSON.parse(fs.readFileSync(input, "utf8")).body;
pr.calls.push(body === undefined ? { method, path: route } : { method, path: route, body });
let answer;
if (method === "GET" && args.includes("--slurp")) answer = [pr.comments];
else if (method === "POST") {
  const id = 1001 + pr.comments.length;
  answer = { id, body, html_url: "https://github.com/fleet/ops/pull/7#issuecomment-" + id };
  pr.comments.push(answer);
} else if (method === "PATCH") {
  answer = pr.comments.find((c) => route.endsWith("/comments/" + c.id));
  answer.body = body;
}
fs.writeFileSync(file, JSON.stringify(pr));
process.stdout.write(JSON.stringify(answer));
`;

  const state = () => path.join(dir, "pull-request.json");
  const read = (): PullRequest => JSON.parse(fs.readFileSync(state(), "utf8"));

  /** The stand-in `gh` on PATH, a pull request with `comments`, and the event of a push to it at `head`. */
  function pullRequest(
    comments: Comment[],
    event: object = { pull_request: { number: 7, head: { sha: "abcdef1234567890" } } },
  ) {
    fs.mkdirSync(path.join(dir, "bin"));
    fs.writeFileSync(path.join(dir, "bin", "gh"), FAKE_GH, { mode: 0o755 });
    fs.writeFileSync(state(), JSON.stringify({ comments, calls: [] }));
    fs.writeFileSync(path.join(dir, "event.json"), JSON.stringify(event));
  }

  const env = (eventName = "pull_request") => ({
    FAKE_GH_STATE: state(),
    GITHUB_REPOSITORY: "fleet/ops",
    GITHUB_EVENT_PATH: path.join(dir, "event.json"),
    GITHUB_EVENT_NAME: eventName,
    GITHUB_SERVER_URL: "https://github.com",
    GITHUB_RUN_ID: "42",
  });

  const FOOTER = "\n\n_Plan of abcdef123456 ([run](https://github.com/fleet/ops/actions/runs/42))._\n";

  test("the first push posts one comment that starts with the marker; the next push edits it, adding none", async () => {
    // A reviewer's quote of an earlier plan starts with "> ", so it is not taken for the plan comment.
    const quote = { id: 900, body: `> ${MARKER}\n> ## Plan\nwhy 12 devices?`, html_url: "q" };
    pullRequest([quote]);

    const said = (outcome: string) => ({
      code: 0,
      stdout: `comment.sh: ${outcome} on pull request #7: https://github.com/fleet/ops/pull/7#issuecomment-1002\n`,
      stderr: "",
    });
    expect(await run("comment.sh", [plan("## Plan\n\n12 devices to reset\n")], env())).toEqual(
      said("posted the plan comment"),
    );
    expect(await run("comment.sh", [plan("## Plan\n\n15 devices to reset\n")], env())).toEqual(
      said("updated the plan comment"),
    );

    const pr = read();
    expect(pr.comments.map((c) => c.id)).toEqual([900, 1002]);
    expect(pr.comments[1]!.body).toBe(`${MARKER}\n## Plan\n\n15 devices to reset${FOOTER}`);
    expect(pr.calls).toEqual([
      { method: "GET", path: "repos/fleet/ops/issues/7/comments?per_page=100" },
      {
        method: "POST",
        path: "repos/fleet/ops/issues/7/comments",
        body: `${MARKER}\n## Plan\n\n12 devices to reset${FOOTER}`,
      },
      { method: "GET", path: "repos/fleet/ops/issues/7/comments?per_page=100" },
      { method: "PATCH", path: "repos/fleet/ops/issues/comments/1002", body: pr.comments[1]!.body },
    ]);
  });

  test("a plan over GitHub's 65,536 characters is cut at a line's end, saying so and where the whole plan is", async () => {
    pullRequest([]);
    // 4,000 lines of 32 characters, some of them two bytes each: the limit counts characters, not bytes.
    const lines = Array.from({ length: 4000 }, (_, i) => `| dev-${String(i).padStart(5, "0")} | é设备 | reset |`);
    const whole = lines.join("\n") + "\n";

    const result = await run("comment.sh", [plan(whole)], env());
    expect(result.code).toBe(0);

    const body = read().comments[0]!.body;
    expect(body.length).toBeLessThanOrEqual(65_536);
    expect(body.length).toBeGreaterThan(65_000);
    const note =
      `\n\n**The plan is cut here:** it has ${whole.length - 1} characters, and a comment holds at most 65536. ` +
      "The whole plan is in the run's `plan` artifact.";
    expect(body.endsWith(note + FOOTER)).toBe(true);
    const kept = body.slice(MARKER.length + 1, body.length - note.length - FOOTER.length).split("\n");
    expect(kept).toEqual(lines.slice(0, kept.length));
  });

  test("without a plan (the preview failed) the comment says so in the plan's place", async () => {
    pullRequest([]);

    const result = await run("comment.sh", ["out/comment.md"], env());
    expect(result.code).toBe(0);
    expect(read().comments[0]!.body).toBe(
      `${MARKER}\n**No plan for this push:** the preview of abcdef123456 did not finish, so no plan could be made; ` +
        `see the run. A plan posted for an earlier push no longer applies.${FOOTER}`,
    );
  });

  test("outside a pull request it fails naming the event, and calls no API", async () => {
    pullRequest([], { ref: "refs/heads/main" });

    const result = await run("comment.sh", [plan("## Plan\n")], env("push"));
    expect(result).toEqual({
      code: 1,
      stdout: "",
      stderr:
        "comment.sh: not in a pull request (the event is push): the plan comment belongs on one; " +
        "run it from a workflow started by pull_request\n",
    });
    expect(read().calls).toEqual([]);
  });
});

describe("comment-gitlab.sh (GitLab)", () => {
  const TOKEN = "glpat-test-token";

  /**
   * GitLab's notes API for merge request !7 of project 31 on 127.0.0.1, with `notes` on pages of `per_page` and the
   * `x-next-page` header; a request without the token is refused as GitLab does.
   */
  async function gitlab(notes: Note[]): Promise<{ url: string; calls: Call[]; close: () => Promise<void> }> {
    const calls: Call[] = [];
    const server = http.createServer((req, res) => {
      let raw = "";
      req.on("data", (chunk: Buffer) => (raw += chunk.toString()));
      req.on("end", () => {
        const url = new URL(req.url!, "http://gitlab");
        const body = raw ? (new URLSearchParams(raw).get("body") ?? undefined) : undefined;
        calls.push(
          body === undefined ? { method: req.method!, path: req.url! } : { method: req.method!, path: req.url!, body },
        );
        const json = (status: number, value: unknown, headers: Record<string, string> = {}) => {
          res.writeHead(status, { "content-type": "application/json", ...headers });
          res.end(JSON.stringify(value));
        };
        if (req.headers["private-token"] !== TOKEN) return json(401, { message: "401 Unauthorized" });
        const base = "/api/v4/projects/31/merge_requests/7/notes";
        if (req.method === "GET" && url.pathname === base) {
          const perPage = Number(url.searchParams.get("per_page"));
          const page = Number(url.searchParams.get("page"));
          const next = page * perPage < notes.length ? String(page + 1) : "";
          return json(200, notes.slice((page - 1) * perPage, page * perPage), { "x-next-page": next });
        }
        if (req.method === "POST" && url.pathname === base) {
          const note = { id: 5000 + notes.length, body: body! };
          notes.push(note);
          return json(201, note);
        }
        const note = notes.find((n) => url.pathname === `${base}/${n.id}`);
        if (req.method === "PUT" && note) {
          note.body = body!;
          return json(200, note);
        }
        json(404, { message: "404 Not found" });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as net.AddressInfo;
    return {
      url: `http://127.0.0.1:${port}/api/v4`,
      calls,
      close: () => new Promise((resolve) => server.close(() => resolve())),
    };
  }

  const env = (api: string, token = TOKEN) => ({
    CI_API_V4_URL: api,
    CI_PROJECT_ID: "31",
    CI_MERGE_REQUEST_IID: "7",
    CI_COMMIT_SHORT_SHA: "abcdef12",
    CI_JOB_URL: "https://gitlab.example/fleet/ops/-/jobs/42",
    GITLAB_TOKEN: token,
  });

  const FOOTER = "\n\n_Plan of abcdef12 ([run](https://gitlab.example/fleet/ops/-/jobs/42))._\n";

  test("past a page of system notes, the first push posts one note; the next push edits it, adding none", async () => {
    // A merge request gathers a system note per push: 150 of them fill more than one page of 100.
    const notes: Note[] = Array.from({ length: 150 }, (_, i) => ({ id: i + 1, body: `added ${i + 1} commits` }));
    const api = await gitlab(notes);
    try {
      const first = await run("comment-gitlab.sh", [plan("## Plan\n\n12 devices to reset\n")], env(api.url));
      expect(first).toEqual({
        code: 0,
        stdout: "comment-gitlab.sh: posted the plan note on merge request !7\n",
        stderr: "",
      });
      notes.push({ id: 6000, body: "added 1 commit" });

      const second = await run("comment-gitlab.sh", [plan("## Plan\n\n15 devices to reset\n")], env(api.url));
      expect(second).toEqual({
        code: 0,
        stdout: "comment-gitlab.sh: updated the plan note 5150 on merge request !7\n",
        stderr: "",
      });

      expect(notes.filter((n) => n.body.startsWith(MARKER))).toEqual([
        { id: 5150, body: `${MARKER}\n## Plan\n\n15 devices to reset${FOOTER}` },
      ]);
      const list = (page: number) => ({
        method: "GET",
        path: `/api/v4/projects/31/merge_requests/7/notes?per_page=100&page=${page}&sort=asc&order_by=created_at`,
      });
      expect(api.calls).toEqual([
        list(1),
        list(2),
        {
          method: "POST",
          path: "/api/v4/projects/31/merge_requests/7/notes",
          body: `${MARKER}\n## Plan\n\n12 devices to reset${FOOTER}`,
        },
        list(1),
        list(2),
        { method: "PUT", path: "/api/v4/projects/31/merge_requests/7/notes/5150", body: notes[150]!.body },
      ]);
    } finally {
      await api.close();
    }
  });

  test("a refused token fails with GitLab's answer", async () => {
    const api = await gitlab([]);
    try {
      const result = await run("comment-gitlab.sh", [plan("## Plan\n")], env(api.url, "glpat-revoked"));
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(
        'curl: (22) The requested URL returned error: 401\ncomment-gitlab.sh: GitLab answered: {"message":"401 Unauthorized"}\n',
      );
    } finally {
      await api.close();
    }
  });

  test("outside a merge request pipeline it fails naming why, before any request", async () => {
    const result = await run("comment-gitlab.sh", [plan("## Plan\n")], { GITLAB_TOKEN: TOKEN });
    expect(result).toEqual({
      code: 1,
      stdout: "",
      stderr:
        "comment-gitlab.sh: not in a merge request pipeline (no CI_MERGE_REQUEST_IID): the plan note belongs on a " +
        "merge request; run it in a job whose rules take merge_request_event\n",
    });
  });
});
