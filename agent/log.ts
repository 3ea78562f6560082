/**
 * One JSON line per event on stdout (the container log, shipped by the CloudWatch agent).
 * Fields are chosen by the caller; never pass credentials or tracking secrets.
 */
export type LogLevel = "info" | "warn" | "error";

export interface Logger {
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
}

/** Formats one log line; pure so its shape can be tested. `source` names the program (the sweep keeper shares this format). */
export function formatLogLine(level: LogLevel, event: string, fields: Record<string, unknown>, now: Date, source = "yolo-train-agent"): string {
  const base = { time: now.toISOString(), level, source, event };
  // Standard fields first for reading, and assigned again last so a caller's field of the same name cannot replace them.
  return JSON.stringify(Object.assign({ ...base }, fields, base), (_key, value: unknown) =>
    value instanceof Error ? { name: value.name, message: value.message } : value,
  );
}

export function createLogger(write: (line: string) => void = (line) => process.stdout.write(line + "\n"), source?: string): Logger {
  const log = (level: LogLevel) => (event: string, fields: Record<string, unknown> = {}) => write(formatLogLine(level, event, fields, new Date(), source));
  return { info: log("info"), warn: log("warn"), error: log("error") };
}

/** A short, secret-free description of an error for logs and the run record. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    return `${error.name}: ${error.message}${status !== undefined ? ` (HTTP ${status})` : ""}`;
  }
  return String(error);
}
