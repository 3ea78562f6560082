import type { TrackingSettings } from "../types";
import { REDACTED, type ConfigProblems, type ConfigValues } from "./context";

/**
 * `tracking`: off, MLflow (`{ mlflowUri }`) or Weights & Biases (`{ wandbProject, wandbApiKey }`,
 * the key a Pulumi secret: `context.secretKeys` names `tracking`). Never both; the key is never shown.
 */
export function checkTracking(values: ConfigValues, problems: ConfigProblems): TrackingSettings | undefined {
  if (!values.given("tracking")) return { kind: "off" };
  const t = values.value<{ mlflowUri?: string; wandbProject?: string; wandbApiKey?: string }>("tracking");
  if (t === undefined) return undefined;
  const shown = problems.shown("tracking", [], values.raw.tracking);
  const wandb = t.wandbProject !== undefined || t.wandbApiKey !== undefined;
  if (t.mlflowUri !== undefined && wandb) {
    problems.add({
      key: "tracking",
      value: shown,
      allowed: "either { mlflowUri } or { wandbProject, wandbApiKey }, not both",
      fix: "remove the fields of the tracker you do not use",
    });
    return undefined;
  }
  if (t.mlflowUri !== undefined) return { kind: "mlflow", mlflowUri: t.mlflowUri };
  if (!wandb) {
    problems.add({
      key: "tracking",
      value: shown,
      allowed: "{ mlflowUri } or { wandbProject, wandbApiKey }",
      fix: "set one of them, or remove the key to train without tracking (pulumi config rm yolo-train:tracking)",
    });
    return undefined;
  }
  let ok = true;
  if (t.wandbProject === undefined) {
    ok = false;
    problems.add({ key: "tracking.wandbProject", value: undefined, allowed: "set along with `tracking.wandbApiKey`", fix: "pulumi config set --path 'yolo-train:tracking.wandbProject' <project>" });
  }
  if (t.wandbApiKey === undefined) {
    ok = false;
    problems.add({
      key: "tracking.wandbApiKey",
      value: undefined,
      allowed: "set along with `tracking.wandbProject`, as a Pulumi secret",
      fix: "pulumi config set --secret --path 'yolo-train:tracking.wandbApiKey' <key>",
    });
  } else if (!problems.isSecret("tracking")) {
    ok = false;
    problems.add({
      key: "tracking.wandbApiKey",
      value: REDACTED,
      allowed: "a Pulumi secret (it is stored in plain text in the stack config now)",
      fix: "pulumi config set --secret --path 'yolo-train:tracking.wandbApiKey' <key>, and rotate the key",
    });
  }
  return ok ? { kind: "wandb", wandbProject: t.wandbProject!, wandbApiKeyIsSet: true } : undefined;
}
