import type { Problem } from "../../runspec/problems";
import type { RawStackConfig, StackContext } from "../types";
import { describedValue, isUnknownInput, shownUnknowns } from "./unknownValues";

/**
 * What every check of `config/checks/` is given: the stack it checks (region optional: without it
 * the region rules are skipped), the config's values, and where to put problems. Checks are pure
 * functions `(values, context, problems, …) => part of the ExperimentConfig`; parseExperimentConfig.ts
 * runs them all and collects every problem before deciding.
 */
export type CheckContext = Omit<StackContext, "region"> & { readonly region?: string };

/** Shown instead of a secret's value in messages. */
export const REDACTED = "[secret, not shown]";

/** A path inside a key's value: `["promote", "min"]`, `[1, "imgsz"]`. */
export type Path = readonly PropertyKey[];

/** `ota` + `["promote", "min"]` → `ota.promote.min`; `progressive` + `[1, "imgsz"]` → `progressive[1].imgsz`. */
export function pathText(key: string, path: Path): string {
  return key + path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("");
}

/** Like {@link pathText}, with list indexes left out: `progressive[].imgsz` (the keys of NESTED_WORDING). */
export function pathPattern(key: string, path: Path): string {
  return key + path.map((p) => (typeof p === "number" ? "[]" : `.${String(p)}`)).join("");
}

/** The value at `path` inside `value`; undefined where the path leaves the objects. */
export function valueAt(value: unknown, path: Path): unknown {
  let current = value;
  for (const step of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<PropertyKey, unknown>)[step as string];
  }
  return current;
}

/**
 * The problems found so far, in the order found, one per key and rule, and how messages may show
 * a value (secrets never, `tracking.wandbApiKey` never, a Pulumi Output as words).
 */
export class ConfigProblems {
  private readonly items: Problem[] = [];
  private readonly seen = new Set<string>();
  private readonly secretKeys: ReadonlySet<string>;

  constructor(secretKeys: readonly string[] = []) {
    this.secretKeys = new Set(secretKeys);
  }

  add(problem: Problem): void {
    // One problem per key and rule is enough; zod can report a value twice (type, then refine).
    const id = `${problem.key}\u0000${problem.allowed}`;
    if (this.seen.has(id)) return;
    this.seen.add(id);
    this.items.push(problem);
  }

  get all(): readonly Problem[] {
    return this.items;
  }

  get any(): boolean {
    return this.items.length > 0;
  }

  /** Whether Pulumi holds this key (`tracking`) as a secret. */
  isSecret(key: string): boolean {
    return this.secretKeys.has(key);
  }

  /** A value as messages may show it: secrets never, wandbApiKey never, an Output or a Promise as words. */
  shown(key: string, path: Path, value: unknown): unknown {
    if (this.secretKeys.has(key)) return REDACTED;
    if (isUnknownInput(value)) return describedValue(value);
    if (key === "tracking") {
      if (path.includes("wandbApiKey")) return REDACTED;
      if (value !== null && typeof value === "object" && "wandbApiKey" in value) return shownUnknowns({ ...value, wandbApiKey: REDACTED });
    }
    return shownUnknowns(value);
  }
}

/**
 * The config's values: `raw` as given (what `given` asks), `plain` without its Pulumi Outputs and
 * Promises (what the schemas check), `parsed` the values of keys that passed their own schema,
 * coerced ("100" → 100), and the deferred paths whose value is an Output or a Promise that
 * `parseExperimentInput` carries on unchecked (`image`, `network.vpcId`, …).
 */
export class ConfigValues {
  constructor(
    readonly raw: RawStackConfig,
    readonly plain: Readonly<Record<string, unknown>>,
    readonly parsed: Readonly<Record<string, unknown>>,
    private readonly deferredPaths: ReadonlySet<string> = new Set(),
  ) {}

  /** The key is set (to anything, an Output included). */
  given(key: string): boolean {
    return this.raw[key] !== undefined;
  }

  /** The key is set and passed its schema. */
  valid(key: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.parsed, key);
  }

  /** The parsed value of a valid key; undefined when not set or invalid. */
  value<T>(key: string): T | undefined {
    return this.valid(key) ? (this.parsed[key] as T) : undefined;
  }

  /** The parsed value when given and valid, the fallback when not given, undefined when invalid. */
  resolve<T>(key: string, fallback: T | undefined): T | undefined {
    if (!this.given(key)) return fallback;
    return this.valid(key) ? (this.parsed[key] as T) : undefined;
  }

  /** Whether the value at this path (`image`, `ota.bucket`) is an Output or Promise carried on unchecked. */
  deferred(path: string): boolean {
    return this.deferredPaths.has(path);
  }
}
