/**
 * The code of the OTA timestamp-refresh Lambda (ota/trust/timestampLambda.ts) as a Pulumi asset:
 * one esbuild bundle, `dist-lambda/otaTimestamp/index.js`, built like every function bundle of
 * this package (components/lambda/lambdaBundle.ts).
 */
import type * as pulumi from "@pulumi/pulumi";
import { lambdaArchive, lambdaBundlePath, type LambdaBundleOptions, type LambdaBundleSpec } from "../lambda/lambdaBundle";
import { packageRoot } from "../packageRoot";

/** The handler source, relative to the package root. */
export const TIMESTAMP_FUNCTION_ENTRY = "ota/trust/timestampLambda.ts";
/** The bundle, relative to the package root (what `npm run build:lambda` writes). */
export const TIMESTAMP_FUNCTION_BUNDLE = "dist-lambda/otaTimestamp/index.js";
export { packageRoot };

const TIMESTAMP_FUNCTION: LambdaBundleSpec = { entry: TIMESTAMP_FUNCTION_ENTRY, bundle: TIMESTAMP_FUNCTION_BUNDLE };

export type TimestampFunctionBundleOptions = LambdaBundleOptions;

/**
 * The absolute path of the Lambda bundle, building it first when it is missing (or `rebuild`).
 * Throws when it must be built but esbuild is not installed: run `npm run build:lambda`.
 */
export function timestampFunctionBundlePath(options: TimestampFunctionBundleOptions = {}): string {
  return lambdaBundlePath(TIMESTAMP_FUNCTION, options);
}

/** The Lambda's code: an archive holding the bundle as `index.js` (handler `index.handler`, TIMESTAMP_FUNCTION_HANDLER). */
export function timestampFunctionArchive(): pulumi.asset.AssetArchive {
  return lambdaArchive(TIMESTAMP_FUNCTION);
}
