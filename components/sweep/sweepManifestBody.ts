/**
 * The sweep manifest the `Sweep` component writes to `sweeps/<sweepId>/sweep.json` (the contract:
 * runspec/sweep/sweepManifest.ts), built from plain values. Pure: no resources, no I/O. What it
 * returns has passed `parseSweepManifest`, so a manifest the keeper or the CLI would refuse fails
 * `pulumi up` (or the preview) instead.
 */
import { experimentInputOf } from "../../config/sweep/baseInput";
import type { SweepConfig, SweepTrial } from "../../config/sweep/types";
import {
  parseSweepManifest,
  SWEEP_MANIFEST_SCHEMA_VERSION,
  type SweepManifest,
  type SweepManifestOta,
} from "../../runspec/sweep/sweepManifest";

/** One trial as deployed: the sweep config's trial, and what its resources are called and cost. */
export interface SweepManifestTrialInput {
  readonly trial: Pick<SweepTrial, "id" | "runId" | "params" | "config">;
  /** Its Auto Scaling group's physical name. */
  readonly groupName: string;
  /** Its backstop schedule's physical name (EventBridge Scheduler group `default`). */
  readonly backstopScheduleName: string;
  /** The hourly price its estimate chose (`estimate.capacityRates.chosen.usdPerHour`). */
  readonly usdPerHour: number;
  /** The estimate of its cost to its end; null when the dataset's size is unknown. */
  readonly estimatedUsd: number | null;
}

export interface SweepManifestInput {
  readonly sweepId: string;
  /** The artifact bucket's name: the manifest, the rung records and every trial's run live in it. */
  readonly artifactBucket: string;
  readonly sweep: Pick<SweepConfig, "metric" | "direction" | "maxParallel" | "budgetUsd" | "asha">;
  /** Where the winner is released: every trial's run spec `ota` section (they share it). */
  readonly ota: SweepManifestOta;
  /** In the sweep's order: the order pending trials start in. */
  readonly trials: readonly SweepManifestTrialInput[];
}

/**
 * The manifest. Each trial's `stackConfig` is its config written back as stack config keys
 * (`experimentInputOf`): a W&B API key appears as the redacted placeholder, never the secret
 * (the config holds only that one is set).
 * @throws InvalidSweepObjectError when the result would not parse (a duplicate group, an empty sweep, …)
 */
export function sweepManifestOf(input: SweepManifestInput): SweepManifest {
  const { sweep } = input;
  const manifest: SweepManifest = {
    schemaVersion: SWEEP_MANIFEST_SCHEMA_VERSION,
    sweepId: input.sweepId,
    artifactBucket: input.artifactBucket,
    metric: sweep.metric,
    direction: sweep.direction,
    maxParallel: sweep.maxParallel,
    budgetUsd: sweep.budgetUsd ?? null,
    asha: sweep.asha
      ? { minEpochs: sweep.asha.minEpochs, reductionFactor: sweep.asha.reductionFactor, maxEpochs: sweep.asha.maxEpochs, rungs: [...sweep.asha.rungs] }
      : null,
    ota: {
      bucket: input.ota.bucket,
      prefix: input.ota.prefix,
      modelName: input.ota.modelName,
      channel: input.ota.channel,
      signingKeyId: input.ota.signingKeyId,
      ...(input.ota.promote ? { promote: { ...input.ota.promote } } : {}),
    },
    trials: input.trials.map(({ trial, groupName, backstopScheduleName, usdPerHour, estimatedUsd }) => ({
      trialId: trial.id,
      runId: trial.runId,
      params: { ...trial.params },
      groupName,
      backstopScheduleName,
      usdPerHour,
      maxRuntimeHours: trial.config.maxRuntimeHours,
      estimatedUsd,
      stackConfig: experimentInputOf(trial.config),
    })),
  };
  return parseSweepManifest(manifest, input.sweepId);
}

/** The manifest as the object's content: JSON, two-space indented (people read it with `aws s3 cp … -`). */
export function sweepManifestJson(input: SweepManifestInput): string {
  return `${JSON.stringify(sweepManifestOf(input), null, 2)}\n`;
}
