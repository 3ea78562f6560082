/**
 * One thing wrong with the input: which key or argument, the value given, what is allowed
 * and how to fix it. Problems are gathered and reported together, never one at a time.
 */
export interface Problem {
  /** The config key or argument, e.g. `imgsz`, `ota.promote.min`, `GpuNodeGroup.instanceTypes`. */
  readonly key: string;
  /** The value as given (undefined when the key is missing). */
  readonly value: unknown;
  /** What is allowed, e.g. "a multiple of 32 between 32 and 2048". */
  readonly allowed: string;
  /** How to fix it, e.g. "e.g. 640". */
  readonly fix: string;
}

/** Renders one problem as one line: "`imgsz` is 650; it must be …. Fix: …". */
export function formatProblem(p: Problem): string {
  const given = p.value === undefined ? "is not set" : `is ${describeValue(p.value)}`;
  return `\`${p.key}\` ${given}; it must be ${p.allowed}. Fix: ${p.fix}`;
}

function describeValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  try {
    const text = JSON.stringify(value);
    return text === undefined ? String(value) : text.length > 120 ? `${text.slice(0, 117)}...` : text;
  } catch {
    return String(value);
  }
}

/** Thrown when input is invalid: every problem at once, one per line. Nothing has been created. */
export class InvalidInputError extends Error {
  readonly problems: readonly Problem[];

  constructor(subject: string, problems: readonly Problem[]) {
    const plural = problems.length === 1 ? "problem" : "problems";
    super(
      `${subject} has ${problems.length} ${plural}; nothing was created:\n` +
        problems.map((p) => `  - ${formatProblem(p)}`).join("\n"),
    );
    this.name = "InvalidInputError";
    this.problems = problems;
  }
}

/** Gathers problems, then throws them all at once. */
export class ProblemList {
  private readonly items: Problem[] = [];

  add(problem: Problem): this {
    this.items.push(problem);
    return this;
  }

  get all(): readonly Problem[] {
    return this.items;
  }

  /** Throws an {@link InvalidInputError} naming `subject` when any problem was added. */
  throwIfAny(subject: string): void {
    if (this.items.length > 0) throw new InvalidInputError(subject, this.items);
  }
}
