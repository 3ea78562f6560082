import { AutoScalingClient, UpdateAutoScalingGroupCommand } from "@aws-sdk/client-auto-scaling";
import { Command, InvalidArgumentError } from "commander";
import { bucketHoldsData, emptyBucket } from "../bucketEmptying";
import { waitForNoInstances } from "../nodeGroupDrain";
import { AutomationStackDestroyer, type StackDestroyer } from "../stackAutomation";
import { StackOutputsError, type StackOutputs } from "../stackOutputs";
import { readOutputs, runOperation, s3ClientFor, withStackOptions, type CommandIo } from "./operateContext";

export const DOWN_EXIT_CODES = { done: 0, usage: 2, refused: 3 } as const;

interface DownFlags {
  stack?: string;
  outputsFile?: string;
  all?: boolean;
  force?: boolean;
  yes?: boolean;
  json?: boolean;
  drainTimeout: number;
}

interface DownResult {
  scaledToZero: string;
  destroyed: boolean;
  refused?: string;
  bucketsWithData?: string[];
  /** Object versions and delete markers deleted per bucket (--force). */
  emptied?: Record<string, number>;
}

/**
 * The buckets `pulumi destroy` would delete with the stack. A shared OTA bucket (config
 * `ota.bucket`) belongs to another stack: it is neither checked nor emptied.
 */
function stackBuckets(outputs: StackOutputs): string[] {
  if (outputs.ownedBucketNames !== null) return [...outputs.ownedBucketNames];
  return [outputs.artifactBucketName, outputs.datasetBucketName, outputs.otaBucketName].filter((b): b is string => typeof b === "string" && b !== "");
}

function minutes(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`must be a number of minutes above 0, e.g. 15; got ${JSON.stringify(value)}`);
  return n;
}

/**
 * `yolo-train down`: stop paying for compute now (the node group to 0), and with `--all`
 * destroy the stack, refusing while its buckets hold data unless `--force`. With `--force` the
 * buckets are emptied first (every version: they are versioned), once the group has no instance
 * left that could still write to them; `pulumi destroy` would otherwise stop at BucketNotEmpty
 * with the rest of the stack already gone.
 */
export function downCommand(io: CommandIo, destroyer: StackDestroyer = io.stackDestroyer ?? new AutomationStackDestroyer(io.env)): Command {
  return withStackOptions(new Command("down"))
    .summary("stop the run's compute now; --all destroys the stack")
    .description(
      "Set the node group's MinSize and DesiredCapacity to 0, so the GPU node terminates and no replacement launches " +
        "(checkpoints and the run record stay in S3; `pulumi up` or `yolo-train launch` starts it again). " +
        "With --all, then destroy the whole stack through the Automation API after a confirmation, " +
        "refusing while the artifact, dataset or OTA bucket holds any object version unless --force. " +
        "With --force, wait until the group's last instance is gone, delete every object version in those buckets, then destroy.",
    )
    .option("--all", "also destroy the stack (pulumi destroy)")
    .option("--force", "with --all: delete the data in the buckets (checkpoints, run records, datasets, released models: edge boxes can no longer pull them), then destroy")
    .option("-y, --yes", "with --all: do not ask for confirmation")
    .option("--drain-timeout <minutes>", "with --all --force: how long to wait for the node group's instances to terminate before giving up, deleting nothing", minutes, 15)
    .option("--json", "print what was done as JSON")
    .addHelpText(
      "after",
      `\nExit codes:\n  ${DOWN_EXIT_CODES.done}  done\n  ${DOWN_EXIT_CODES.refused}  refused: the buckets hold data and --force is missing, or the destroy was not confirmed (compute is stopped all the same)\n  1  unexpected error (an instance did not terminate in time, an object could not be deleted: nothing was destroyed); ${DOWN_EXIT_CODES.usage} usage error`,
    )
    .action(async (flags: DownFlags) => {
      await runOperation(io, "down", flags.json, async () => {
        const stackName = flags.stack ?? io.env.PULUMI_STACK;
        if (flags.all && (stackName === undefined || stackName === "")) {
          throw new StackOutputsError("--all destroys a stack: name it with --stack NAME (or PULUMI_STACK)");
        }
        // Before anything changes: with --force, buckets are emptied before the destroy, which
        // must not then fail for want of the CLI.
        if (flags.all) await destroyer.ensureAvailable?.();
        const outputs = await readOutputs(io, flags);
        const asg = new AutoScalingClient({ region: outputs.region });
        const s3 = s3ClientFor(outputs, io.env);
        const say = (text: string): void => {
          if (!flags.json) io.stdout(text);
        };
        try {
          await asg.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: outputs.autoScalingGroupName, MinSize: 0, DesiredCapacity: 0 }));
          const result: DownResult = { scaledToZero: outputs.autoScalingGroupName, destroyed: false };
          say(`node group ${outputs.autoScalingGroupName}: MinSize 0, DesiredCapacity 0; the node terminates and no replacement launches\n`);
          let code: number = DOWN_EXIT_CODES.done;
          if (flags.all) {
            const full: string[] = [];
            for (const bucket of stackBuckets(outputs)) if (await bucketHoldsData(s3, bucket)) full.push(bucket);
            result.bucketsWithData = full;
            const listed = full.join(", ");
            if (full.length > 0 && !flags.force) {
              result.refused = `bucket${full.length > 1 ? "s" : ""} ${listed} hold${full.length > 1 ? "" : "s"} data; copy what you need, then pass --force to delete it with the stack`;
            } else if (!flags.yes && !(await io.confirm(`Destroy stack ${stackName}${full.length > 0 ? ` and delete every object version in ${listed}` : ""}?`))) {
              result.refused = "not confirmed (pass --yes when there is no terminal)";
            } else {
              if (full.length > 0) {
                await waitForNoInstances(asg, outputs.autoScalingGroupName, {
                  now: () => io.now(),
                  sleep: (ms) => io.sleep(ms),
                  timeoutMs: flags.drainTimeout * 60_000,
                  onWaiting: (ids) => io.stderr(`waiting for ${ids.join(", ")} to terminate before deleting data\n`),
                });
                result.emptied = {};
                for (const bucket of full) {
                  const deleted = await emptyBucket(s3, bucket);
                  result.emptied[bucket] = deleted;
                  say(`bucket ${bucket}: deleted ${deleted} object version${deleted === 1 ? "" : "s"} and delete marker${deleted === 1 ? "" : "s"}\n`);
                }
              }
              await destroyer.destroy({ stackName: stackName!, workDir: io.cwd, onOutput: (text) => io.stderr(text) });
              result.destroyed = true;
              say(`stack ${stackName} destroyed\n`);
            }
            if (result.refused) {
              io.stderr(`yolo-train down: not destroying stack ${stackName}: ${result.refused}\n`);
              code = DOWN_EXIT_CODES.refused;
            }
          }
          if (flags.json) io.stdout(JSON.stringify(result, null, 2) + "\n");
          return code;
        } finally {
          asg.destroy();
          s3.destroy();
        }
      });
    });
}
