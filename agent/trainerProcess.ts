import { spawn, type ChildProcess } from "child_process";
import { readdirSync, readFileSync } from "fs";

/**
 * `/proc/<pid>/stat` → state and process group. The command name may hold spaces and parentheses,
 * so fields are counted after the last `)`. Pure.
 */
export function parseProcStat(text: string): { readonly state: string; readonly pgrp: number } | null {
  const end = text.lastIndexOf(")");
  if (end < 0) return null;
  const fields = text.slice(end + 1).trim().split(/\s+/);
  const pgrp = Number(fields[2]);
  return fields[0] !== undefined && Number.isInteger(pgrp) ? { state: fields[0], pgrp } : null;
}

/**
 * Whether a process group still has a living member. Zombies do not count: when the agent runs
 * as PID 1 without an init, orphaned trainer processes are never reaped, but they write nothing
 * and hold no GPU. Without /proc, any member (zombie or not) counts.
 */
export function processGroupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch {
    return false;
  }
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return true;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = parseProcStat(readFileSync(`/proc/${entry}/stat`, "utf8"));
      if (stat !== null && stat.pgrp === pgid && stat.state !== "Z" && stat.state !== "X") return true;
    } catch {
      // Exited meanwhile.
    }
  }
  return false;
}

export interface TrainerExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface TrainerLaunch {
  readonly command: string;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

/**
 * The trainer, run as `/bin/sh -c <command>` in its own process group so that stopping it reaches
 * the shell, python and every DDP worker it spawned. Its stdout and stderr are the container's.
 */
export class TrainerProcess {
  readonly exited: Promise<TrainerExit>;
  private readonly child: ChildProcess;
  private exit: TrainerExit | null = null;

  constructor(launch: TrainerLaunch) {
    this.child = spawn("/bin/sh", ["-c", launch.command], { env: launch.env, cwd: launch.cwd, stdio: ["ignore", "inherit", "inherit"], detached: true });
    this.exited = new Promise((resolve) => {
      this.child.on("error", () => {
        // spawn failure (no /bin/sh): reported as a failed exit so the retry logic applies.
        if (this.exit === null) resolve((this.exit = { code: 127, signal: null }));
      });
      this.child.on("exit", (code, signal) => {
        if (this.exit === null) resolve((this.exit = { code, signal }));
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exit === null;
  }

  /** Sends a signal to the whole process group. */
  signal(signal: NodeJS.Signals): void {
    const pid = this.child.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // The group is gone already.
    }
  }

  /** Whether any living process of the group is left. */
  groupAlive(): boolean {
    const pid = this.child.pid;
    return pid !== undefined && processGroupAlive(pid);
  }

  /** SIGKILLs what is left of the group and waits (up to `timeoutMs`) until it is gone. */
  async killGroup(timeoutMs = 3_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.groupAlive()) {
      this.signal("SIGKILL");
      if (Date.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return true;
  }

  /**
   * SIGTERM, then SIGKILL after `graceMs`. Resolves once the shell exited and the group got its
   * SIGKILL, so no worker keeps writing checkpoints after the agent takes the last one.
   */
  async stop(graceMs: number): Promise<TrainerExit> {
    const graceEnds = Date.now() + graceMs;
    if (this.exit === null) {
      this.signal("SIGTERM");
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), graceMs);
      });
      const first = await Promise.race([this.exited, timedOut]);
      clearTimeout(timer);
      if (first === "timeout") this.signal("SIGKILL");
    }
    // Workers may outlive the shell (after the grace, or after their own SIGTERM handling):
    // wait until the group is gone, so nothing writes once the agent takes the last checkpoint.
    const exit = await this.exited;
    await this.waitForGroup(graceEnds - Date.now());
    await this.killGroup();
    return exit;
  }

  /** Waits up to `timeoutMs` for the group to exit on its own. */
  private async waitForGroup(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.groupAlive() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
