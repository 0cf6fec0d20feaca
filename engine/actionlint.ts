/**
 * actionlint (MIT), the checker of GitHub Actions workflows, at the version pinned in `tools/actionlint/go.mod`:
 * `npm test` lints the GitOps example's workflows with it, so a workflow a team copies is known to parse, to use its
 * actions' real inputs and to write valid expressions. It is built from its Go modules once, into the cache that holds
 * the pinned Pulumi CLI and SeaweedFS (`IOT_RESET_CLI_CACHE`), and reused while the pin is unchanged: no prebuilt
 * binary is downloaded.
 *
 * Run alone (`npm run actionlint`) it builds or finds the binary and prints its path.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

import { goBuild, pinnedCacheDir, requireGo } from "./go-build";
import { ROOT } from "./root";

const MODULE_DIR = path.join(ROOT, "tools", "actionlint");
const ACTIONLINT_PACKAGE = "github.com/rhysd/actionlint/cmd/actionlint";

/** actionlint cannot be built or run; the message says what is missing and what to do. */
export class ActionlintError extends Error {
  override readonly name = "ActionlintError";
}

/**
 * Finds the pinned `actionlint` in the cache, or builds it there (once per pin, with progress lines); resolves to the
 * binary and the version it reports (`-version`'s first line, e.g. `v1.7.12`).
 */
export async function ensureActionlint(
  log: (line: string) => void = (line) => console.error(line),
): Promise<{ readonly binary: string; readonly version: string }> {
  const pin = /github\.com\/rhysd\/actionlint (v\S+)/.exec(
    fs.readFileSync(path.join(MODULE_DIR, "go.mod"), "utf8"),
  )?.[1];
  if (!pin) throw new ActionlintError(`${MODULE_DIR}/go.mod does not pin github.com/rhysd/actionlint`);
  const root = pinnedCacheDir(`actionlint-${pin}`, MODULE_DIR);
  const binary = path.join(root, "bin", "actionlint");
  if (!fs.existsSync(binary)) {
    const go = requireGo(
      `actionlint (${pin})`,
      ", which the tests lint the example's workflows with",
      (message) => new ActionlintError(message),
    );
    log(`Building actionlint ${pin} from its Go modules (${go}); this happens once per pin`);
    log(`  and takes about 30 s on 2 cores the first time. Cache: ${root}`);
    // Built inside another module, actionlint would report its version as "(devel)": its release builds set it so.
    const flags = ["-ldflags", `-s -w -X github.com/rhysd/actionlint.version=${pin}`];
    const error = (message: string) => new ActionlintError(message);
    await goBuild({ moduleDir: MODULE_DIR, pkg: ACTIONLINT_PACKAGE, what: "actionlint", flags, binary, error }, log);
  }
  const probe = spawnSync(binary, ["-version"], { encoding: "utf8" });
  if (probe.status !== 0)
    throw new ActionlintError(`the cached actionlint at ${binary} does not run; delete ${root} and run again`);
  return { binary, version: probe.stdout.split("\n")[0]!.trim() };
}

if (require.main === module) {
  ensureActionlint().then(
    (actionlint) => console.log(`actionlint ${actionlint.version}: ${actionlint.binary}`),
    (err: Error) => {
      console.error(err.message);
      process.exitCode = 1;
    },
  );
}
