/**
 * How S3 answers, as the AWS SDK v3 throws it: by the error's name, or by the HTTP status when the
 * SDK gives no modelled name (a HEAD has no body to name the error). One place for every reader
 * and conditional writer: the agent, the OTA publisher and trust documents, the sweep keeper.
 */
interface S3ErrorShape {
  readonly name?: string;
  readonly $metadata?: { readonly httpStatusCode?: number };
}

const statusOf = (error: unknown): number | undefined => (error as S3ErrorShape | null | undefined)?.$metadata?.httpStatusCode;
const nameOf = (error: unknown): string | undefined => (error as S3ErrorShape | null | undefined)?.name;

/** The key does not exist: `NoSuchKey` (GET), `NotFound` (HEAD) or a 404. */
export const isS3NotFound = (error: unknown): boolean => nameOf(error) === "NoSuchKey" || nameOf(error) === "NotFound" || statusOf(error) === 404;

/** 412: a conditional write lost (`If-None-Match: *` on a key that exists, or `If-Match` on one that changed). */
export const isS3PreconditionFailed = (error: unknown): boolean => nameOf(error) === "PreconditionFailed" || statusOf(error) === 412;

/** 409: S3 was deciding another conditional write to the same key at that moment. */
export const isS3ConditionalConflict = (error: unknown): boolean => nameOf(error) === "ConditionalRequestConflict" || statusOf(error) === 409;
