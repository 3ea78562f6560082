/**
 * What `yolo-train sweep status` and `sweep leaderboard` show (issue 12), from what the sweep keeps
 * in S3 (sweepStore.ts): the leaderboard of its trials, the keeper's last round (what runs, what
 * waits and why, the money against the budget), the totals, the winner and its release, and the
 * exit code. Pure: a snapshot in, a report and its text out.
 */
import { sweepWinnerKey } from "../../runspec/bucketLayout";
import type { SweepManifest, SweepState, SweepWinner } from "../../runspec/sweep/sweepManifest";
import { formatDuration } from "../runStatus";
import { leaderboard, renderLeaderboard, type Leaderboard, type LeaderboardRecord, type LeaderboardRow } from "./leaderboard";
import type { SweepReadProblem, SweepSnapshot } from "./sweepStore";
import { winnerStackConfig, type WinnerStackConfig } from "./winnerConfig";

/** Exit codes of `sweep status` and `sweep leaderboard`: scripts branch on where the sweep is without parsing output. */
export const SWEEP_STATUS_EXIT_CODES = {
  won: 0,
  running: 10,
  budgetStopped: 13,
  noWinner: 20,
  noSweep: 4,
} as const;

export const SWEEP_STATUS_EXIT_HELP = `
Exit codes:
  ${SWEEP_STATUS_EXIT_CODES.won}   ended with a winner (the output says when the budget kept trials from starting)
  ${SWEEP_STATUS_EXIT_CODES.running}  running: trials train, start, or wait for a free slot (maxParallel); or the winner is being decided
  ${SWEEP_STATUS_EXIT_CODES.budgetStopped}  stopped by the budget without a winner: nothing runs, no trial completed, and the trials left wait
      because spent + committed + their cost would pass budgetUsd
  ${SWEEP_STATUS_EXIT_CODES.noWinner}  ended without a winner: every trial failed or was stopped early
  ${SWEEP_STATUS_EXIT_CODES.noSweep}   no deployed sweep: the stack's artifact bucket holds no sweeps/<sweepId>/sweep.json
  1   unexpected error (an unreadable manifest, S3 refused); 2 usage error (wrong option, outputs missing or not a sweep stack's)`;

export type SweepOutcome = "won" | "running" | "budget-stopped" | "no-winner";

const EXIT_OF: Readonly<Record<SweepOutcome, number>> = {
  won: SWEEP_STATUS_EXIT_CODES.won,
  running: SWEEP_STATUS_EXIT_CODES.running,
  "budget-stopped": SWEEP_STATUS_EXIT_CODES.budgetStopped,
  "no-winner": SWEEP_STATUS_EXIT_CODES.noWinner,
};

export interface SweepTotals {
  /** What the trials' run records say they cost so far. */
  readonly spentUsd: number;
  /** Every trial to its end (leaderboard.ts: a finished trial's own cost, else its spend scaled, else the plan's estimate); null when unknown. */
  readonly allToEndUsd: number | null;
  /** The plan's estimates summed (the manifest's estimatedUsd); null when some trial has none. */
  readonly plannedAllToEndUsd: number | null;
  readonly budgetUsd: number | null;
}

export interface SweepWinnerReport extends SweepWinner {
  readonly params: Readonly<Record<string, string | number | boolean>>;
}

export interface SweepReport {
  readonly sweepId: string;
  readonly metric: string;
  readonly direction: "maximize" | "minimize";
  readonly maxParallel: number;
  readonly asha: SweepManifest["asha"];
  readonly outcome: SweepOutcome;
  readonly exitCode: number;
  /** One sentence: where the sweep is, and what to do when it is stuck. */
  readonly headline: string;
  /** Best first, then the trials without a metric in the sweep's order. */
  readonly board: Leaderboard;
  /** In the sweep's order: for `status`. */
  readonly trials: readonly LeaderboardRow[];
  readonly state: SweepState | null;
  readonly totals: SweepTotals;
  /** The decided winner (winner.json); null until the sweep has ended with one. */
  readonly winner: SweepWinnerReport | null;
  readonly winnerStackConfig: WinnerStackConfig | null;
  readonly problems: readonly SweepReadProblem[];
  /** Seconds since the keeper's last round; null without one. */
  readonly stateAgeSeconds: number | null;
}

