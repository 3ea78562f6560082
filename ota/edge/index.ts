/** The edge puller as a library: `pullModel`, `rollback`, `status`, and the sources it reads from. */
export { pullModel, publicKeyFingerprint, MAX_MANIFEST_BYTES, MAX_POINTER_BYTES, MAX_SIGNATURE_BYTES } from "./puller";
export type { InstallStep, PullOptions, PullResult } from "./puller";
export { rollback, status } from "./localRelease";
export type { EdgeStatus, RollbackOptions, RollbackResult } from "./localRelease";
export { S3ModelSource, DEFAULT_MODELS_PREFIX } from "./s3ModelSource";
export type { S3ModelSourceOptions } from "./s3ModelSource";
export { HttpModelSource } from "./httpModelSource";
export type { HttpModelSourceOptions } from "./httpModelSource";
export type { ModelSource, ObjectBody, OpenOptions, TransferLimits } from "./modelSource";
export { DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_TRANSFER_LIMITS, withTransferDeadlines } from "./modelSource";
export { EdgeError, EdgeUsageError, IncompatibleReleaseError, LocalIoError, SourceError, VerificationRefusedError, EXIT_CODES } from "./errors";
export type { EdgeErrorKind, RefusalReason } from "./errors";
export { ONNXRUNTIME_OPSETS, oldestOnnxruntimeFor, onnxruntimeOpset, opsetCeiling } from "./runtimeSupport";
export type { BoxRuntime, OpsetCeiling } from "./runtimeSupport";
export { STATE_FILE, readState } from "./stateStore";
export type { EdgeState } from "./stateStore";
export { CURRENT_LINK, VERSIONS_DIR } from "./edgeFolder";
