/**
 * The parts of an experiment whose stack-config values are Pulumi outputs (`parseExperimentInput`'s
 * `deferred`): each is checked once known, with the problems a plain value would get, so the
 * deployment (or the preview, when the value is known then) fails naming the config key.
 */
import * as pulumi from "@pulumi/pulumi";
import { checkDeferredImage, checkDeferredNetwork, checkDeferredOtaShared } from "../../config/checks/deferred";
import type { DeferredExperimentInputs } from "../../config/types";
import { InvalidInputError, type Problem } from "../../runspec/problems";
import type { ImagePart, OtaPart } from "../fleet/fleetParts";
import { ecrRepositoryOf, parseImageReference } from "../image/imageReference";
import { parseArn } from "../../runspec/awsPatterns";

/**
 * `value` once known, refused with the same problems a plain config value would get: the
 * deployment (or preview, when the value is known then) fails with them.
 */
export function checkedLater<T>(value: pulumi.Input<T>, problemsOf: (resolved: T) => Problem[], subject: string): pulumi.Output<T> {
  return pulumi.output(value).apply((resolved) => {
    const problems = problemsOf(resolved as T);
    if (problems.length > 0) throw new InvalidInputError(`The stack config's ${subject}`, problems);
    return resolved as T;
  }) as pulumi.Output<T>;
}

/** A network whose ids are outputs: checked once known. */
export function deferredNetworkArgs(network: NonNullable<DeferredExperimentInputs["network"]>): { vpcId: pulumi.Output<string>; subnetIds: pulumi.Output<string[]> } {
  const checked = checkedLater<{ vpcId: string; subnetIds: string[] }>(
    pulumi.all([network.vpcId, network.subnetIds]).apply(([vpcId, subnetIds]) => ({ vpcId, subnetIds })),
    checkDeferredNetwork,
    "network",
  );
  return { vpcId: checked.vpcId, subnetIds: checked.subnetIds };
}

/** An image named by an output: checked once known; the node may pull from its ECR repository, if any. */
export function deferredImagePart(image: pulumi.Input<string>): ImagePart {
  const imageUri = checkedLater(image, checkDeferredImage, "image");
  return { imageUri, repositoryArn: imageUri.apply((uri) => ecrRepositoryOf(parseImageReference(uri)!)?.repositoryArn ?? "") };
}

/** Another stack's OTA bucket and key named by outputs: checked once known. */
export function deferredOtaPart(shared: NonNullable<DeferredExperimentInputs["otaShared"]>, region: string): OtaPart {
  const checked = checkedLater<{ bucket: string; signingKeyArn: string }>(
    pulumi.all([shared.bucket, shared.signingKeyArn]).apply(([bucket, signingKeyArn]) => ({ bucket, signingKeyArn })),
    (s) => checkDeferredOtaShared(s, { region }),
    "ota",
  );
  return {
    bucketName: checked.bucket,
    // The bucket's partition is the key's: both belong to the same account setup.
    bucketArn: checked.apply((s) => `arn:${parseArn(s.signingKeyArn).partition}:s3:::${s.bucket}`),
    modelsPrefix: shared.modelsPrefix,
    signingKeyArn: checked.signingKeyArn,
  };
}
