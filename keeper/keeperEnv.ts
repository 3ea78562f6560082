/**
 * The sweep keeper function's environment (issue 12): what the `SweepKeeper` component sets and
 * the handler (keeper/keeperLambda.ts) reads. The region and credentials come from Lambda itself.
 */
export const KEEPER_ENV = Object.freeze({
  /** The sweep's artifact bucket: its manifest, starts, state and winner under `sweeps/<sweepId>/`, the trials' runs under `runs/`. */
  bucket: "YOLO_TRAIN_SWEEP_BUCKET",
  /** The sweep id (`sweep-<hash>`, runspec/sweep/sweepManifest.ts `deriveSweepId`). */
  sweepId: "YOLO_TRAIN_SWEEP_ID",
});

/** The handler, as Lambda names it: the bundle's `index.js`, export `handler`. */
export const KEEPER_FUNCTION_HANDLER = "index.handler";
/** The handler source, relative to the package root. */
export const KEEPER_FUNCTION_ENTRY = "keeper/keeperLambda.ts";
/** The bundle, relative to the package root (what `npm run build:lambda` writes). */
export const KEEPER_FUNCTION_BUNDLE = "dist-lambda/sweepKeeper/index.js";
