/**
 * The code of this package's Lambda functions as Pulumi assets: one esbuild bundle per function
 * (`dist-lambda/<function>/index.js`), with the AWS SDK inside it, so each function runs the SDK
 * versions this package was tested with rather than whatever the Lambda runtime happens to ship.
 * `npm run build:lambda` (and so `npm run build`, `npm pack`) builds every bundle; from a source
 * checkout a missing bundle is built here on first use. The OTA timestamp function
 * (ota/timestampFunctionCode.ts) and the sweep keeper (sweep/sweepKeeper.ts) both use it.
 */
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { packageRoot } from "../packageRoot";

/** One function's handler source and bundle, both relative to the package root. */
export interface LambdaBundleSpec {
  /** The handler's TypeScript entry, e.g. `ota/trust/timestampLambda.ts`. */
  readonly entry: string;
  /** Where `npm run build:lambda` writes its bundle, e.g. `dist-lambda/otaTimestamp/index.js`. */
  readonly bundle: string;
}

export interface LambdaBundleOptions {
  /** Build the bundle again even if one exists (tests, so they run the current sources). @default false */
  readonly rebuild?: boolean;
}

/** The minimal part of esbuild's JS API used here (esbuild is a devDependency, so it is required lazily). */
interface EsbuildApi {
  buildSync(options: Record<string, unknown>): { outputFiles?: { path: string; contents: Uint8Array }[] };
}

/**
 * The options of every bundle, as the `build:lambda` script passes them on the command line:
 * one CommonJS file for Node.js 22 (the functions' runtime, `nodejs22.x`).
 */
export const LAMBDA_BUNDLE_OPTIONS = Object.freeze({ bundle: true, platform: "node", target: "node22", format: "cjs" });

/**
 * The absolute path of a function's bundle, building it first when it is missing (or `rebuild`).
 * Throws when it must be built but cannot be: esbuild not installed (an installed package ships
 * the bundles; a checkout without devDependencies has no esbuild), or the entry missing. The
 * message says to run `npm run build:lambda`.
 */
export function lambdaBundlePath(spec: LambdaBundleSpec, options: LambdaBundleOptions = {}): string {
  const root = packageRoot();
  const bundle = path.join(root, spec.bundle);
  if (options.rebuild || !fs.existsSync(bundle)) buildBundle(root, path.join(root, spec.entry), bundle);
  return bundle;
}

/** The function's code: an archive holding the bundle as `index.js` (handler `index.handler`). */
export function lambdaArchive(spec: LambdaBundleSpec, options: LambdaBundleOptions = {}): pulumi.asset.AssetArchive {
  return new pulumi.asset.AssetArchive({ "index.js": new pulumi.asset.FileAsset(lambdaBundlePath(spec, options)) });
}

function buildBundle(root: string, entry: string, bundle: string): void {
  if (!fs.existsSync(entry)) {
    throw new Error(`${bundle} is missing and its source ${entry} does not exist to build it from; run \`npm run build:lambda\` in ${root} from a complete checkout`);
  }
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
    ...LAMBDA_BUNDLE_OPTIONS,
    absWorkingDir: root,
    entryPoints: [entry],
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
