import { Command } from "commander";
import { runObjectKeys } from "../../runspec/bucketLayout";
import { exitCodeOfPhase, isEndPhase, renderRunStatus, runStatus, STATUS_EXIT_CODES, STATUS_EXIT_HELP } from "../runStatus";
import type { StackOutputs } from "../stackOutputs";
import { readOutputs, readRunRecord, runOperation, s3ClientFor, UsageError, withStackOptions, type CommandIo } from "./operateContext";

interface StatusFlags {
  stack?: string;
  outputsFile?: string;
  watch?: boolean;
  interval: string;
  json?: boolean;
}

/**
 * Prints the run's status once, or with `watch` at every poll until an end phase; resolves to
 * the exit code of the last phase seen.
 */
export async function showRunStatus(io: CommandIo, outputs: StackOutputs, options: { readonly json: boolean; readonly watch: boolean; readonly intervalSeconds: number }): Promise<number> {
  const s3 = s3ClientFor(outputs, io.env);
  try {
    for (;;) {
      const record = await readRunRecord(s3, outputs);
      if (record === null) {
        if (options.json) io.stdout(JSON.stringify({ runId: outputs.runId, phase: null, exitCode: STATUS_EXIT_CODES.noRecord }) + "\n");
        else io.stdout(`run ${outputs.runId}: no run record yet at s3://${outputs.artifactBucketName}/${runObjectKeys(outputs.artifactPrefix).recordKey} (the node has not started)\n`);
      } else {
        const status = runStatus(record, outputs.estimate, io.now());
        io.stdout(options.json ? JSON.stringify(status, null, options.watch ? undefined : 2) + "\n" : renderRunStatus(status));
      }
      const phase = record?.phase ?? null;
      if (!options.watch || isEndPhase(phase) || io.signal?.aborted) return exitCodeOfPhase(phase);
      await io.sleep(options.intervalSeconds * 1000);
      if (!options.json) io.stdout("\n");
    }
  } finally {
    s3.destroy();
  }
}

/** `yolo-train status`: the run record in the artifact bucket, rendered; the exit code tells the phase. */
export function statusCommand(io: CommandIo): Command {
  return withStackOptions(new Command("status"))
    .summary("show the run's phase, epochs, metrics, speed and cost")
    .description(
      "Read the run record (runs/<runId>/run.json in the artifact bucket) and show the phase, a progress bar of epochs with ETA " +
        "(from the training time per epoch so far, or the stack's estimate before the first epoch), the latest metrics, images/s, " +
        "attempts, spot interruptions, elapsed time, cost so far and estimated total.",
    )
    .option("--watch", "poll until the run reaches an end phase (completed, stopped-early, interrupted, failed, hung, timed-out)")
    .option("--interval <seconds>", "seconds between polls with --watch", "30")
    .option("--json", "print the status as JSON (one object per poll with --watch)")
    .addHelpText("after", STATUS_EXIT_HELP)
    .action(async (flags: StatusFlags) => {
      await runOperation(io, "status", flags.json, async () => {
        const interval = Number(flags.interval);
        if (!Number.isFinite(interval) || interval <= 0) throw new UsageError(`--interval must be a positive number of seconds, got ${flags.interval}`);
        const outputs = await readOutputs(io, flags);
        return showRunStatus(io, outputs, { json: flags.json === true, watch: flags.watch === true, intervalSeconds: interval });
      });
    });
}
