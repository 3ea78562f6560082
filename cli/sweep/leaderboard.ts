/**
 * A sweep's leaderboard (issue 12): every trial with its parameters, phase, epochs, the sweep's
 * metric, the rung it reached, attempts and interruptions, what it cost and why it stopped; the
 * sweep's total, what running every trial to its end would have cost, and the winner. Pure: run
 * records (and the keeper's view of the trials not yet running) in, rows out; `renderLeaderboard`,
 * `leaderboardCsv` and `rungsCsv` format them.
 */
import type { Direction } from "../../runspec/sweep/asha";

/** What the leaderboard reads of a trial's run record (a `RunRecord` is one). */
export interface LeaderboardRecord {
  readonly phase: string;
  readonly epoch: number;
  readonly epochs: number;
  readonly metrics: Readonly<Record<string, number>>;
  readonly attempts: number;
  readonly interruptions: number;
  readonly estimatedCostUsd: number;
  readonly error: string | null;
  readonly sweep?: {
    readonly rungs: readonly { readonly rung: number; readonly epoch: number; readonly value: number; readonly promote: boolean; readonly cutoff: number | null }[];
  } | null;
}

export interface LeaderboardTrial {
  readonly id: string;
  readonly params: Readonly<Record<string, string | number | boolean>>;
  readonly runId: string;
  /** The plan's estimate of the trial's cost to its end, when the dataset size was known. */
  readonly estimatedUsd?: number;
}

export interface LeaderboardInput {
  readonly metric: string;
  readonly direction: Direction;
  /** In the sweep's order. */
  readonly trials: readonly LeaderboardTrial[];
  /** Each trial's run record by run id; missing or null when it has none yet. */
  readonly records: ReadonlyMap<string, LeaderboardRecord | null>;
  /** Run records that exist but could not be read, by run id: why (the trial is shown, named, and not ranked). */
  readonly unreadable?: ReadonlyMap<string, string>;
  /** Trials the keeper's last round left waiting (state.json), by trial id: for a free slot or for the budget. */
  readonly waiting?: ReadonlyMap<string, "max-parallel" | "budget">;
  /** Trials given capacity (starts/<trialId>.json), by trial id: when, ISO 8601. */
  readonly started?: ReadonlyMap<string, string>;
  /** The sweep has ended (state.json's `done`): a trial without a record never starts. */
  readonly ended?: boolean;
}

export type TrialOutcome = "pending" | "running" | "completed" | "stopped-early" | "failed" | "unreadable";

/** A rung the trial recorded: its metric at the rung's epoch, and whether it went on. */
export interface LeaderboardRung {
  readonly rung: number;
  readonly epoch: number;
  readonly value: number;
  readonly promote: boolean;
  readonly cutoff: number | null;
}

export interface LeaderboardRow {
  readonly trialId: string;
  readonly runId: string;
  readonly params: Readonly<Record<string, string | number | boolean>>;
  /** The run record's phase, or `pending` before the trial's node wrote one. */
  readonly phase: string;
  readonly outcome: TrialOutcome;
  readonly epoch: number;
  readonly epochs: number;
  /**
   * The trial's best value of the sweep's metric: a completed trial's final one (its best.pt's, what
   * the winner is chosen by); otherwise the best of its latest value and its rung values. Null
   * before the first validation.
   */
  readonly metric: number | null;
  /** 1-based rank among trials with a metric, best first; null without one. */
  readonly rank: number | null;
  /** The highest rung the trial recorded (0-based); null before its first. */
  readonly rung: number | null;
  readonly attempts: number;
  readonly interruptions: number;
  readonly spentUsd: number;
  /** Why it stopped, or what it is doing, in words. */
  readonly why: string;
  /** Its rungs, oldest first: the metric against epochs, for plots. */
  readonly rungs: readonly LeaderboardRung[];
}

export interface Leaderboard {
  readonly rows: readonly LeaderboardRow[];
  readonly spentUsd: number;
  /**
   * What every trial run to its end would have cost: a completed trial's own cost, else its
   * spend scaled to all its epochs, else the plan's estimate; undefined when some trial has neither.
   */
  readonly allToEndUsd: number | undefined;
  /** The best completed trial: what the sweep delivers. */
  readonly winner: LeaderboardRow | undefined;
  readonly counts: Readonly<Record<TrialOutcome, number>>;
}

const RUNNING_PHASES = new Set(["starting", "training", "uploading", "interrupted"]);