export interface SweepReportContext {
  readonly region: string;
  /** The sweep stack's name when known: it names the winner's stack. */
  readonly stack: string | null;
  readonly artifactBucketName: string;
  /** Now, for the age of the keeper's last round. */
  readonly nowMs: number;
}

const usd = (n: number): string => `$${n.toFixed(2)}`;
const list = (ids: readonly string[]): string => (ids.length <= 6 ? ids.join(", ") : `${ids.slice(0, 6).join(", ")} and ${ids.length - 6} more`);

export function sweepReport(snapshot: SweepSnapshot, context: SweepReportContext): SweepReport {
  const { manifest, state, winner } = snapshot;
  const problems = [...snapshot.problems];
  const waiting = new Map((state?.waiting ?? []).map((w) => [w.trialId, w.reason] as const));
  const ended = state?.done === true || winner !== null;
  const board = leaderboard({
    metric: manifest.metric,
    direction: manifest.direction,
    trials: manifest.trials.map((t) => ({ id: t.trialId, params: t.params, runId: t.runId, ...(t.estimatedUsd !== null ? { estimatedUsd: t.estimatedUsd } : {}) })),
    records: snapshot.records as ReadonlyMap<string, LeaderboardRecord | null>,
    unreadable: snapshot.unreadable,
    waiting,
    started: snapshot.starts,
    ended,
  });
  const byId = new Map(board.rows.map((r) => [r.trialId, r]));
  const trials = manifest.trials.map((t) => byId.get(t.trialId)!);
  const estimates = manifest.trials.map((t) => t.estimatedUsd);
  const totals: SweepTotals = {
    spentUsd: board.spentUsd,
    allToEndUsd: board.allToEndUsd ?? null,
    plannedAllToEndUsd: estimates.every((e) => e !== null) ? estimates.reduce<number>((sum, e) => sum + e!, 0) : null,
    budgetUsd: manifest.budgetUsd,
  };

  let winnerReport: SweepWinnerReport | null = null;
  let stackConfig: WinnerStackConfig | null = null;
  if (winner !== null) {
    const trial = manifest.trials.find((t) => t.trialId === winner.trialId);
    if (trial === undefined) {
      problems.push({ object: `s3://${context.artifactBucketName}/${sweepWinnerKey(manifest.sweepId)}`, message: `names trial ${winner.trialId}, which the manifest does not list` });
    } else {
      winnerReport = { ...winner, params: trial.params };
      const best = snapshot.records.get(trial.runId)?.artifacts?.best;
      stackConfig = winnerStackConfig({
        sweepId: manifest.sweepId,
        trialId: trial.trialId,
        runId: trial.runId,
        metric: winner.metric,
        value: winner.value,
        region: context.region,
        stackConfig: trial.stackConfig,
        sweepStack: context.stack,
        bestWeights: best !== undefined ? `s3://${context.artifactBucketName}/${best}` : null,
      });
    }
  }

  const budgetWaiting = (state?.waiting ?? []).filter((w) => w.reason === "budget").map((w) => w.trialId);
  const { outcome, headline } = outcomeOf({ ended, winner: winnerReport, board, budgetWaiting, state, manifest });
  return {
    sweepId: manifest.sweepId,
    metric: manifest.metric,
    direction: manifest.direction,
    maxParallel: manifest.maxParallel,
    asha: manifest.asha,
    outcome,
    exitCode: EXIT_OF[outcome],
    headline,
    board,
    trials,
    state,
    totals,
    winner: winnerReport,
    winnerStackConfig: stackConfig,
    problems,
    stateAgeSeconds: state !== null ? Math.max(0, (context.nowMs - Date.parse(state.at)) / 1000) : null,
  };
}

