import * as path from "path";
import type { Command } from "commander";
import { earlyStoppingWarnings } from "../../config/sweep/earlyStoppingAdvice";
import { formatProblem } from "../../runspec/problems";
import { readProjectFile, readStackConfigFile, StackFileError } from "../plan/stackConfigFile";
import { leaderboardCsv, rungsCsv } from "../sweep/leaderboard";
import { renderSweepPlan, sweepPlanOf } from "../sweep/sweepPlan";
import { readSweepOutputs, type SweepOutputs } from "../sweep/sweepOutputs";
import { renderSweepLeaderboard, renderSweepStatus, SWEEP_STATUS_EXIT_CODES, SWEEP_STATUS_EXIT_HELP, sweepReport, sweepReportJson, type SweepReport } from "../sweep/sweepReport";
import { readSweepSnapshot, sweepS3Client, SweepNotDeployedError } from "../sweep/sweepStore";
import { runOperation, UsageError, withStackOptions, type CommandIo } from "./operateContext";

/** Exit codes of `sweep plan`. */
export const SWEEP_PLAN_EXIT_CODES = { planned: 0, unexpected: 1, usage: 2 } as const;

interface SweepPlanFlags {
  stack: string;
  cwd?: string;
  json?: boolean;
}

interface SweepViewFlags {
  stack?: string;
  outputsFile?: string;
  cwd?: string;
  json?: boolean;
  csv?: boolean | string;
  watch?: boolean | string;
}

/** Seconds between polls of a bare `--watch`. */
const DEFAULT_WATCH_SECONDS = 30;

interface SweepViewOptions {
  readonly view: "status" | "leaderboard";
  readonly json: boolean;
  readonly csv: "trials" | "rungs" | null;
  /** Seconds between polls; null without --watch. */
  readonly watchSeconds: number | null;
}

/** The option values as the view needs them; a wrong one is a usage error naming it. */
function viewOptions(view: SweepViewOptions["view"], flags: SweepViewFlags): SweepViewOptions {
  let watchSeconds: number | null = null;
  if (flags.watch !== undefined && flags.watch !== false) {
    watchSeconds = flags.watch === true ? DEFAULT_WATCH_SECONDS : Number(flags.watch);
    if (!Number.isFinite(watchSeconds) || watchSeconds <= 0) throw new UsageError(`--watch takes a positive number of seconds between polls, got ${JSON.stringify(flags.watch)}; e.g. --watch 60`);
  }
  let csv: SweepViewOptions["csv"] = null;
  if (flags.csv !== undefined && flags.csv !== false) {
    if (flags.csv !== true && flags.csv !== "trials" && flags.csv !== "rungs") throw new UsageError(`--csv takes trials (one row per trial, the default) or rungs (one row per trial and rung), got ${JSON.stringify(flags.csv)}`);
    csv = flags.csv === true ? "trials" : flags.csv;
  }
  if (csv !== null && flags.json) throw new UsageError("--json and --csv print different documents: choose one");
  return { view, json: flags.json === true, csv, watchSeconds };
}

function renderView(report: SweepReport, options: SweepViewOptions): string {
  if (options.csv === "rungs") return rungsCsv(report.board);
  if (options.csv === "trials") return leaderboardCsv(report.board);
  if (options.json) return JSON.stringify(sweepReportJson(report), null, options.watchSeconds !== null ? undefined : 2) + "\n";
  return options.view === "status" ? renderSweepStatus(report) : renderSweepLeaderboard(report);
}

/**
 * Shows the sweep once, or with `--watch` at every poll until it is no longer running (or the
 * signal stops it); resolves to the exit code of the last poll. A CSV is printed once, at the end:
 * it is a file to plot, not a view to follow.
 */
export async function showSweep(io: CommandIo, outputs: SweepOutputs, options: SweepViewOptions): Promise<number> {
  const s3 = sweepS3Client(outputs, io.env);
  try {
    for (let poll = 0; ; poll++) {
      const report = sweepReport(await readSweepSnapshot(s3, outputs), { region: outputs.region, stack: outputs.stack, artifactBucketName: outputs.artifactBucketName, nowMs: io.now() });
      const last = options.watchSeconds === null || report.exitCode !== SWEEP_STATUS_EXIT_CODES.running || io.signal?.aborted === true;
      if (options.csv === null || last) io.stdout((poll > 0 && options.csv === null && !options.json ? "\n" : "") + renderView(report, options));
      // Text and JSON carry them; a CSV has no place for them, and its reader must know a trial was left out.
      if (options.csv !== null && last) for (const p of report.problems) io.stderr(`yolo-train sweep ${options.view}: could not read ${p.object}: ${p.message}\n`);
      if (last) return report.exitCode;
      await io.sleep(options.watchSeconds! * 1000);
    }
  } finally {
    s3.destroy();
  }
}

function registerSweepView(sweep: Command, io: CommandIo, view: SweepViewOptions["view"], summary: string, description: string): void {
  withStackOptions(sweep.command(view))
    .summary(summary)
    .description(description)
    .option("-C, --cwd <dir>", "project folder (holding Pulumi.yaml) for --stack; default: the current folder")
    .option("--json", "print one JSON document: trials, the keeper's state, totals, the winner and its stack config (one line per poll with --watch)")
    .option("--csv [table]", "print a CSV to plot instead: trials (one row per trial, the default) or rungs (one row per trial and rung: the metric against epochs)")
    .option("--watch [seconds]", `poll every so many seconds (default ${DEFAULT_WATCH_SECONDS}) until the sweep is no longer running; Ctrl-C stops it`)
    .addHelpText("after", SWEEP_STATUS_EXIT_HELP)
    .action(async (flags: SweepViewFlags) => {
      await runOperation(io, `sweep ${view}`, flags.json, async () => {
        const options = viewOptions(view, flags);
        const outputs = await readSweepOutputs(flags, path.resolve(io.cwd, flags.cwd ?? "."), io.env);
        try {
          return await showSweep(io, outputs, options);
        } catch (error) {
          if (!(error instanceof SweepNotDeployedError)) throw error;
          if (options.json) io.stdout(JSON.stringify({ error: { message: error.message, exitCode: SWEEP_STATUS_EXIT_CODES.noSweep } }, null, 2) + "\n");
          io.stderr(`yolo-train sweep ${view}: ${error.message}\n`);
          return SWEEP_STATUS_EXIT_CODES.noSweep;
        }
      });
    });
}

