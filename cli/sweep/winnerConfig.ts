import { Document, isScalar } from "yaml";
import { REDACTED } from "../../config/checks/context";
import { CONFIG_NAMESPACE } from "../../config/keys";

/**
 * The sweep winner's config as a stack file a user can commit (issue 12): `config:` with
 * `aws:region` and one `yolo-train:<key>` per key of the trial's stack config (the manifest's
 * `stackConfig`), nested values as YAML. Secrets are never in the manifest: a redacted value (the
 * W&B key) stays a placeholder with a comment saying how to set it as a Pulumi secret. Pure.
 */
export interface WinnerStackConfig {
  /** The suggested stack for training it further, e.g. `dev-t03`. */
  readonly stack: string;
  /** `Pulumi.<stack>.yaml`. */
  readonly fileName: string;
  /** Full keys (`aws:region`, `yolo-train:model`) → values, as the file holds them. */
  readonly config: Readonly<Record<string, unknown>>;
  /** The `pulumi config set --secret` commands the placeholders need, one per secret. */
  readonly secretCommands: readonly string[];
  /** The file's text, with comments. */
  readonly yaml: string;
}

export interface WinnerStackConfigInput {
  readonly sweepId: string;
  readonly trialId: string;
  readonly runId: string;
  readonly metric: string;
  readonly value: number;
  readonly region: string;
  readonly stackConfig: Readonly<Record<string, unknown>>;
  /** The sweep stack's name, when known: the new stack is named after it. */
  readonly sweepStack: string | null;
  /** The winner's weights (`s3://bucket/runs/<runId>/model/best.pt`), when its record names them. */
  readonly bestWeights: string | null;
}

/** `--path` syntax of `pulumi config set`: `yolo-train:tracking.wandbApiKey`, `yolo-train:a[0]`. */
const configPath = (segments: readonly (string | number)[]): string =>
  segments.map((s, i) => (typeof s === "number" ? `[${s}]` : i === 0 ? s : `.${s}`)).join("");

/** Where a value is {@link REDACTED}, as paths from the full key down. */
function redactedPaths(value: unknown, path: (string | number)[]): (string | number)[][] {
  if (value === REDACTED) return [path];
  if (Array.isArray(value)) return value.flatMap((v, i) => redactedPaths(v, [...path, i]));
  if (value !== null && typeof value === "object") return Object.entries(value).flatMap(([k, v]) => redactedPaths(v, [...path, k]));
  return [];
}

export function winnerStackConfig(input: WinnerStackConfigInput): WinnerStackConfig {
  const stack = `${input.sweepStack ?? "sweep"}-${input.trialId}`;
  const fileName = `Pulumi.${stack}.yaml`;
  const config: Record<string, unknown> = { "aws:region": input.region };
  for (const [key, value] of Object.entries(input.stackConfig)) {
    // A trial is one run: a sweep key (never in a trial's config today) would make it a sweep again.
    if (key === "sweep") continue;
    config[`${CONFIG_NAMESPACE}:${key}`] = value;
  }
  const doc = new Document({ config });
  const secretCommands: string[] = [];
  for (const path of redactedPaths(config, [])) {
    const [fullKey, ...inner] = path as [string, ...(string | number)[]];
    const command = `pulumi config set --stack ${stack} --secret ${inner.length > 0 ? "--path " : ""}'${configPath(path)}' <value>`;
    secretCommands.push(command);
    const node = doc.getIn(["config", fullKey, ...inner], true);
    if (isScalar(node)) node.comment = ` a secret, not in the sweep's records: set it with ${command}`;
  }
  doc.commentBefore = [
    ` The winner of sweep ${input.sweepId}: trial ${input.trialId} (run ${input.runId}), ${input.metric} ${input.value.toFixed(4)}.`,
    ` To train it further: pulumi stack init ${stack}; put this config: block into ${fileName}`,
    ` (keep any encryptionsalt line pulumi wrote there), then pulumi up --stack ${stack}.`,
    ...(input.bestWeights !== null
      ? [
          ` To start from the winner's weights instead of from ${String(input.stackConfig.model ?? "the base model")}, set`,
          ` yolo-train:model to a copy of ${input.bestWeights} in a bucket that outlives the sweep stack.`,
        ]
      : []),
  ].join("\n");
  return { stack, fileName, config, secretCommands, yaml: doc.toString({ lineWidth: 0 }) };
}
