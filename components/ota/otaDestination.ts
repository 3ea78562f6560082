import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { kmsSigningKeyProblem } from "../../ota/signature";
import { parseArn } from "../../runspec/awsPatterns";
import type { ExperimentConfig } from "../../config/types";
import type { OtaPart } from "../fleet/fleetParts";
import { grantModelPublish, grantReleaseSign, type Grantee } from "../iam/grants";

/**
 * Where a run publishes its releases: its own `OtaBucket`, a fleet's, or another stack's bucket
 * and release key (config `ota.shared`).
 */
export interface OtaDestination {
  readonly bucketName: pulumi.Output<string>;
  readonly bucketArn: pulumi.Output<string>;
  /** Models live under this prefix (`models/`); this run's under `<modelsPrefix><modelName>/`. */
  readonly modelsPrefix: pulumi.Output<string>;
  readonly signingKeyArn: pulumi.Output<string>;
  /** The signing key's public half (PEM): what edge devices pin. */
  readonly publicKeyPem: pulumi.Output<string>;
  /** True when the run does not own the bucket and the key: destroying it leaves them alone. */
  readonly shared: boolean;
  /** Lets `grantee` publish under `prefix` of the bucket. */
  grantWrite(grantee: Grantee, prefix: pulumi.Input<string>): void;
  /** Lets `grantee` sign with the release key. */
  grantSign(grantee: Grantee): void;
}

/**
 * An OTA part as a destination. Without its public key (another stack's bucket), the key is read
 * from KMS, which also makes `pulumi preview` fail on a key that does not exist, cannot be read,
 * or cannot make the signatures devices verify. `keyName` is what the user set the key with.
 */
export function otaDestination(part: OtaPart, shared: boolean, keyName: string, parent: pulumi.Resource): OtaDestination {
  const signingKeyArn = pulumi.output(part.signingKeyArn);
  const bucketArn = pulumi.output(part.bucketArn);
  return {
    bucketName: pulumi.output(part.bucketName),
    bucketArn,
    modelsPrefix: pulumi.output(part.modelsPrefix),
    signingKeyArn,
    publicKeyPem: part.signingPublicKeyPem !== undefined ? pulumi.output(part.signingPublicKeyPem) : publicKeyFromKms(signingKeyArn, keyName, parent),
    shared,
    grantWrite: (grantee, prefix) => grantModelPublish(grantee, bucketArn, prefix),
    grantSign: (grantee) => grantReleaseSign(grantee, signingKeyArn),
  };
}

function publicKeyFromKms(keyArn: pulumi.Output<string>, keyName: string, parent: pulumi.Resource): pulumi.Output<string> {
  const publicKey = aws.kms.getPublicKeyOutput({ keyId: keyArn }, { parent });
  return pulumi
    .all([keyArn, publicKey.customerMasterKeySpec, publicKey.keyUsage, publicKey.signingAlgorithms, publicKey.publicKeyPem])
    .apply(([arn, keySpec, keyUsage, algorithms, pem]) => {
      const problem = kmsSigningKeyProblem({ keySpec, keyUsage, signingAlgorithms: algorithms });
      if (problem !== undefined) {
        throw new Error(
          `\`${keyName}\` is ${JSON.stringify(arn)}: KMS says it ${problem}. It must be an asymmetric KMS key with KeySpec ECC_NIST_P256, ` +
            "KeyUsage SIGN_VERIFY and algorithm ECDSA_SHA_256: the signingKeyArn output of the stack that owns the OTA bucket (an OtaBucket). " +
            "Under test, yolo-train/testing (installAwsMocks) answers GetPublicKey with such a key.",
        );
      }
      return pem;
    });
}

/**
 * Another stack's OTA bucket and release key, as the stack config names them (`ota.bucket`,
 * `ota.signingKeyArn`, `ota.modelsPrefix`), as a part. The bucket's partition is the key's: both
 * belong to the same account setup.
 */
export function sharedOtaPart(shared: NonNullable<ExperimentConfig["ota"]["shared"]>): OtaPart {
  const { partition } = parseArn(shared.signingKeyArn);
  return { bucketName: shared.bucket, bucketArn: `arn:${partition}:s3:::${shared.bucket}`, modelsPrefix: shared.modelsPrefix, signingKeyArn: shared.signingKeyArn };
}
