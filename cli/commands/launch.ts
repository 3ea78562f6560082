import * as fs from "fs";
import * as path from "path";
import { Command } from "commander";
import { parse as parseYaml } from "yaml";
import { configSubject } from "../../config/parseExperimentConfig";
import { InvalidInputError } from "../../runspec/problems";
import { checkMergedConfig, parseSetValues, SetValueError, setsUsePaths } from "../launchConfig";
import { readStackConfigFile, StackFileError } from "../plan/stackConfigFile";
import { STATUS_EXIT_HELP } from "../runStatus";
import { AutomationStackLauncher, type StackLauncher } from "../stackAutomation";
import { parseStackOutputs } from "../stackOutputs";
import { describeUpEvent, type UpTally } from "../upProgress";
import { runOperation, USAGE_EXIT_CODE, type CommandIo } from "./operateContext";
import { showRunStatus } from "./status";

interface LaunchFlags {
  stack?: string;
  set: string[];
  watch?: boolean;
  interval: string;
  json?: boolean;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** The project name from Pulumi.yaml in `dir`, for config messages. */
function projectName(dir: string): string {
  const file = path.join(dir, "Pulumi.yaml");
  let document: unknown;
  try {
    document = parseYaml(fs.readFileSync(file, "utf8"));
  } catch (error) {
    throw new StackFileError(`Cannot read ${file}: ${(error as Error).message}. Run launch in the project folder (holding Pulumi.yaml).`);
  }
  const name = typeof document === "object" && document !== null ? (document as Record<string, unknown>).name : undefined;
  if (typeof name !== "string" || name === "") throw new StackFileError(`${file} has no \`name\``);
  return name;
}

/**
 * `yolo-train launch`: check the stack config with the `--set` values merged in (nothing is
 * deployed when it is invalid), then select-or-create the stack, set those values and `up`,
 * showing each resource step; with `--watch`, follow the run as `status --watch` does.
 */
export function launchCommand(io: CommandIo, launcher: StackLauncher = io.stackLauncher ?? new AutomationStackLauncher(io.env)): Command {
  return new Command("launch")
    .summary("validate the config, deploy the stack (pulumi up) and start training")
    .description(
      "Merge the --set values over Pulumi.<stack>.yaml and validate the result as `pulumi up` would; when it is valid, select or create " +
        "the stack through the Automation API, set the --set values in its config, and run `up`, showing each resource step on stderr. " +
        "Needs the Pulumi CLI and AWS credentials.",
    )
    .option("--stack <name>", "stack to launch (default: PULUMI_STACK); created when it does not exist")
    .option(
      "--set <key=value>",
      "set a config value before up, e.g. --set epochs=50 --set aws:region=eu-west-1 --set ota.promote.min=0.5 (repeatable; keys without a namespace are yolo-train:; a.b and a[0].b set a field of a structured value, as pulumi config set --path)",
      collect,
      [],
    )
    .option("--watch", "after up, follow the run until it ends (as `status --watch`); the exit code is then status's")
    .option("--interval <seconds>", "seconds between polls with --watch", "30")
    .option("--json", "print the up result and the stack outputs as JSON (and the statuses with --watch, one per line)")
    .addHelpText(
      "after",
      `\nExit codes:\n  0  deployed (without --watch)\n  2  usage error: bad --set, an invalid config (nothing deployed), no stack named, no Pulumi CLI\n  1  the deployment failed or another error\nWith --watch, the codes of status:${STATUS_EXIT_HELP.replace(/^\nExit codes:/, "")}`,
    )
    .action(async (flags: LaunchFlags) => {
      await runOperation(io, "launch", flags.json, async () => {
        const stackName = flags.stack ?? io.env.PULUMI_STACK;
        const interval = Number(flags.interval);
        const usage = (message: string): number => {
          if (flags.json) io.stdout(JSON.stringify({ error: { message, exitCode: USAGE_EXIT_CODE } }, null, 2) + "\n");
          io.stderr(`yolo-train launch: ${message}\n`);
          return USAGE_EXIT_CODE;
        };
        if (stackName === undefined || stackName === "") return usage("Say which stack: --stack NAME (or PULUMI_STACK).");
        if (!Number.isFinite(interval) || interval <= 0) return usage(`--interval must be a positive number of seconds, got ${flags.interval}`);
        let sets: Record<string, string>;
        try {
          sets = parseSetValues(flags.set);
          const project = projectName(io.cwd);
          const fileExists = fs.existsSync(path.join(io.cwd, `Pulumi.${stackName}.yaml`));
          const fromFile = fileExists ? readStackConfigFile(io.cwd, stackName) : { values: {}, secretKeys: [] };
          const merged = { ...fromFile.values, ...sets };
          // Loaded here only: it loads @pulumi/pulumi, which `yolo-train edge` on a small box must not.
          const { checkConfigNamespaces } = await import("../../config/loadStackConfig");
          const problems = [
            ...checkMergedConfig(merged, { project, stack: stackName, secretKeys: fromFile.secretKeys }),
            ...checkConfigNamespaces(merged, { project, secretKeys: fromFile.secretKeys }),
          ];
          if (problems.length > 0) return usage(new InvalidInputError(configSubject({ project, stack: stackName }), problems).message);
        } catch (error) {
          if (error instanceof SetValueError || error instanceof StackFileError) return usage(error.message);
          throw error;
        }

        const tally: UpTally = { started: 0, done: 0, failed: 0 };
        const up = await launcher.up({
          stackName,
          workDir: io.cwd,
          config: sets,
          configPaths: setsUsePaths(sets),
          onOutput: () => undefined,
          onEvent: (event) => {
            const line = describeUpEvent(event, tally);
            if (line !== undefined) io.stderr(`${line}\n`);
          },
        });
        if (up.result !== "succeeded") {
          io.stderr(`yolo-train launch: pulumi up ${up.result}\n`);
          if (flags.json) io.stdout(JSON.stringify({ result: up.result }, null, 2) + "\n");
          return 1;
        }
        const outputs = parseStackOutputs(up.outputs, `stack ${stackName}`);
        if (flags.json) io.stdout(JSON.stringify({ result: up.result, stack: stackName, runId: outputs.runId, outputs: up.outputs }, null, flags.watch ? undefined : 2) + "\n");
        else io.stdout(`stack ${stackName} is up: run ${outputs.runId} in ${outputs.region}; follow it with \`yolo-train status --stack ${stackName} --watch\`\n`);
        if (!flags.watch) return 0;
        return showRunStatus(io, outputs, { json: flags.json === true, watch: true, intervalSeconds: interval });
      });
    });
}