export function leaderboard(input: LeaderboardInput): Leaderboard {
  const better = (a: number, b: number): number => (input.direction === "maximize" ? b - a : a - b);
  const unranked = input.trials.map((trial) => rowOf(trial, input.records.get(trial.runId) ?? null, input));
  const ranked = unranked.filter((r) => r.metric !== null).sort((a, b) => better(a.metric!, b.metric!));
  const rankOf = new Map(ranked.map((row, i) => [row.trialId, i + 1]));
  const rows = unranked
    .map((row) => ({ ...row, rank: rankOf.get(row.trialId) ?? null }))
    // Best first; trials without a metric after, in the sweep's order.
    .sort((a, b) => (a.rank ?? Infinity) - (b.rank ?? Infinity));
  const counts = { pending: 0, running: 0, completed: 0, "stopped-early": 0, failed: 0, unreadable: 0 } as Record<TrialOutcome, number>;
  for (const row of rows) counts[row.outcome] += 1;
  const toEnd = input.trials.map((trial) => {
    const row = rows.find((r) => r.trialId === trial.id)!;
    if (row.outcome === "completed") return row.spentUsd;
    if (row.epoch > 0 && row.epochs > 0) return (row.spentUsd * row.epochs) / row.epoch;
    return trial.estimatedUsd;
  });
  return {
    rows,
    spentUsd: rows.reduce((sum, r) => sum + r.spentUsd, 0),
    allToEndUsd: toEnd.every((v) => v !== undefined) ? toEnd.reduce((sum, v) => sum + v!, 0) : undefined,
    winner: rows.find((r) => r.outcome === "completed" && r.metric !== null),
    counts,
  };
}

/** A trial without a readable run record: unreadable, given capacity, or waiting (and for what). */
function withoutRecord(trial: LeaderboardTrial, input: LeaderboardInput): { phase: string; outcome: TrialOutcome; why: string } {
  const unreadable = input.unreadable?.get(trial.runId);
  if (unreadable !== undefined) return { phase: "unreadable", outcome: "unreadable", why: `run record unreadable: ${unreadable}` };
  const startedAt = input.started?.get(trial.id);
  // Given capacity: it holds a slot although its node has not written a record yet.
  if (startedAt !== undefined) return { phase: "pending", outcome: "running", why: `started at ${startedAt}; its node has not written a run record yet` };
  const waiting = input.waiting?.get(trial.id);
  const why =
    waiting === "budget"
      ? input.ended
        ? "never started: the budget ran out (spent + committed + its cost would pass budgetUsd)"
        : "waiting for the budget: its cost would pass budgetUsd"
      : waiting === "max-parallel"
        ? "waiting for a free slot (maxParallel)"
        : input.ended
          ? "never started: the sweep ended"
          : "waiting for a slot or the budget";
  return { phase: "pending", outcome: "pending", why };
}

function rowOf(trial: LeaderboardTrial, record: LeaderboardRecord | null, input: LeaderboardInput): Omit<LeaderboardRow, "rank"> & { rank: null } {
  if (record === null) {
    return {
      trialId: trial.id,
      runId: trial.runId,
      params: trial.params,
      ...withoutRecord(trial, input),
      epoch: 0,
      epochs: 0,
      metric: null,
      rank: null,
      rung: null,
      attempts: 0,
      interruptions: 0,
      spentUsd: 0,
      rungs: [],
    };
  }
  const metric = input.metric;
  const rungs = record.sweep?.rungs ?? [];
  const last = rungs[rungs.length - 1];
  const value = record.metrics[metric];
  const outcome: TrialOutcome =
    record.phase === "completed" ? "completed" : record.phase === "stopped-early" ? "stopped-early" : RUNNING_PHASES.has(record.phase) ? "running" : "failed";
  const why =
    outcome === "completed"
      ? "ran to its end"
      : outcome === "stopped-early" && last !== undefined
        ? `stopped at rung ${last.rung} (epoch ${last.epoch}): ${shownValue(last.value)} ${input.direction === "minimize" ? ">" : "<"} ${last.cutoff?.toFixed(4) ?? "?"}`
        : outcome === "stopped-early"
          ? "stopped early by the sweep"
          : outcome === "running"
            ? record.phase === "interrupted"
              ? "spot interruption: resuming on a new node"
              : record.phase
            : `${record.phase}${record.error ? `: ${record.error}` : ""}`;
  return {
    trialId: trial.id,
    runId: trial.runId,
    params: trial.params,
    phase: record.phase,
    outcome,
    epoch: record.epoch,
    epochs: record.epochs,
    metric: bestValue(outcome === "completed" ? [value] : [value, ...rungs.map((r) => r.value)], input.direction),
    rank: null,
    rung: last?.rung ?? null,
    attempts: record.attempts,
    interruptions: record.interruptions,
    spentUsd: record.estimatedCostUsd,
    why,
    rungs: rungs.map((r) => ({ rung: r.rung, epoch: r.epoch, value: r.value, promote: r.promote, cutoff: r.cutoff })),
  };
}

/** The best of the finite values (a rung's ±Number.MAX_VALUE stands for a missing metric: left out); null when none. */
function bestValue(values: readonly (number | undefined)[], direction: Direction): number | null {
  const known = values.filter((v): v is number => typeof v === "number" && Number.isFinite(v) && Math.abs(v) !== Number.MAX_VALUE);
  if (known.length === 0) return null;
  return direction === "maximize" ? Math.max(...known) : Math.min(...known);
}

