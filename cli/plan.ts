// `npm run plan [-- --stack NAME]`: what `pulumi up` would create for a stack, and what it
// would cost, with no AWS account and no Pulumi CLI. Also `yolo-train plan` (cli/yoloTrain.ts).
import * as path from "path";
import { Command, CommanderError } from "commander";

/** Exit codes of `plan`, as every yolo-train command uses them. */
export const PLAN_EXIT_CODES = { planned: 0, unexpected: 1, usage: 2 } as const;

/** The plan command, named `name`: `yolo-train plan` alone, `plan` under `yolo-train`. */
export function planCommand(name = "plan"): Command {
  return new Command(name)
    .description("Show what `pulumi up` would create for a stack and what it would cost, offline.")
    .option("-s, --stack <name>", "stack whose Pulumi.<name>.yaml to plan", "dev")
    .option("-C, --cwd <dir>", "project folder (holding Pulumi.yaml)", process.cwd())
    .option("--json", "print the resources with their inputs (secrets as \"[secret]\"), the stack outputs, warnings and phase estimates as JSON")
    .addHelpText(
      "after",
      `\nExit codes:\n  ${PLAN_EXIT_CODES.planned}  planned\n  ${PLAN_EXIT_CODES.unexpected}  unexpected error (a bug: please report it with the message)\n` +
        `  ${PLAN_EXIT_CODES.usage}  usage: an invalid stack config (every problem is listed; nothing would be created), no such stack file, a wrong option`,
    )
    .action(async (options: { stack: string; cwd: string; json?: boolean }) => {
      // Loaded when planning only: `yolo-train edge` on a small box must not load Pulumi.
      const { renderPlan } = await import("./plan/renderPlan");
      const { planJson } = await import("./plan/planJson");
      const { isInputRefusal, runOfflinePlan } = await import("./plan/runOfflinePlan");
      const { StackFileError } = await import("./plan/stackConfigFile");
      try {
        const plan = await runOfflinePlan(path.resolve(options.cwd), options.stack);
        if (options.json) {
          process.stdout.write(JSON.stringify(await planJson(plan), null, 2) + "\n");
        } else {
          process.stdout.write(renderPlan(plan) + "\n");
        }
      } catch (error) {
        // Said once, as the message alone: the problems are the user's to fix, not a crash.
        if (isInputRefusal(error) || error instanceof StackFileError) {
          process.stderr.write(`${error.message}\n`);
          process.exitCode = PLAN_EXIT_CODES.usage;
          return;
        }
        throw error;
      }
    });
}

if (require.main === module) {
  planCommand("yolo-train plan")
    .exitOverride()
    .parseAsync(process.argv)
    .catch((error: unknown) => {
      if (error instanceof CommanderError) {
        // Commander has printed the usage problem (or the help, exit 0).
        process.exitCode = error.exitCode === 0 ? PLAN_EXIT_CODES.planned : PLAN_EXIT_CODES.usage;
        return;
      }
      process.stderr.write(`plan failed unexpectedly: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(PLAN_EXIT_CODES.unexpected);
    });
}
