// `npm run plan [-- --stack NAME]`: what `pulumi up` would create for a stack, and what it
// would cost, with no AWS account and no Pulumi CLI.
import * as path from "path";
import { Command } from "commander";
import { InvalidInputError } from "../config/problems";
import { renderPlan } from "./plan/renderPlan";
import { runOfflinePlan } from "./plan/runOfflinePlan";
import { StackFileError } from "./plan/stackConfigFile";

const program = new Command()
  .name("yolo-train plan")
  .description("Show what `pulumi up` would create for a stack and what it would cost, offline.")
  .option("-s, --stack <name>", "stack whose Pulumi.<name>.yaml to plan", "dev")
  .option("-C, --cwd <dir>", "project folder (holding Pulumi.yaml)", path.resolve(__dirname, ".."))
  .option("--json", "print the resources and stack outputs as JSON")
  .action(async (options: { stack: string; cwd: string; json?: boolean }) => {
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

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`plan failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(2);
});
