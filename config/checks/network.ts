import type { DeferredExperimentInputs } from "../types";
import type { ExperimentConfig } from "../types";
import type { ConfigValues } from "./context";

/** An existing network, plain (in the config) or with an Output field (deferred). */
export interface NetworkPart {
  readonly network?: ExperimentConfig["network"];
  readonly deferredNetwork?: DeferredExperimentInputs["network"];
}

/**
 * `network`: its own rule (config/schema.ts) says what is wrong with it. When `vpcId` or
 * `subnetIds` is an Output, the plain field is checked now and both are returned as deferred.
 */
export function checkNetwork(values: ConfigValues): NetworkPart {
  const vpcDeferred = values.deferred("network.vpcId");
  const subnetsDeferred = values.deferred("network.subnetIds");
  const parsed = values.value<{ vpcId?: string; subnetIds?: string[] }>("network");
  if (parsed === undefined) return {};
  if (!vpcDeferred && !subnetsDeferred) return { network: parsed as ExperimentConfig["network"] };
  const raw = values.raw.network as { vpcId?: unknown; subnetIds?: unknown };
  return {
    deferredNetwork: {
      vpcId: (vpcDeferred ? raw.vpcId : parsed.vpcId) as NonNullable<NetworkPart["deferredNetwork"]>["vpcId"],
      subnetIds: (subnetsDeferred ? raw.subnetIds : parsed.subnetIds) as NonNullable<NetworkPart["deferredNetwork"]>["subnetIds"],
    },
  };
}
