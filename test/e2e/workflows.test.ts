/**
 * The GitOps example's GitHub workflows pass actionlint (`engine/actionlint.ts`, the pinned build): they parse, use
 * their actions' real inputs and write valid expressions, so a team that copies `examples/gitops/` starts from
 * workflows that load. Here rather than in `test/unit` because only this project's global setup builds actionlint.
 *
 * Shell and Python checks are off (`-shellcheck=`, `-pyflakes=`): actionlint runs them only when those programs are on
 * PATH, and the verdict should not depend on the machine. The workflows' `run:` lines each call one script.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

import { ensureActionlint } from "../../engine/actionlint";
import { ROOT } from "../../engine/root";

const EXAMPLE = path.join(ROOT, "examples", "gitops");

let actionlint: string;
beforeAll(async () => {
  actionlint = (await ensureActionlint()).binary;
});

/** actionlint's exit code and output on `files`, run in `cwd`, one line per finding. */
function lint(cwd: string, files: readonly string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(actionlint, ["-oneline", "-no-color", "-shellcheck=", "-pyflakes=", ...files], {
    cwd,
    encoding: "utf8",
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

test("the example's pull-request and merge workflows pass actionlint with no finding", () => {
  const workflows = fs
    .readdirSync(path.join(EXAMPLE, ".github", "workflows"))
    .filter((name) => name.endsWith(".yml"))
    .sort();
  expect(workflows).toEqual(["apply.yml", "preview.yml"]);

  const result = lint(
    EXAMPLE,
    workflows.map((name) => path.join(".github", "workflows", name)),
  );
  expect(result).toEqual({ status: 0, stdout: "", stderr: "" });
});

test("a workflow with a misspelt action input and an invalid permission fails actionlint, naming both", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "iot-actionlint-"));
  try {
    fs.mkdirSync(path.join(dir, ".github", "workflows"), { recursive: true });
    fs.writeFileSync(
      path.join(dir, ".github", "workflows", "preview.yml"),
      [
        "name: preview",
        "on:",
        "  pull_request:",
        "    branches: [main]",
        "permissions:",
        "  id-token: writ",
        "jobs:",
        "  preview:",
        "    runs-on: ubuntu-latest",
        "    steps:",
        "      - uses: actions/setup-node@v6",
        "        with:",
        "          node_version: 22",
        "      - run: npm run preview",
        "",
      ].join("\n"),
    );

    const result = lint(dir, [".github/workflows/preview.yml"]);
    expect(result).toEqual({
      status: 1,
      stdout:
        `.github/workflows/preview.yml:6:13: "writ" is invalid as permission of scope "id-token". ` +
        `available values are "write", "none" [permissions]\n` +
        `.github/workflows/preview.yml:13:11: input "node_version" is not defined in action "actions/setup-node@v6". ` +
        `available inputs are "architecture", "cache", "cache-dependency-path", "check-latest", "mirror", ` +
        `"mirror-token", "node-version", "node-version-file", "package-manager-cache", "registry-url", "scope", ` +
        `"token" [action]\n`,
      stderr: "",
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
