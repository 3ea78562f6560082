import { CloudWatchLogsClient, FilterLogEventsCommand, type FilteredLogEvent } from "@aws-sdk/client-cloudwatch-logs";
import { Command } from "commander";
import { readOutputs, runOperation, UsageError, withStackOptions, type CommandIo } from "./operateContext";

interface LogsFlags {
  stack?: string;
  outputsFile?: string;
  follow?: boolean;
  since: string;
  filter?: string;
  interval: string;
  json?: boolean;
}

/** "90m", "2h", "1d", "30s" → milliseconds; null when unreadable. */
export function parseSince(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(text.trim());
  if (!m) return null;
  const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "s" | "m" | "h" | "d"];
  return Number(m[1]) * unit;
}

/** One line per event: time, stream, message. */
export function renderLogEvent(event: FilteredLogEvent): string {
  const at = event.timestamp !== undefined ? new Date(event.timestamp).toISOString() : "-";
  return `${at} ${event.logStreamName ?? "-"} ${(event.message ?? "").replace(/\n$/, "")}\n`;
}

/**
 * `yolo-train logs`: the node's log group through FilterLogEvents. `--follow` polls again from
 * the newest timestamp seen, skipping event ids already printed (events of that same millisecond
 * come back).
 */
export function logsCommand(io: CommandIo): Command {
  return withStackOptions(new Command("logs"))
    .summary("print the run's CloudWatch logs; --follow to keep printing")
    .description("Print the events of the run's log group (stack output logGroupName), oldest first, from --since ago.")
    .option("-f, --follow", "keep polling for new events until interrupted (Ctrl-C)")
    .option("--since <age>", "start this long ago: 30s, 15m, 2h, 1d", "1h")
    .option("--filter <pattern>", "CloudWatch Logs filter pattern, e.g. '?ERROR ?Traceback'")
    .option("--interval <seconds>", "seconds between polls with --follow", "5")
    .option("--json", "one JSON object per event (timestamp, logStreamName, message, eventId)")
    .addHelpText("after", "\nExit codes:\n  0  printed (or followed until interrupted)\n  1  unexpected error (no such log group, no permission); 2 usage error")
    .action(async (flags: LogsFlags) => {
      await runOperation(io, "logs", flags.json, async () => {
        const since = parseSince(flags.since);
        const interval = Number(flags.interval);
        if (since === null || !Number.isFinite(interval) || interval <= 0) {
          throw new UsageError(since === null ? `--since must look like 30s, 15m, 2h or 1d, got ${flags.since}` : `--interval must be a positive number, got ${flags.interval}`);
        }
        const outputs = await readOutputs(io, flags);
        const client = new CloudWatchLogsClient({ region: outputs.region });
        try {
          let startTime = Math.floor(io.now() - since);
          let seenAtStart = new Set<string>();
          for (;;) {
            let nextToken: string | undefined;
            let newest = startTime;
            const seenAtNewest = new Set<string>(seenAtStart);
            do {
              const page = await client.send(
                new FilterLogEventsCommand({
                  logGroupName: outputs.logGroupName,
                  startTime,
                  ...(flags.filter !== undefined ? { filterPattern: flags.filter } : {}),
                  ...(nextToken !== undefined ? { nextToken } : {}),
                }),
              );
              for (const event of page.events ?? []) {
                if (event.eventId !== undefined && seenAtStart.has(event.eventId)) continue;
                io.stdout(flags.json ? JSON.stringify({ timestamp: event.timestamp, logStreamName: event.logStreamName, message: event.message, eventId: event.eventId }) + "\n" : renderLogEvent(event));
                const ts = event.timestamp ?? newest;
                if (ts > newest) {
                  newest = ts;
                  seenAtNewest.clear();
                }
                if (ts === newest && event.eventId !== undefined) seenAtNewest.add(event.eventId);
              }
              nextToken = page.nextToken;
            } while (nextToken !== undefined);
            if (!flags.follow) return 0;
            startTime = newest;
            seenAtStart = seenAtNewest;
            if (io.signal?.aborted) return 0;
            await io.sleep(interval * 1000);
            if (io.signal?.aborted) return 0;
          }
        } finally {
          client.destroy();
        }
      });
    });
}
