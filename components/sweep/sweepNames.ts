/**
 * The logical names of a sweep's trials, and the name patterns the sweep keeper's IAM policy
 * matches their backstops by. Pure: no resources, no I/O.
 *
 * The keeper moves each trial's max-runtime backstop when it starts the trial
 * (`scheduler:UpdateSchedule`, which passes the schedule's role: `iam:PassRole`). Listing every
 * trial's schedule and role ARN would grow the keeper's policy with the sweep (256 trials × two
 * ARNs of ~100 characters are past IAM's 10,240-character limit for a role's inline policies),
 * so the policy names them by pattern instead: every trial's component is named
 * `<trialPrefix>-<trialId>`, so its guardrails' schedule and role are named
 * `<trialPrefix>-<trialId>-guardrails-backstop-<7 random>` by Pulumi, and the pattern
 * `<trialPrefix>-t??-guardrails-backstop-*` (one `?` per digit of the ids: IAM's `?` is exactly one
 * character) matches this sweep's and nothing of another stack's (whose prefix differs).
 */
import { autoNameLimit, fitName, NAME_RULES, stackScopedName, type NameRule, type StackIdentity } from "../naming/physicalNames";

/** What the trial's `Guardrails` child appends to the trial's name (TrainingRun names it `<run>-guardrails`, which names its backstop `<guardrails>-backstop`). */
export const BACKSTOP_NAME_SUFFIX = "-guardrails-backstop";

/** Trial ids as the sweep config makes them: `t` and two or three digits (`t01`, `t001`). */
export const TRIAL_ID_PATTERN = /^t\d{2,}$/;

/**
 * Characters of a trial prefix: those that EventBridge Scheduler schedule names and IAM role names
 * both accept (`[A-Za-z0-9_.-]`), none of them an IAM wildcard (`*`, `?`).
 */
const TRIAL_PREFIX_CHARACTERS = /[A-Za-z0-9_.-]/;

/** How a sweep's trials are named. */
export interface SweepTrialNaming {
  /** What every trial's component name starts with: the sweep's stack-scoped name, fitted (see {@link sweepTrialNaming}). */
  readonly trialPrefix: string;
  /** A trial's component name: `<trialPrefix>-<trialId>`. */
  trialName(trialId: string): string;
  /** The name pattern (IAM wildcards) of the trials' backstop schedules and of their roles: `<trialPrefix>-t??-guardrails-backstop-*`. */
  readonly backstopNamePattern: string;
}

/**
 * The trial names of the sweep named `name` in `identity`'s stack, for trials `trialIds` (all `t`
 * and the same number of digits). The prefix is the sweep's stack-scoped name
 * (`<project>-<stack>-<name>`, or `name` when it already starts so), fitted into what the backstop's
 * name leaves of Pulumi's autonaming limit for schedules and roles (56 of 64): a long name keeps its
 * head and tail and a hash of the whole, so two stacks never share a prefix. Every trial's backstop
 * name then fits as it is, which the pattern relies on. Deterministic.
 */
export function sweepTrialNaming(name: string, identity: StackIdentity, trialIds: readonly string[]): SweepTrialNaming {
  const bad = trialIds.filter((id) => !TRIAL_ID_PATTERN.test(id));
  const widths = new Set(trialIds.map((id) => id.length));
  if (trialIds.length === 0 || bad.length > 0 || widths.size !== 1) {
    throw new Error(
      `sweepTrialNaming: trial ids must be "t" and digits, all of one width (t01 … or t001 …); got ${JSON.stringify(trialIds.slice(0, 5))}${trialIds.length > 5 ? " …" : ""}`,
    );
  }
  const idLength = [...widths][0]!;
  const room = Math.min(autoNameLimit(NAME_RULES.schedule), autoNameLimit(NAME_RULES.iamRole)) - (1 + idLength + BACKSTOP_NAME_SUFFIX.length);
  const rule: NameRule = { what: "sweep trial name prefix", maxLength: room, allowed: TRIAL_PREFIX_CHARACTERS, alphanumericStart: true };
  const trialPrefix = fitName(rule, stackScopedName(name, identity), room);
  return {
    trialPrefix,
    trialName: (trialId) => `${trialPrefix}-${trialId}`,
    backstopNamePattern: `${trialPrefix}-t${"?".repeat(idLength - 1)}${BACKSTOP_NAME_SUFFIX}-*`,
  };
}

/**
 * Whether `physical` (a schedule's or role's name) matches an IAM name pattern of `*` (any run of
 * characters) and `?` (exactly one), as IAM matches resource ARNs. For tests and checks.
 */
export function matchesIamPattern(pattern: string, physical: string): boolean {
  const regex = new RegExp(`^${pattern.split("").map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))).join("")}$`);
  return regex.test(physical);
}
