/**
 * The processes of one workload. bench.ts forks each workload detached, which makes it the leader of a new
 * session (and process group). The Pulumi CLI stays in that process group, but it starts its plugins, the
 * dynamic-provider host among them, each in a process group of their own; they stay in the session. So a
 * workload's processes are its session's, read from Linux /proc.
 */
import * as fs from "fs";

/** A process of the session: pid, command line, /proc/<pid>/status, and CPU time used so far. */
export interface SessionProcess {
  readonly pid: number;
  readonly argv: readonly string[];
  readonly status: string;
  /** User + system CPU time, in seconds (clock ticks of 10 ms, Linux's USER_HZ). */
  readonly cpuSeconds: number;
  /**
   * When the process started, in clock ticks since boot: with the pid, what tells one process from a later one that
   * reuses its pid (pids wrap at 32,768 here, and the CLI's threads use them up within a long run).
   */
  readonly startTicks: string;
}

/** The `stat` fields after the command name: state, ppid, pgrp, session, … */
function statFields(pid: string): string[] | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) is in parentheses and may hold spaces.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

function allPids(): string[] {
  try {
    return fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p));
  } catch {
    return [];
  }
}

/** Live members of session `sid` with their stat fields (zombies, already dead, are left out). */
function members(sid: number): Array<{ pid: number; fields: string[] }> {
  const found: Array<{ pid: number; fields: string[] }> = [];
  for (const pid of allPids()) {
    const fields = statFields(pid);
    if (fields !== undefined && Number(fields[3]) === sid && fields[0] !== "Z")
      found.push({ pid: Number(pid), fields });
  }
  return found;
}

/** Live members of session `sid`. Linux only; elsewhere none. */
export function sessionMembers(sid: number): number[] {
  return members(sid).map((m) => m.pid);
}

/** The live members of session `sid` with their command lines, status and CPU time. */
export function sessionProcesses(sid: number): SessionProcess[] {
  const found: SessionProcess[] = [];
  for (const { pid, fields } of members(sid)) {
    try {
      const argv = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      // A process that exited after its stat was read has an empty command line: it is not sampled again, so that
      // its last sample does not take the CLI for something else.
      if (argv[0] === "") continue;
      const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
      // utime and stime are fields 14 and 15 of stat, 12th and 13th after the command name.
      const cpuSeconds = (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) / 100;
      // starttime is field 22 of stat, the 20th after the command name.
      found.push({ pid, argv, status, cpuSeconds, startTicks: fields[19] ?? "" });
    } catch {
      // The process ended between the reads.
    }
  }
  return found;
}

/** Kills every process of session `sid`: its leader's process group, then each member left (plugins). */
export function killSession(sid: number | undefined): void {
  if (sid === undefined) return;
  const kill = (target: number) => {
    try {
      process.kill(target, "SIGKILL");
    } catch {
      // ESRCH: already gone.
    }
  };
  kill(-sid);
  for (const pid of sessionMembers(sid)) kill(pid);
}
