import { Command } from "commander";
import { costReport, renderCostReport } from "../costReport";
import { STATUS_EXIT_CODES } from "../runStatus";
import { readOutputs, readRunRecord, runOperation, s3ClientFor, withStackOptions, type CommandIo } from "./operateContext";

interface CostFlags {
  stack?: string;
  outputsFile?: string;
  json?: boolean;
}

/** `yolo-train cost`: what the run has cost, against the same time on demand. */
export function costCommand(io: CommandIo): Command {
  return withStackOptions(new Command("cost"))
    .summary("show billed vs training time, spot paid vs on-demand, savings, cost per epoch")
    .description(
      "From the run record: billed seconds against training seconds, the rate paid (estimated cost over billed hours) against the " +
        "on-demand rate of the chosen instance type (the stack's estimate output), the savings in $ and %, and the cost per epoch. " +
        "Costs are the agent's estimate from its price at launch; the AWS bill is authoritative.",
    )
    .option("--json", "print the report as JSON")
    .addHelpText("after", `\nExit codes:\n  0  report shown\n  ${STATUS_EXIT_CODES.noRecord}  no run record yet\n  1  unexpected error; 2 usage error`)
    .action(async (flags: CostFlags) => {
      await runOperation(io, "cost", flags.json, async () => {
        const outputs = await readOutputs(io, flags);
        const s3 = s3ClientFor(outputs, io.env);
        try {
          const record = await readRunRecord(s3, outputs);
          if (record === null) {
            if (flags.json) io.stdout(JSON.stringify({ runId: outputs.runId, phase: null, exitCode: STATUS_EXIT_CODES.noRecord }) + "\n");
            else io.stdout(`run ${outputs.runId}: no run record yet; nothing billed by the run so far\n`);
            return STATUS_EXIT_CODES.noRecord;
          }
          const report = costReport(record, outputs.estimate);
          io.stdout(flags.json ? JSON.stringify(report, null, 2) + "\n" : renderCostReport(report));
          return 0;
        } finally {
          s3.destroy();
        }
      });
    });
}
