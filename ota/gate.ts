/**
 * The promotion gate (docs/ota.md, "Promotion"): whether a release that went to `candidate` may
 * move to `stable`. Pure: the caller reads the current stable release and the candidate's metrics.
 */
import type { Manifest } from "./manifest";

/** The stack config's `ota.promote` (the run spec carries it unchanged). */
export interface PromotionGate {
  /** Metric name as ultralytics reports it, e.g. `metrics/mAP50-95(B)`; higher is better. */
  readonly metric: string;
  /** The candidate needs at least this value. */
  readonly min: number;
  /** The candidate must also be strictly better than the current stable release. */
  readonly requireImprovement: boolean;
}

export interface PromotionDecision {
  readonly promote: boolean;
  /** One sentence an operator can act on: what was compared, and the config key that decided. */
  readonly reason: string;
}

/** The current stable release, as far as the gate needs it. */
export type StableRelease = Pick<Manifest, "version" | "metrics">;

const show = (x: number): string => String(Math.round(x * 10_000) / 10_000);

/**
 * Applies `gate` to the candidate's metrics. Refuses when the metric is missing or not finite,
 * below `min`, or (with `requireImprovement`) not strictly above the stable release's value, or
 * when the stable release has no value to compare with (promote by hand then).
 */
export function evaluatePromotion(gate: PromotionGate, candidateMetrics: Readonly<Record<string, number>>, stable?: StableRelease): PromotionDecision {
  const value = candidateMetrics[gate.metric];
  if (value === undefined || !Number.isFinite(value)) {
    const known = Object.keys(candidateMetrics);
    return {
      promote: false,
      reason: `the candidate has no ${gate.metric} (it has ${known.length > 0 ? known.join(", ") : "no metrics"}), so the gate (ota.promote.metric) cannot judge it`,
    };
  }
  if (value < gate.min) return { promote: false, reason: `${gate.metric} ${show(value)} is below the minimum ${show(gate.min)} (ota.promote.min)` };
  if (!gate.requireImprovement) return { promote: true, reason: `${gate.metric} ${show(value)} meets the minimum ${show(gate.min)} (ota.promote.min)` };
  if (stable === undefined) {
    return { promote: true, reason: `${gate.metric} ${show(value)} meets the minimum ${show(gate.min)} and there is no stable release yet to improve on` };
  }
  const current = stable.metrics[gate.metric];
  if (current === undefined || !Number.isFinite(current)) {
    return {
      promote: false,
      reason: `stable version ${stable.version} has no ${gate.metric} to compare with (ota.promote.requireImprovement); promote by hand if the candidate is better`,
    };
  }
  if (value <= current) {
    return {
      promote: false,
      reason: `${gate.metric} ${show(value)} does not improve on stable version ${stable.version} (${show(current)}) (ota.promote.requireImprovement)`,
    };
  }
  return {
    promote: true,
    reason: `${gate.metric} ${show(value)} meets the minimum ${show(gate.min)} and improves on stable version ${stable.version} (${show(current)})`,
  };
}

/** What to do after a release reached `candidate`, from the run spec's `ota.channel` and `ota.promote`. */
export type PromotionPlan =
  | { readonly kind: "gated"; readonly gate: PromotionGate }
  | { readonly kind: "always"; readonly reason: string }
  | { readonly kind: "never"; readonly reason: string };

/**
 * The policy: a release always goes to `candidate`. A gate (`ota.promote`), when set, alone decides
 * promotion to `stable`, whatever `ota.channel` says: the design makes stable quality-gated, and a
 * gate that `channel: stable` could bypass would protect nothing. Without a gate, `channel: stable`
 * promotes every release (the operator chose so), and `channel: candidate` promotes none.
 */
export function promotionPlan(ota: { readonly channel: "candidate" | "stable"; readonly promote?: PromotionGate | undefined }): PromotionPlan {
  if (ota.promote !== undefined) return { kind: "gated", gate: ota.promote };
  if (ota.channel === "stable") return { kind: "always", reason: "ota.channel is stable and no gate (ota.promote) is set" };
  return { kind: "never", reason: "ota.channel is candidate and no gate (ota.promote) is set; promote to stable by hand" };
}
