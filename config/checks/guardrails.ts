import { DEFAULTS } from "../defaults";
import type { StagePreset } from "../presets";
import type { ConfigProblems, ConfigValues } from "./context";

/** The limits that bound a run and its cost, and who hears about them. */
export interface GuardrailsPart {
  readonly maxRuntimeHours?: number;
  readonly idleMinutes?: number;
  readonly idleGpuPercent?: number;
  readonly restartIfCheckpointLost?: boolean;
  readonly budgetUsd?: number;
  /** Unset when not given, and when given as an Output (then carried in `deferred`). */
  readonly alertEmail?: string;
}

/**
 * `maxRuntimeHours` (over the stage preset), `idleMinutes`, `idleGpuPercent`,
 * `restartIfCheckpointLost`, `budgetUsd` and `alertEmail`: a budget needs someone to alert.
 */
export function checkGuardrails(values: ConfigValues, problems: ConfigProblems, preset: StagePreset | undefined): GuardrailsPart {
  checkBudget(values, problems);
  const maxRuntimeHours = values.resolve<number>("maxRuntimeHours", preset?.maxRuntimeHours);
  const idleMinutes = values.resolve<number>("idleMinutes", DEFAULTS.idleMinutes);
  const idleGpuPercent = values.resolve<number>("idleGpuPercent", DEFAULTS.idleGpuPercent);
  const restartIfCheckpointLost = values.resolve<boolean>("restartIfCheckpointLost", DEFAULTS.restartIfCheckpointLost);
  const budgetUsd = values.value<number>("budgetUsd");
  const alertEmail = values.value<string>("alertEmail");
  return {
    ...(maxRuntimeHours !== undefined ? { maxRuntimeHours } : {}),
    ...(idleMinutes !== undefined ? { idleMinutes } : {}),
    ...(idleGpuPercent !== undefined ? { idleGpuPercent } : {}),
    ...(restartIfCheckpointLost !== undefined ? { restartIfCheckpointLost } : {}),
    ...(budgetUsd !== undefined ? { budgetUsd } : {}),
    ...(alertEmail !== undefined ? { alertEmail } : {}),
  };
}

/** AWS Budgets notifications need a subscriber: a budget nobody hears about protects nothing. */
function checkBudget(values: ConfigValues, problems: ConfigProblems): void {
  // `given`, not `valid`: an alertEmail that is wrong (reported) or an Output (known later) still names someone.
  if (values.valid("budgetUsd") && !values.given("alertEmail")) {
    problems.add({
      key: "budgetUsd",
      value: values.value<number>("budgetUsd"),
      allowed: "set together with `alertEmail`, who receives the budget alerts",
      fix: "pulumi config set yolo-train:alertEmail ml-team@example.com",
    });
  }
}
