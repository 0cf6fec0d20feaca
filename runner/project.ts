import * as fs from "fs";
import * as path from "path";

/** What the runner needs from `Pulumi.yaml`. */
export interface ProjectFile {
  /** Project name (`name:`). */
  readonly name: string;
  /** Program entry relative to the project directory (`main:`), if set. */
  readonly main?: string;
}

function unquote(s: string): string {
  const t = s.trim();
  if (t.length >= 2 && ((t.startsWith('"') && t.endsWith('"')) || (t.startsWith("'") && t.endsWith("'")))) {
    return t.slice(1, -1);
  }
  return t;
}

/** Strips a trailing ` # comment`, which YAML allows after a plain scalar. */
function stripComment(s: string): string {
  const i = s.search(/\s#/);
  return i >= 0 ? s.slice(0, i) : s;
}

/**
 * Reads `name:` and `main:` from `Pulumi.yaml`. There is no YAML library in the project, and these
 * two top-level scalars are all the runner uses, so a line reader is enough.
 */
export function readProject(programDir: string): ProjectFile {
  const file = path.join(programDir, "Pulumi.yaml");
  const text = fs.readFileSync(file, "utf8");
  let name: string | undefined;
  let main: string | undefined;
  for (const line of text.split(/\r?\n/)) {
    const m = /^(name|main):\s*(.*)$/.exec(line);
    if (!m) continue;
    const value = unquote(stripComment(m[2] ?? ""));
    if (m[1] === "name") name = value;
    else main = value;
  }
  if (!name) throw new Error(`${file} has no \`name:\``);
  return main ? { name, main } : { name };
}

/** Qualifies a config key with the project namespace as `pulumi config set` does (`key` → `project:key`). */
export function qualifyKey(key: string, project: string): string {
  return key.includes(":") ? key : `${project}:${key}`;
}

/**
 * Reads the `config:` map of `Pulumi.<stack>.yaml` (plain scalar values only). Returns an empty map
 * when the file does not exist, as a new stack has no config.
 */
export function readStackConfig(programDir: string, stack: string, project: string): Record<string, string> {
  const file = path.join(programDir, `Pulumi.${stack}.yaml`);
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw e;
  }
  const config: Record<string, string> = {};
  let inConfig = false;
  let indent: number | undefined;
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === "" || line.trim().startsWith("#")) continue;
    const lead = line.length - line.trimStart().length;
    if (lead === 0) {
      inConfig = /^config:\s*$/.test(line);
      indent = undefined;
      continue;
    }
    if (!inConfig) continue;
    indent ??= lead;
    // Deeper lines belong to a structured value (e.g. `secure:`), which the runner does not support.
    if (lead > indent) {
      throw new Error(`${file}: only plain \`key: value\` config entries are supported, not ${line.trim()}`);
    }
    // Keys hold a namespace colon (`alicloud:region`), so split on the first ": " or a trailing ":".
    const m = /^(\S+?):(?:\s+(.*))?$/.exec(line.trim());
    if (!m) throw new Error(`${file}: cannot read config line ${line.trim()}`);
    if (m[2] === undefined) {
      throw new Error(`${file}: config ${m[1]} is not a plain value (secure values are not supported)`);
    }
    config[qualifyKey(m[1] ?? "", project)] = unquote(stripComment(m[2]));
  }
  return config;
}
