import type { Problem } from "../../runspec/problems";
import { ConfigProblems } from "./context";
import { signingKeyRegionProblem } from "./ota";
import { checkKeyShape } from "./shapes";

/*
 * Checks of the values `parseExperimentInput` carried on as Outputs (`DeferredExperimentInputs`),
 * once they are known: call them inside `apply` (or `pulumi.all([...]).apply`) and refuse the
 * problems they return, e.g. by throwing `new InvalidInputError(subject, problems)`. The rules and
 * messages are those of the plain keys. Pure.
 */

/**
 * The problems of a resolved `network` (`deferred.network` once known): a VPC id, and a non-empty
 * list of distinct subnet ids. `[]` when it is good.
 */
export function checkDeferredNetwork(network: { readonly vpcId: string; readonly subnetIds: readonly string[] }): Problem[] {
  const problems = new ConfigProblems();
  checkKeyShape("network", { vpcId: network.vpcId, subnetIds: network.subnetIds }, problems);
  return [...problems.all];
}

/**
 * The problems of a resolved shared OTA bucket (`deferred.otaShared` once known): an S3 bucket
 * name, and a KMS key ARN in the stack's `region`. `[]` when it is good.
 */
export function checkDeferredOtaShared(
  shared: { readonly bucket: string; readonly signingKeyArn: string },
  context: { readonly region: string },
): Problem[] {
  const problems = new ConfigProblems();
  checkKeyShape("ota", { bucket: shared.bucket, signingKeyArn: shared.signingKeyArn }, problems);
  // Only a well-formed key ARN names a region; a malformed one is reported above.
  const problem = typeof shared.signingKeyArn === "string" ? signingKeyRegionProblem(shared.signingKeyArn, context.region) : undefined;
  if (problem !== undefined) problems.add(problem);
  return [...problems.all];
}

/** The problems of a resolved `image` (`deferred.image` once known): an image reference. `[]` when it is good. */
export function checkDeferredImage(image: string): Problem[] {
  const problems = new ConfigProblems();
  checkKeyShape("image", image, problems);
  return [...problems.all];
}

/** The problems of a resolved `alertEmail` (`deferred.alertEmail` once known): an e-mail address. `[]` when it is good. */
export function checkDeferredAlertEmail(alertEmail: string): Problem[] {
  const problems = new ConfigProblems();
  checkKeyShape("alertEmail", alertEmail, problems);
  return [...problems.all];
}
