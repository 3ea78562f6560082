/**
 * The code of the OTA timestamp-refresh Lambda (ota/trust/timestampLambda.ts) as a Pulumi asset:
 * one esbuild bundle, `dist-lambda/otaTimestamp/index.js`, with the AWS SDK inside it, so the
 * function runs the SDK versions this package was tested with rather than whatever the Lambda
 * runtime happens to ship. `npm run build` (and so `npm pack`) builds it; from a source checkout
 * it is built here on first use.
 */
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { packageRoot } from "../packageRoot";

/** The handler source, relative to the package root. */
export const TIMESTAMP_FUNCTION_ENTRY = "ota/trust/timestampLambda.ts";
/** The bundle, relative to the package root (what `npm run build:lambda` writes). */
export { packageRoot };
export const TIMESTAMP_FUNCTION_BUNDLE = "dist-lambda/otaTimestamp/index.js";

export interface TimestampFunctionBundleOptions {
  /** Build the bundle again even if one exists (tests, so they run the current sources). @default false */
  readonly rebuild?: boolean;
}

/** The minimal part of esbuild's JS API used here (esbuild is a devDependency, so it is required lazily). */
interface EsbuildApi {
  buildSync(options: Record<string, unknown>): { outputFiles?: { path: string; contents: Uint8Array }[] };
}

/**
 * The absolute path of the Lambda bundle, building it first when it is missing (or `rebuild`).
 * Throws when it must be built but esbuild is not installed (an installed package ships the bundle;
 * a checkout without devDependencies does not have esbuild): run `npm run build:lambda`.
 */
export function timestampFunctionBundlePath(options: TimestampFunctionBundleOptions = {}): string {
  const root = packageRoot();
  const bundle = path.join(root, TIMESTAMP_FUNCTION_BUNDLE);
  if (options.rebuild || !fs.existsSync(bundle)) buildBundle(root, bundle);
  return bundle;
}

function buildBundle(root: string, bundle: string): void {
  let esbuild: EsbuildApi;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    esbuild = require("esbuild") as EsbuildApi;
  } catch (error) {
    throw new Error(`${bundle} is missing and esbuild (a devDependency) cannot be loaded to build it (${(error as Error).message}); run \`npm run build:lambda\` in ${root}`);
  }
  // The same options as the build:lambda script, written in memory first: tests in parallel
  // workers may build at once, and a reader must never see a half-written bundle.
  const result = esbuild.buildSync({
    absWorkingDir: root,
    entryPoints: [path.join(root, TIMESTAMP_FUNCTION_ENTRY)],
    bundle: true,
    platform: "node",
    target: "node22",
    format: "cjs",
    outfile: bundle,
    write: false,
    logLevel: "silent",
  });
  const output = result.outputFiles?.find((file) => path.resolve(file.path) === bundle);
  if (output === undefined) throw new Error(`esbuild produced no ${bundle}`);
  fs.mkdirSync(path.dirname(bundle), { recursive: true });
  const temporary = `${bundle}.${process.pid}.${Date.now()}.tmp`;
  fs.writeFileSync(temporary, output.contents);
  fs.renameSync(temporary, bundle);
}

/** The Lambda's code: an archive holding the bundle as `index.js` (handler `index.handler`, TIMESTAMP_FUNCTION_HANDLER). */
export function timestampFunctionArchive(): pulumi.asset.AssetArchive {
  return new pulumi.asset.AssetArchive({ "index.js": new pulumi.asset.FileAsset(timestampFunctionBundlePath()) });
}
