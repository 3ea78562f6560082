import { AutoScalingClient, UpdateAutoScalingGroupCommand } from "@aws-sdk/client-auto-scaling";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { Command } from "commander";
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
}

/** Buckets (of those named) holding at least one object. */
async function bucketsWithData(io: CommandIo, outputs: StackOutputs, buckets: readonly string[]): Promise<string[]> {
  const s3 = s3ClientFor(outputs, io.env);
  try {
    const full: string[] = [];
    for (const bucket of buckets) {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1 }));
      if ((page.KeyCount ?? page.Contents?.length ?? 0) > 0) full.push(bucket);
    }
    return full;
  } finally {
    s3.destroy();
  }
}

/**
 * `yolo-train down`: stop paying for compute now (the node group to 0), and with `--all`
 * destroy the stack, refusing while its buckets hold data unless `--force`.
 */
export function downCommand(io: CommandIo, destroyer: StackDestroyer = io.stackDestroyer ?? new AutomationStackDestroyer()): Command {
  return withStackOptions(new Command("down"))
    .summary("stop the run's compute now; --all destroys the stack")
    .description(
      "Set the node group's MinSize and DesiredCapacity to 0, so the GPU node terminates and no replacement launches " +
        "(checkpoints and the run record stay in S3; `pulumi up` or `yolo-train launch` starts it again). " +
        "With --all, then destroy the whole stack through the Automation API after a confirmation, " +
        "refusing while the artifact or dataset bucket holds objects unless --force.",
    )
    .option("--all", "also destroy the stack (pulumi destroy)")
    .option("--force", "with --all: destroy even though the buckets hold data (checkpoints, models, datasets are deleted)")
    .option("-y, --yes", "with --all: do not ask for confirmation")
    .option("--json", "print what was done as JSON")
    .addHelpText(
      "after",
      `\nExit codes:\n  ${DOWN_EXIT_CODES.done}  done\n  ${DOWN_EXIT_CODES.refused}  refused: the buckets hold data and --force is missing, or the destroy was not confirmed (compute is stopped all the same)\n  1  unexpected error; ${DOWN_EXIT_CODES.usage} usage error`,
    )
    .action(async (flags: DownFlags) => {
      await runOperation(io, "down", flags.json, async () => {
        const stackName = flags.stack ?? io.env.PULUMI_STACK;
        if (flags.all && (stackName === undefined || stackName === "")) {
          throw new StackOutputsError("--all destroys a stack: name it with --stack NAME (or PULUMI_STACK)");
        }
        const outputs = await readOutputs(io, flags);
        const asg = new AutoScalingClient({ region: outputs.region });
        try {
          await asg.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: outputs.autoScalingGroupName, MinSize: 0, DesiredCapacity: 0 }));
        } finally {
          asg.destroy();
        }
        const result: { scaledToZero: string; destroyed: boolean; refused?: string; bucketsWithData?: string[] } = { scaledToZero: outputs.autoScalingGroupName, destroyed: false };
        if (!flags.json) io.stdout(`node group ${outputs.autoScalingGroupName}: MinSize 0, DesiredCapacity 0; the node terminates and no replacement launches\n`);
        let code: number = DOWN_EXIT_CODES.done;
        if (flags.all) {
          const buckets = [outputs.artifactBucketName, ...(outputs.datasetBucketName ? [outputs.datasetBucketName] : [])];
          const full = await bucketsWithData(io, outputs, buckets);
          result.bucketsWithData = full;
          if (full.length > 0 && !flags.force) {
            result.refused = `bucket${full.length > 1 ? "s" : ""} ${full.join(", ")} hold${full.length > 1 ? "" : "s"} data; copy what you need, then pass --force to delete it with the stack`;
          } else if (!flags.yes && !(await io.confirm(`Destroy stack ${stackName}${full.length > 0 ? ` and the data in ${full.join(", ")}` : ""}?`))) {
            result.refused = "not confirmed (pass --yes when there is no terminal)";
          } else {
            await destroyer.destroy({ stackName: stackName!, workDir: io.cwd, onOutput: (text) => io.stderr(text) });
            result.destroyed = true;
            if (!flags.json) io.stdout(`stack ${stackName} destroyed\n`);
          }
          if (result.refused) {
            io.stderr(`yolo-train down: not destroying stack ${stackName}: ${result.refused}\n`);
            code = DOWN_EXIT_CODES.refused;
          }
        }
        if (flags.json) io.stdout(JSON.stringify(result, null, 2) + "\n");
        return code;
      });
    });
}
