import type { UpEvent } from "./stackAutomation";

/**
 * The progress display of `launch`: one line per resource step as the engine reports it, and
 * the summary at the end. Pure; the tally is the caller's.
 */
export interface UpTally {
  started: number;
  done: number;
  failed: number;
}

const OP_SIGNS: Readonly<Record<string, string>> = { create: "+", update: "~", delete: "-", replace: "+-", "create-replacement": "+-", "delete-replaced": "-", same: " ", read: ">" };

const nameOf = (urn: string): string => urn.split("::").at(-1) ?? urn;

/** The line for one engine event, or undefined for events not shown ("same" steps, stdout noise). */
export function describeUpEvent(event: UpEvent, tally: UpTally): string | undefined {
  if (event.resourcePreEvent) {
    const m = event.resourcePreEvent.metadata;
    if (m.op === "same") return undefined;
    tally.started += 1;
    return `${OP_SIGNS[m.op] ?? "*"} ${m.op.padEnd(8)} ${m.type} ${nameOf(m.urn)} ...`;
  }
  if (event.resOutputsEvent) {
    const m = event.resOutputsEvent.metadata;
    if (m.op === "same") return undefined;
    tally.done += 1;
    return `${OP_SIGNS[m.op] ?? "*"} ${m.op.padEnd(8)} ${m.type} ${nameOf(m.urn)} done (${tally.done}/${tally.started})`;
  }
  if (event.resOpFailedEvent) {
    const m = event.resOpFailedEvent.metadata;
    tally.failed += 1;
    return `! ${m.op.padEnd(8)} ${m.type} ${nameOf(m.urn)} FAILED`;
  }
  if (event.diagnosticEvent && (event.diagnosticEvent.severity === "error" || event.diagnosticEvent.severity === "warning")) {
    return `${event.diagnosticEvent.severity}: ${event.diagnosticEvent.message.trim()}`;
  }
  if (event.summaryEvent) {
    const changes = Object.entries(event.summaryEvent.resourceChanges)
      .filter(([op]) => op !== "same")
      .map(([op, n]) => `${n} ${op}`)
      .join(", ");
    return `done in ${event.summaryEvent.durationSeconds}s: ${changes || "no changes"}`;
  }
  return undefined;
}
