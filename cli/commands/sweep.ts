import * as path from "path";
import type { Command } from "commander";
import { formatProblem } from "../../runspec/problems";
import { readProjectFile, readStackConfigFile, StackFileError } from "../plan/stackConfigFile";
import { renderSweepPlan, sweepPlanOf } from "../sweep/sweepPlan";
import type { CommandIo } from "./operateContext";

/** Exit codes of `sweep plan`. */
export const SWEEP_PLAN_EXIT_CODES = { planned: 0, unexpected: 1, usage: 2 } as const;

interface SweepPlanFlags {
  stack: string;
  cwd?: string;
  json?: boolean;
}

/**
 * `yolo-train sweep`: sweeps over one base experiment (issue 12). Made with `.command()` under the
 * program, so the subcommands inherit its settings (exitOverride: a usage error exits 2).
 */
export function registerSweepCommands(program: Command, io: CommandIo): Command {
  const sweep = program.command("sweep").summary("plan a sweep of many trials over one base experiment");
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
  return sweep;
}