/**
 * `yolo-train sweep`: sweeps over one base experiment (issue 12). Made with `.command()` under the
 * program, so the subcommands inherit its settings (exitOverride: a usage error exits 2).
 */
export function registerSweepCommands(program: Command, io: CommandIo): Command {
  const sweep = program.command("sweep").summary("plan a sweep of many trials over one base experiment, follow it, and see its winner");
  sweep
    .command("plan")
    .summary("show a stack's sweep as trials, with the most it can cost and the vCPU quota it needs, offline")
    .description(
      "Reads Pulumi.<stack>.yaml: the base experiment (every yolo-train:* key) and its yolo-train:sweep. Lists every trial with its " +
        "parameters, run id, instance type and cost; the most the sweep can cost (every trial to its max runtime, or the budget); the " +
        "expected cost with and without ASHA early stopping; and the EC2 vCPU quota it needs at maxParallel. No AWS account needed.",
    )
    .requiredOption("-s, --stack <name>", "stack whose Pulumi.<name>.yaml declares the sweep")
    .option("-C, --cwd <dir>", "project folder (holding Pulumi.yaml); default: the current folder")
    .option("--json", "print the trials and the estimate as JSON")
    .addHelpText(
      "after",
      `\nExit codes:\n  ${SWEEP_PLAN_EXIT_CODES.planned}  planned\n  ${SWEEP_PLAN_EXIT_CODES.unexpected}  unexpected error\n  ${SWEEP_PLAN_EXIT_CODES.usage}  usage: no such stack file, no sweep declared, or an invalid config (every problem is listed)`,
    )
    .action((flags: SweepPlanFlags) => {
      try {
        const cwd = path.resolve(io.cwd, flags.cwd ?? ".");
        const project = readProjectFile(cwd).name;
        const { values, secretKeys } = readStackConfigFile(cwd, flags.stack);
        const result = sweepPlanOf(values, { project, stack: flags.stack, secretKeys });
        if (!result.declared) {
          io.stderr(`Pulumi.${flags.stack}.yaml declares no sweep: add yolo-train:sweep (docs/sweeps.md)\n`);
          io.setExitCode(SWEEP_PLAN_EXIT_CODES.usage);
          return;
        }
        if (result.plan === undefined) {
          io.stderr(`The sweep of stack ${flags.stack} has ${result.problems.length} problem(s):\n${result.problems.map((p) => `  - ${formatProblem(p)}`).join("\n")}\n`);
          io.setExitCode(SWEEP_PLAN_EXIT_CODES.usage);
          return;
        }
        const { sweep: plan, estimate } = result.plan;
        io.stdout(
          flags.json
            ? JSON.stringify(
                {
                  method: plan.method,
                  metric: plan.metric,
                  direction: plan.direction,
                  maxParallel: plan.maxParallel,
                  asha: plan.asha ?? null,
                  budgetUsd: plan.budgetUsd ?? null,
                  warnings: earlyStoppingWarnings(plan),
                  trials: plan.trials.map((t, i) => ({ id: t.id, params: t.params, runId: t.runId, estimate: estimate.trials[i] })),
                  most: estimate.most,
                  expected: estimate.expected ?? null,
                  quotas: estimate.quotas,
                  assumptions: estimate.assumptions,
                },
                null,
                2,
              ) + "\n"
            : renderSweepPlan(result.plan) + "\n",
        );
        io.setExitCode(SWEEP_PLAN_EXIT_CODES.planned);
      } catch (error) {
        if (error instanceof StackFileError) {
          io.stderr(`${error.message}\n`);
          io.setExitCode(SWEEP_PLAN_EXIT_CODES.usage);
          return;
        }
        throw error;
      }
    });

  const reads =
    "Reads what the deployed sweep keeps in its artifact bucket (the stack outputs sweepId, artifactBucketName and region name it): " +
    "the manifest (sweeps/<sweepId>/sweep.json), the keeper's last round (state.json), the winner (winner.json) and every trial's run record (runs/<runId>/run.json).";
  registerSweepView(
    sweep,
    io,
    "status",
    "show every trial's phase, epochs, metric, rung and cost, what waits and why, the money and the winner",
    `${reads} Prints one line per trial in the sweep's order (parameters, phase, epoch/epochs, metric, rung, $ and why it stopped or waits), ` +
      "the keeper's line (what it started, what waits for a free slot or for the budget, spent + committed against the budget), the sweep's total " +
      "and what running every trial to its end would have cost, and the winner with its OTA release.",
  );
  registerSweepView(
    sweep,
    io,
    "leaderboard",
    "rank the trials by the sweep's metric, and print the winner's config as a stack config to commit",
    `${reads} Prints the trials ranked by the sweep's metric (best first) with attempts, spot interruptions, $ and why each stopped; the totals; ` +
      "and, once the sweep has a winner, its config as a Pulumi.<stack>.yaml to commit and train it further (secrets as placeholders to set with pulumi config set --secret).",
  );
  return sweep;
}
