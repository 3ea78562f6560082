/**
 * Over-the-air releases (docs/ota.md): the release format, signing and verification, the
 * promotion gate and publishing. The edge puller builds on the same format and verification.
 */
export * from "./manifest";
export * from "./signature";
export * from "./gate";
export * from "./publisher";
