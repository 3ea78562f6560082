// `npm run plan [-- --stack NAME]`: what `pulumi up` would create for a stack, and what it
// would cost, with no AWS account and no Pulumi CLI. Also `yolo-train plan` (cli/yoloTrain.ts).
import * as path from "path";
import { Command } from "commander";

/** The plan command, named `name`: `yolo-train plan` alone, `plan` under `yolo-train`. */
export function planCommand(name = "plan"): Command {
  return new Command(name)
    .description("Show what `pulumi up` would create for a stack and what it would cost, offline.")
    .option("-s, --stack <name>", "stack whose Pulumi.<name>.yaml to plan", "dev")
    .option("-C, --cwd <dir>", "project folder (holding Pulumi.yaml)", process.cwd())
    .option("--json", "print the resources and stack outputs as JSON")
    .action(async (options: { stack: string; cwd: string; json?: boolean }) => {
      // Loaded when planning only: `yolo-train edge` on a small box must not load Pulumi.
      const { InvalidInputError } = await import("../config/problems");
      const { renderPlan } = await import("./plan/renderPlan");
      const { runOfflinePlan } = await import("./plan/runOfflinePlan");
      const { StackFileError } = await import("./plan/stackConfigFile");
      try {
        const plan = await runOfflinePlan(path.resolve(options.cwd), options.stack);
        if (options.json) {
          const resources = plan.resources.map(({ type, name, parentUrn, urn }) => ({ type, name, urn, parentUrn }));
          process.stdout.write(JSON.stringify({ ...plan, resources }, null, 2) + "\n");
        } else {
          process.stdout.write(renderPlan(plan) + "\n");
        }
      } catch (error) {
        if (error instanceof InvalidInputError || error instanceof StackFileError) {
          process.stderr.write(`${error.message}\n`);
          process.exitCode = 1;
          return;
        }
        throw error;
      }
    });
}

if (require.main === module) {
  planCommand("yolo-train plan")
    .parseAsync(process.argv)
    .catch((error: unknown) => {
      process.stderr.write(`plan failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(2);
    });
}