/** A rung value; the agent stores a metric missing at the rung as ±Number.MAX_VALUE (judged worst). */
function shownValue(value: number): string {
  return Math.abs(value) === Number.MAX_VALUE ? "value missing (judged worst)" : value.toFixed(4);
}

/**
 * The leaderboard as text: one line per trial, best first, then the totals and the winner;
 * `winnerLine` replaces the last line (the sweep's decided winner and its release, when known).
 */
export function renderLeaderboard(board: Leaderboard, metric: string, winnerLine?: string): string {
  const paramKeys = [...new Set(board.rows.flatMap((r) => Object.keys(r.params)))];
  const header = ["#", "trial", ...paramKeys, "phase", "epochs", metric, "rung", "attempts", "interr.", "$", "why"];
  const rows = board.rows.map((r) => [
    r.rank === null ? "-" : String(r.rank),
    r.trialId,
    ...paramKeys.map((k) => (k in r.params ? String(r.params[k]) : "")),
    r.phase,
    r.epochs > 0 ? `${r.epoch}/${r.epochs}` : "-",
    r.metric === null ? "-" : r.metric.toFixed(4),
    r.rung === null ? "-" : String(r.rung),
    String(r.attempts),
    String(r.interruptions),
    r.spentUsd.toFixed(2),
    r.why,
  ]);
  const widths = header.map((_, c) => Math.max(...[header, ...rows].map((row) => row[c]!.length)));
  const line = (row: readonly string[]): string => row.map((cell, c) => cell.padEnd(widths[c]!)).join("  ").trimEnd();
  const counts = Object.entries(board.counts)
    .filter(([, n]) => n > 0)
    .map(([outcome, n]) => `${n} ${outcome}`)
    .join(", ");
  return [
    line(header),
    ...rows.map(line),
    "",
    `Spent $${board.spentUsd.toFixed(2)} (${counts})` +
      (board.allToEndUsd !== undefined ? `; every trial to its end would have cost about $${board.allToEndUsd.toFixed(2)}` : ""),
    winnerLine ?? (board.winner ? `Winner: ${board.winner.trialId} (${board.winner.runId}), ${metric} ${board.winner.metric!.toFixed(4)}` : "Winner: none completed yet"),
  ].join("\n");
}

const csvCell = (v: unknown): string => {
  const text = v === null || v === undefined ? "" : String(v);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
};

/** RFC 4180: CRLF line ends, quoting what needs it. */
const csv = (header: readonly string[], lines: readonly (readonly unknown[])[]): string =>
  [header.join(","), ...lines.map((line) => line.map(csvCell).join(","))].join("\r\n") + "\r\n";

/** One CSV line per trial (RFC 4180 quoting), for plotting: the parameters as columns. */
export function leaderboardCsv(board: Leaderboard): string {
  const paramKeys = [...new Set(board.rows.flatMap((r) => Object.keys(r.params)))];
  const header = ["rank", "trial", "runId", ...paramKeys, "phase", "outcome", "epoch", "epochs", "metric", "rung", "attempts", "interruptions", "spentUsd", "why"];
  return csv(
    header,
    board.rows.map((r) => [r.rank, r.trialId, r.runId, ...paramKeys.map((k) => r.params[k]), r.phase, r.outcome, r.epoch, r.epochs, r.metric, r.rung, r.attempts, r.interruptions, r.spentUsd.toFixed(4), r.why]),
  );
}

/**
 * The metric against epochs, for a plot of every trial's curve: one CSV line per (trial, rung),
 * then a `latest` line with the trial's newest value when it trained past its last rung.
 */
export function rungsCsv(board: Leaderboard): string {
  const paramKeys = [...new Set(board.rows.flatMap((r) => Object.keys(r.params)))];
  const header = ["trial", "runId", ...paramKeys, "point", "rung", "epoch", "value", "promoted", "cutoff", "outcome"];
  const lines = board.rows.flatMap((r) => {
    const params = paramKeys.map((k) => r.params[k]);
    // A metric missing at the rung is stored as ±MAX_VALUE (judged worst): an empty cell plots as a gap, not a spike.
    const points = r.rungs.map((g) => [r.trialId, r.runId, ...params, "rung", g.rung, g.epoch, Math.abs(g.value) === Number.MAX_VALUE ? null : g.value, g.promote, g.cutoff, r.outcome]);
    const lastEpoch = r.rungs[r.rungs.length - 1]?.epoch ?? 0;
    if (r.metric !== null && r.epoch > lastEpoch) points.push([r.trialId, r.runId, ...params, "latest", null, r.epoch, r.metric, null, null, r.outcome]);
    return points;
  });
  return csv(header, lines);
}