function outcomeOf(facts: {
  ended: boolean;
  winner: SweepWinnerReport | null;
  board: Leaderboard;
  budgetWaiting: readonly string[];
  state: SweepState | null;
  manifest: SweepManifest;
}): { outcome: SweepOutcome; headline: string } {
  const { ended, winner, board, budgetWaiting, state, manifest } = facts;
  const raise = `raise it (pulumi config set --path 'yolo-train:sweep.budgetUsd' <more>, then pulumi up) for them to start`;
  if (winner !== null) {
    const cut = budgetWaiting.length > 0 ? ` The budget (${usd(manifest.budgetUsd ?? 0)}) kept ${list(budgetWaiting)} from starting.` : "";
    return { outcome: "won", headline: `Ended: the winner is ${winner.trialId}, ${winner.metric} ${winner.value.toFixed(4)}.${cut}` };
  }
  if (!ended) {
    const running = board.counts.running;
    const slots = (state?.waiting ?? []).filter((w) => w.reason === "max-parallel").length;
    const budget = budgetWaiting.length > 0 ? `; ${budgetWaiting.length} wait for the budget (${list(budgetWaiting)}): ${raise}` : "";
    const keeper = state === null ? "; the keeper has not run its first round yet" : "";
    return { outcome: "running", headline: `Running: ${running} of ${manifest.trials.length} trials running, ${slots} waiting for a free slot (maxParallel ${manifest.maxParallel})${budget}${keeper}.` };
  }
  if (board.winner !== undefined) {
    // Ended with a completed trial, and winner.json not written yet: the keeper's next round writes it.
    return { outcome: "running", headline: `Ended; the winner (${board.winner.trialId} leads) is being decided and released by the keeper's next round.` };
  }
  if (budgetWaiting.length > 0) {
    return {
      outcome: "budget-stopped",
      headline:
        `Stopped by the budget: nothing runs, no trial completed, and ${list(budgetWaiting)} cannot start: spent + committed + their cost would pass ` +
        `the ${usd(manifest.budgetUsd ?? 0)} budget${state?.summary ? ` (${state.summary})` : ""}; ${raise}.`,
    };
  }
  const { failed, "stopped-early": stopped, unreadable } = board.counts;
  return {
    outcome: "no-winner",
    headline: `Ended without a winner: no trial completed (${failed} failed, ${stopped} stopped early${unreadable > 0 ? `, ${unreadable} unreadable` : ""}). See each trial's why, and its logs (yolo-train logs).`,
  };
}

/** The keeper's line: what it started, what waits and why, and the money against the budget. */
export function keeperLine(report: Pick<SweepReport, "state" | "maxParallel" | "stateAgeSeconds">): string {
  const { state } = report;
  if (state === null) return "Keeper: no round yet (sweeps/<sweepId>/state.json is not written): the first trials start with the stack";
  const slots = state.waiting.filter((w) => w.reason === "max-parallel").map((w) => w.trialId);
  const budget = state.waiting.filter((w) => w.reason === "budget").map((w) => w.trialId);
  const parts = [
    ...(state.started.length > 0 ? [`started ${list(state.started)}`] : []),
    ...(slots.length > 0 ? [`${list(slots)} wait${slots.length === 1 ? "s" : ""} for a free slot (maxParallel ${report.maxParallel})`] : []),
    ...(budget.length > 0 ? [`${list(budget)} wait${budget.length === 1 ? "s" : ""} for the budget`] : []),
  ];
  const money =
    `spent ${usd(state.spentUsd)} + committed ${usd(state.committedUsd)}` +
    (state.budgetLeftUsd !== null ? ` (${usd(state.budgetLeftUsd)} of the budget left)` : ", no budget");
  // The age says whether the line is news: a keeper that stopped running leaves an old one.
  const age = report.stateAgeSeconds !== null ? ` (${formatDuration(report.stateAgeSeconds)} ago)` : "";
  return `Keeper at ${state.at}${age}${state.done ? ", sweep done" : ""}: ${parts.length > 0 ? parts.join("; ") : "nothing waits"}; ${money}.${state.summary ? `\n  ${state.summary}` : ""}`;
}

function winnerLine(report: SweepReport): string {
  const w = report.winner;
  if (w === null) {
    const lead = report.board.winner;
    if (lead) return `Leading: ${lead.trialId} (${lead.runId}), ${report.metric} ${lead.metric!.toFixed(4)}; the winner is decided when the sweep ends`;
    const best = report.board.rows[0];
    return best?.rank === 1
      ? `Winner: none completed yet; best so far ${best.trialId}, ${report.metric} ${best.metric!.toFixed(4)} at epoch ${best.epoch} (${best.phase})`
      : "Winner: none completed yet";
  }
  const release = w.release
    ? `released as ${w.release.modelName} version ${w.release.version} on ${w.release.channels.length > 0 ? w.release.channels.join(", ") : "no channel"}`
    : `not released${w.releaseNote ? `: ${w.releaseNote}` : ""}`;
  return `Winner: ${w.trialId} (${w.runId}), ${w.metric} ${w.value.toFixed(4)}, ${release}`;
}

