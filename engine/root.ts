/** The repository's root folder, found from this file whether it runs compiled (`lib/engine/`) or as source. */
import * as fs from "fs";
import * as path from "path";

function findRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, "tools", "pulumi-cli", "go.mod"))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no tools/pulumi-cli/go.mod above ${from}`);
  }
}

/** The repository's root folder. */
export const ROOT = findRoot(__dirname);
