/**
 * Environment variable names of the OTA timestamp-refresh Lambda.
 *
 * Shared between the handler (which reads them) and the Pulumi component
 * (which sets them), so the two cannot drift apart.
 */
export const TIMESTAMP_FUNCTION_ENV = {
  bucket: "YOLO_TRAIN_OTA_BUCKET",
  modelsPrefix: "YOLO_TRAIN_MODELS_PREFIX",
  keyId: "YOLO_TRAIN_TIMESTAMP_KEY_ID",
  releasePublicKeys: "YOLO_TRAIN_RELEASE_PUBLIC_KEYS",
  expiresHours: "YOLO_TRAIN_TIMESTAMP_EXPIRES_HOURS",
} as const;

/** Lambda `handler` setting for the bundle built by `npm run build:lambda` (`index.js`, export `handler`). */
export const TIMESTAMP_FUNCTION_HANDLER = "index.handler";
