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
  return `\`${p.key}\` ${problemReason(p)}`;
}

/** One problem without its key: "is 650; it must be …. Fix: …" (the `reason` of its property error). */
export function problemReason(p: Problem): string {
  const given = p.value === undefined ? "is not set" : `is ${describeValue(p.value)}`;
  return `${given}; it must be ${p.allowed}. Fix: ${p.fix}`;
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

/** One refused input property, as `pulumi.InputPropertiesError` carries it: `imgsz`, "is 650; it must be …". */
export interface InputPropertyErrorDetails {
  readonly propertyPath: string;
  readonly reason: string;
}

/**
 * Thrown when input is invalid: every problem at once, one per line. Nothing has been created.
 *
 * It is a `pulumi.InputPropertiesError` as Pulumi tells one (`pulumi.InputPropertiesError.isInstance`,
 * the brand below; `instanceof` does not hold): `message` says every problem, and `errors` has one
 * `{ propertyPath, reason }` per problem, so Pulumi's engine shows the property paths of a component
 * that refuses its input. The class imports no Pulumi: runspec/ is the floor the run agent is bundled
 * from, without @pulumi/pulumi (docker/Dockerfile).
 */
export class InvalidInputError extends Error {
  readonly problems: readonly Problem[];
  /** One `{ propertyPath, reason }` per problem: the problem's key, and the rest of its line. */
  readonly errors: InputPropertyErrorDetails[];
  /** The member `pulumi.InputPropertiesError.isInstance` checks (@pulumi/pulumi errors.js). */
  readonly __pulumiInputPropertiesError = true;

  constructor(subject: string, problems: readonly Problem[]) {
    const plural = problems.length === 1 ? "problem" : "problems";
    super(
      `${subject} has ${problems.length} ${plural}; nothing was created:\n` +
        problems.map((p) => `  - ${formatProblem(p)}`).join("\n"),
    );
    this.name = "InvalidInputError";
    this.problems = problems;
    this.errors = problems.map((p) => ({ propertyPath: p.key, reason: problemReason(p) }));
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
