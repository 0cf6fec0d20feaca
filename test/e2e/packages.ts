/**
 * The package as users install it: `npm pack` of this tree, or the packed tarball of an earlier release, and a
 * scratch project whose `node_modules` holds the tarball's contents (a real folder, not a link) beside links
 * to this repository's dependencies, so that no registry is needed and `@pulumi/pulumi` stays one copy.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..", "..");
const PACKAGE = "pulumi-alicloud-iot-reset";

const run = (command: string, args: string[], cwd: string): string =>
  execFileSync(command, args, { cwd, stdio: "pipe", encoding: "utf8", maxBuffer: 64 << 20 });

/** Packs the tree at `dir` (its `lib/` already built) into `into`; returns the tarball's path. */
function pack(dir: string, into: string): string {
  const name = run("npm", ["pack", "--ignore-scripts", "--silent", "--pack-destination", into], dir).trim();
  return path.join(into, name.split("\n").pop() as string);
}

/** Packs this tree as it is (`npm test` has built `lib/`). */
export function packCurrent(into: string): string {
  return pack(ROOT, into);
}

/**
 * The tarball of an earlier release, packed once and kept in `test/fixtures` (see its README): a test of an upgrade
 * runs on a shallow clone too, which lacks the release's commit.
 */
export function releasedTarball(version: string): string {
  const tarball = path.join(ROOT, "test", "fixtures", `${PACKAGE}-${version}.tgz`);
  if (!fs.existsSync(tarball)) throw new Error(`no packed release ${version}: ${tarball} is missing`);
  return tarball;
}

/** A scratch project's `node_modules` with `tarball` installed as the package; returns its path. */
export function scratchModules(tarball: string, project: string): string {
  const modules = path.join(project, "node_modules");
  fs.rmSync(modules, { recursive: true, force: true });
  fs.mkdirSync(modules, { recursive: true });
  for (const entry of fs.readdirSync(path.join(ROOT, "node_modules"))) {
    if (entry === PACKAGE || entry.startsWith(".")) continue;
    fs.symlinkSync(fs.realpathSync(path.join(ROOT, "node_modules", entry)), path.join(modules, entry));
  }
  const installed = path.join(modules, PACKAGE);
  fs.mkdirSync(installed);
  // npm tarballs hold one top folder, `package/`.
  run("tar", ["-xzf", tarball, "-C", installed, "--strip-components=1"], project);
  return modules;
}

/** Loads the package installed in a scratch project's `node_modules`. */
export function loadInstalled(modules: string): typeof import("../../provider") {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(path.join(modules, PACKAGE));
}

/** A new temporary folder. */
export function scratchDir(label: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `iot-${label}-`));
}
