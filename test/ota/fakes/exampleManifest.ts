/** docs/ota.md's example manifest fields, in the order the docs write them (not canonical), with `overrides` on top. */
export function exampleManifest(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schemaVersion: 1,
    modelName: "widgets",
    version: 7,
    createdAt: "2026-11-29T12:00:00.000Z",
    expires: "2027-02-27T12:00:00.000Z",
    runId: "yolov8n-widgets-0123456789",
    metrics: { "metrics/mAP50-95(B)": 0.612, "metrics/mAP50(B)": 0.81 },
    inputSize: 640,
    classNames: ["pallet", "box"],
    files: [
      { path: "model.onnx", length: 12345678, sha256: "ab".repeat(32) },
      { path: "model.pt", length: 6543210, sha256: "cd".repeat(32) },
    ],
    ...overrides,
  };
}

/**
 * A release signed before manifests had `runtime`: the canonical bytes of {@link exampleManifest}
 * as the publisher of then wrote them, and its signature (made once with a throwaway P-256 key
 * whose public half is here). Readers must keep accepting it byte for byte.
 */
export const OLD_RELEASE = {
  bytes: Buffer.from(
    `{"classNames":["pallet","box"],"createdAt":"2026-11-29T12:00:00.000Z","expires":"2027-02-27T12:00:00.000Z",` +
      `"files":[{"length":12345678,"path":"model.onnx","sha256":"${"ab".repeat(32)}"},{"length":6543210,"path":"model.pt","sha256":"${"cd".repeat(32)}"}],` +
      `"inputSize":640,"metrics":{"metrics/mAP50(B)":0.81,"metrics/mAP50-95(B)":0.612},"modelName":"widgets","runId":"yolov8n-widgets-0123456789","schemaVersion":1,"version":7}`,
  ),
  signature: Buffer.from("MEUCIQDwJhsPXKdDNpMH2VNbEtG0Q/64ftaVjeKn+6jjOGGLMQIgCmlQidDgjQEKzn93cmqxzoA7WrPiGOkZ7Iy2xEvR8xs=", "base64"),
  publicKeyPem:
    "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE4qdpgvAcvNdC8/3IwCygv+Cdbq+i\nXR7J1S9zckWmnXTWx60Iy4djKmvdiK52f/bQzKsenWuJJi4Jql4qGHmVHA==\n-----END PUBLIC KEY-----\n",
} as const;