const paramsText = (params: Readonly<Record<string, string | number | boolean>>): string =>
  Object.entries(params)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(" ");

function totalsLine(report: SweepReport): string {
  const t = report.totals;
  const toEnd = t.allToEndUsd !== null ? `; every trial to its end would have cost about ${usd(t.allToEndUsd)}` : "";
  const planned = t.plannedAllToEndUsd !== null ? ` (the plan estimated ${usd(t.plannedAllToEndUsd)})` : "";
  return `Spent ${usd(t.spentUsd)}${t.budgetUsd !== null ? ` of the ${usd(t.budgetUsd)} budget` : ""}${toEnd}${planned}`;
}

function problemLines(report: SweepReport): string[] {
  return report.problems.length === 0 ? [] : ["", `Could not read ${report.problems.length} object(s); shown without them:`, ...report.problems.map((p) => `  - ${p.object}: ${p.message}`)];
}

/** `sweep status`: one line per trial in the sweep's order, the keeper's line, the totals, the winner. */
export function renderSweepStatus(report: SweepReport): string {
  const cells = report.trials.map((r) => [
    r.trialId,
    paramsText(r.params),
    // Given capacity, no record yet: it holds a slot.
    r.phase === "pending" && r.outcome === "running" ? "pending (started)" : r.phase,
    r.epochs > 0 ? `${r.epoch}/${r.epochs}` : "-",
    r.metric === null ? "-" : r.metric.toFixed(4),
    r.rung === null ? "-" : `rung ${r.rung}`,
    // Spot interruptions explain a trial that costs more than its epochs say.
    r.interruptions > 0 ? `${r.interruptions} interr.` : "",
    usd(r.spentUsd),
    r.why,
  ]);
  const widths = cells[0]!.map((_, c) => Math.max(...cells.map((row) => row[c]!.length)));
  const asha = report.asha ? `ASHA at epochs ${report.asha.rungs.join(", ")} (η ${report.asha.reductionFactor})` : "no early stopping";
  return [
    `Sweep ${report.sweepId}: ${report.trials.length} trials, ${report.direction} ${report.metric}, ${report.maxParallel} at once, ${asha}`,
    "",
    ...cells.map((row) => "  " + row.map((cell, c) => cell.padEnd(widths[c]!)).join("  ").trimEnd()),
    "",
    keeperLine(report),
    totalsLine(report),
    winnerLine(report),
    "",
    report.headline,
    ...problemLines(report),
  ].join("\n") + "\n";
}

/** `sweep leaderboard`: the ranked table, the keeper's line, and the winner's stack config to commit. */
export function renderSweepLeaderboard(report: SweepReport): string {
  const config = report.winnerStackConfig;
  return [
    renderLeaderboard(report.board, report.metric, winnerLine(report)),
    ...(report.totals.budgetUsd !== null || report.totals.plannedAllToEndUsd !== null
      ? [
          [
            report.totals.budgetUsd !== null ? `Budget ${usd(report.totals.budgetUsd)}` : "No budget",
            report.totals.plannedAllToEndUsd !== null ? `the plan estimated ${usd(report.totals.plannedAllToEndUsd)} for every trial to its end` : null,
          ]
            .filter((part) => part !== null)
            .join("; "),
        ]
      : []),
    keeperLine(report),
    "",
    report.headline,
    ...(config !== null ? ["", `The winner as a stack config (save it as ${config.fileName}):`, "", config.yaml.trimEnd()] : []),
    ...problemLines(report),
  ].join("\n") + "\n";
}

/** The one JSON document of `--json` (one line per poll with `--watch`). */
export function sweepReportJson(report: SweepReport): Record<string, unknown> {
  return {
    sweepId: report.sweepId,
    metric: report.metric,
    direction: report.direction,
    maxParallel: report.maxParallel,
    asha: report.asha,
    outcome: report.outcome,
    exitCode: report.exitCode,
    headline: report.headline,
    trials: report.board.rows,
    counts: report.board.counts,
    state: report.state,
    totals: report.totals,
    winner: report.winner,
    winnerStackConfig: report.winnerStackConfig,
    problems: report.problems,
  };
}
