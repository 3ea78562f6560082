import { KMS_KEY_ARN_PATTERN } from "../../runspec/awsPatterns";
import { DEFAULT_MODELS_PREFIX } from "../../runspec/bucketLayout";
import type { Problem } from "../../runspec/problems";
import { DEFAULT_PROMOTION_METRIC } from "../choices";
import { DEFAULTS } from "../defaults";
import type { DeferredExperimentInputs } from "../types";
import { MODEL_NAME } from "../schema";
import type { OtaSettings, PromotionGate, SharedOtaBucket } from "../types";
import type { CheckContext, ConfigProblems, ConfigValues } from "./context";

/** The stack name as an OTA model name: lower-case, [a-z0-9-], at most 63 characters. */
export function defaultModelName(stack: string): string {
  const name = stack
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/-+/g, "-")
    .slice(0, 63)
    .replace(/^-+|-+$/g, "");
  return MODEL_NAME.test(name) ? name : "model";
}

/** The OTA settings, and a shared bucket whose name or key is an Output (known later). */
export interface OtaPart {
  readonly ota?: OtaSettings;
  readonly otaShared?: NonNullable<DeferredExperimentInputs["otaShared"]>;
}

interface OtaFields {
  modelName?: string;
  channel?: OtaSettings["channel"];
  promote?: { metric?: string; min: number; requireImprovement?: boolean };
  bucket?: string;
  signingKeyArn?: string;
  modelsPrefix?: string;
}

/**
 * `ota`: model name (the stack's by default), channel, promotion gate (which needs validation
 * metrics: `hyperparameters.val` not false), and a shared fleet bucket with its signing key, the
 * two together and the key in the stack's region. A bucket or key given as an Output is returned
 * in `otaShared`, with the other and the models prefix, for a check once known.
 */
export function checkOta(
  values: ConfigValues,
  context: CheckContext,
  problems: ConfigProblems,
  hyperparameters: Readonly<Record<string, unknown>> | undefined,
): OtaPart {
  if (values.given("ota") && !values.valid("ota")) return {};
  const ota = (values.value<OtaFields>("ota") ?? {}) as OtaFields;
  let promote: PromotionGate | undefined;
  if (ota.promote !== undefined) {
    promote = {
      metric: ota.promote.metric ?? DEFAULT_PROMOTION_METRIC,
      min: ota.promote.min,
      requireImprovement: ota.promote.requireImprovement ?? true,
    };
    if (hyperparameters?.val === false) {
      problems.add({
        key: "hyperparameters.val",
        value: false,
        allowed: "true (or unset) while `ota.promote` gates on validation metrics",
        fix: "remove hyperparameters.val, or remove ota.promote",
      });
    }
  }
  const { shared, otaShared } = checkSharedOtaBucket(values, context, problems, ota);
  return {
    ota: {
      modelName: ota.modelName ?? defaultModelName(context.stack),
      channel: ota.channel ?? DEFAULTS.otaChannel,
      ...(promote !== undefined ? { promote } : {}),
      ...(shared !== undefined ? { shared } : {}),
    },
    ...(otaShared !== undefined ? { otaShared } : {}),
  };
}

/** `ota.bucket` and `ota.signingKeyArn` go together: a fleet bucket is useless without its key. */
function checkSharedOtaBucket(
  values: ConfigValues,
  context: CheckContext,
  problems: ConfigProblems,
  ota: OtaFields,
): { shared?: SharedOtaBucket; otaShared?: OtaPart["otaShared"] } {
  const { bucket, signingKeyArn, modelsPrefix } = ota;
  const bucketDeferred = values.deferred("ota.bucket");
  const keyDeferred = values.deferred("ota.signingKeyArn");
  const hasBucket = bucket !== undefined || bucketDeferred;
  const hasKey = signingKeyArn !== undefined || keyDeferred;
  if (!hasBucket && !hasKey) {
    if (modelsPrefix !== undefined) {
      problems.add({
        key: "ota.modelsPrefix",
        value: modelsPrefix,
        allowed: `set only with \`ota.bucket\` (this stack's own OTA bucket keeps models under ${DEFAULT_MODELS_PREFIX})`,
        fix: "remove ota.modelsPrefix, or set ota.bucket and ota.signingKeyArn too",
      });
    }
    return {};
  }
  if (!hasBucket || !hasKey) {
    const [missing, givenPath, given] = !hasBucket ? ["ota.bucket", "ota.signingKeyArn", signingKeyArn] : ["ota.signingKeyArn", "ota.bucket", bucket];
    const givenText = values.deferred(givenPath) ? "a pulumi Output" : JSON.stringify(given);
    problems.add({
      key: missing,
      value: undefined,
      allowed: `set together with ${missing === "ota.bucket" ? "`ota.signingKeyArn`" : "`ota.bucket`"} (${givenText}): devices verify releases with the key of the bucket they read`,
      fix:
        missing === "ota.bucket"
          ? "pulumi config set --path 'yolo-train:ota.bucket' <the platform stack's otaBucketName>"
          : "pulumi config set --path 'yolo-train:ota.signingKeyArn' <the platform stack's signingKeyArn>",
    });
    return {};
  }
  if (signingKeyArn !== undefined) {
    const problem = signingKeyRegionProblem(signingKeyArn, context.region);
    if (problem !== undefined) problems.add(problem);
  }
  const prefix = modelsPrefix ?? DEFAULT_MODELS_PREFIX;
  if (bucketDeferred || keyDeferred) {
    const raw = values.raw.ota as { bucket?: unknown; signingKeyArn?: unknown };
    return {
      otaShared: {
        bucket: (bucketDeferred ? raw.bucket : bucket) as NonNullable<OtaPart["otaShared"]>["bucket"],
        signingKeyArn: (keyDeferred ? raw.signingKeyArn : signingKeyArn) as NonNullable<OtaPart["otaShared"]>["signingKeyArn"],
        modelsPrefix: prefix,
      },
    };
  }
  return { shared: { bucket: bucket!, signingKeyArn: signingKeyArn!, modelsPrefix: prefix } };
}

/** A signing key of another region than the stack's: the run agent signs with a KMS client of the stack's region. */
export function signingKeyRegionProblem(signingKeyArn: string, region: string | undefined): Problem | undefined {
  const keyRegion = KMS_KEY_ARN_PATTERN.exec(signingKeyArn)?.groups?.region;
  if (keyRegion === undefined || region === undefined || keyRegion === region) return undefined;
  return {
    key: "ota.signingKeyArn",
    value: signingKeyArn,
    allowed: `a key in the stack's region ${region}: the run agent signs with a KMS client of that region`,
    fix: `use the fleet key of ${region} (a multi-Region replica key works too), or deploy the stack in ${keyRegion}`,
  };
}
