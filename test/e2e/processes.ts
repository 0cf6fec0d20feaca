/**
 * The processes an engine operation starts, found under /proc: the Pulumi CLI (a child of the test) and the
 * dynamic-provider host it starts. Tests kill and interrupt them as an operator's terminal or a CI runner would.
 */
import * as fs from "fs";

/** A running process. */
export interface ProcessInfo {
  readonly pid: number;
  readonly ppid: number;
  readonly argv: readonly string[];
}

function processes(): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      // The command name may hold spaces and parentheses; the fields after its last ")" are fixed.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[0] === "Z") continue;
      const argv = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").filter(Boolean);
      found.push({ pid: Number(entry), ppid: Number(fields[1]), argv });
    } catch {
      // The process ended while it was read.
    }
  }
  return found;
}

/** Every process descended from `root`. */
export function descendants(root: number = process.pid): ProcessInfo[] {
  const all = processes();
  const result: ProcessInfo[] = [];
  const parents = new Set([root]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of all) {
      if (parents.has(p.ppid) && !parents.has(p.pid)) {
        parents.add(p.pid);
        result.push(p);
        grew = true;
      }
    }
  }
  return result;
}

/** The Pulumi CLI running an operation for this process, once it has started. */
export function pulumiCli(): ProcessInfo | undefined {
  return descendants().find((p) => /(^|\/)pulumi$/.test(p.argv[0] ?? "") && p.argv.includes("--exec-kind"));
}

/** The dynamic-provider hosts below `root`. */
export function providerHosts(root: number = process.pid): ProcessInfo[] {
  return descendants(root).filter((p) => p.argv.some((a) => a.endsWith("cmd/dynamic-provider/index.js")));
}

/** Whether a process is still alive (a zombie is not). */
export function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** Waits until `condition` holds, checking every 20 ms, for at most `limitMs`; returns whether it held. */
export async function waitFor(condition: () => boolean, limitMs: number): Promise<boolean> {
  const until = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > until) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}
