import { createHash, createPublicKey, generateKeyPairSync, randomBytes, sign as cryptoSign, type KeyObject } from "crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "http";
import { closeServer, listenOnLoopback, readBody } from "../../agent/fakes/loopback";

/** One call the fake answered. */
export interface KmsCall {
  readonly target: string;
  readonly request: Record<string, unknown>;
  readonly status: number;
  /** The request carried a SigV4 Authorization header scoped to the `kms` service. */
  readonly signed: boolean;
}

export interface KmsFakeOptions {
  /** @default a new P-256 key */
  readonly privateKey?: KeyObject;
  /** @default "alias/yolo-train-dev-ota" */
  readonly alias?: string;
}

/**
 * AWS KMS on loopback, as far as manifest signing needs it: the JSON 1.1 protocol (`POST /`,
 * `X-Amz-Target: TrentService.<Operation>`) with `Sign` and `GetPublicKey` for one ECC_NIST_P256
 * SIGN_VERIFY key it holds, answering under its key id, ARN or alias. `Sign` makes a real DER
 * ECDSA signature over SHA-256, as KMS does: of the message (`RAW`, at most 4096 bytes, else a
 * ValidationException) or of a given digest (`DIGEST`).
 * @see https://docs.aws.amazon.com/kms/latest/APIReference/API_Sign.html
 */
export class KmsFake {
  readonly calls: KmsCall[] = [];
  readonly keyId = "1234abcd-12ab-34cd-56ef-1234567890ab";
  readonly keyArn = `arn:aws:kms:us-east-1:111122223333:key/${this.keyId}`;
  /** Another name the key answers to (a run spec's `ota.signingKeyId`). */
  readonly alias: string;
  readonly privateKey: KeyObject;
  private readonly server = createServer((req, res) => void this.handle(req, res).catch((error: unknown) => this.answer(res, "?", {}, 500, { __type: "KMSInternalException", message: String(error) })));
  private url = "";
  private disabled = false;

  private constructor(options: KmsFakeOptions) {
    this.privateKey = options.privateKey ?? generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey;
    this.alias = options.alias ?? "alias/yolo-train-dev-ota";
  }

  static async start(options: KmsFakeOptions = {}): Promise<KmsFake> {
    const fake = new KmsFake(options);
    fake.url = await listenOnLoopback(fake.server);
    return fake;
  }

  /** For `AWS_ENDPOINT_URL_KMS` or a client's `endpoint`. */
  get endpoint(): string {
    return this.url;
  }

  /** The key's public half as SPKI PEM (what a device pins). */
  get publicKeyPem(): string {
    return createPublicKey(this.privateKey).export({ format: "pem", type: "spki" }).toString();
  }

  /** From now on every request is answered as for a disabled key (`DisabledException`). */
  disable(): void {
    this.disabled = true;
  }

  async close(): Promise<void> {
    await closeServer(this.server);
  }

  private knows(keyId: unknown): boolean {
    return keyId === this.keyId || keyId === this.keyArn || keyId === this.alias;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = String(req.headers["x-amz-target"] ?? "");
    const body = await readBody(req);
    let request: Record<string, unknown>;
    try {
      request = JSON.parse(body.toString("utf8") || "{}") as Record<string, unknown>;
    } catch {
      return this.answer(res, target, {}, 400, { __type: "SerializationException", message: "body is not JSON" });
    }
    if (req.method !== "POST" || !String(req.headers["content-type"] ?? "").startsWith("application/x-amz-json-1.1")) {
      return this.answer(res, target, request, 400, { __type: "UnknownOperationException", message: "expected POST with application/x-amz-json-1.1" });
    }
    if (!this.knows(request.KeyId)) {
      return this.answer(res, target, request, 400, { __type: "NotFoundException", message: `Key '${String(request.KeyId)}' does not exist` });
    }
    if (this.disabled) return this.answer(res, target, request, 400, { __type: "DisabledException", message: `${this.keyArn} is disabled.` });
    switch (target) {
      case "TrentService.GetPublicKey": {
        const der = createPublicKey(this.privateKey).export({ format: "der", type: "spki" });
        return this.answer(res, target, request, 200, {
          KeyId: this.keyArn,
          PublicKey: der.toString("base64"),
          KeySpec: "ECC_NIST_P256",
          CustomerMasterKeySpec: "ECC_NIST_P256",
          KeyUsage: "SIGN_VERIFY",
          SigningAlgorithms: ["ECDSA_SHA_256"],
        });
      }
      case "TrentService.Sign": {
        if (request.SigningAlgorithm !== "ECDSA_SHA_256") {
          return this.answer(res, target, request, 400, { __type: "InvalidKeyUsageException", message: `key ${this.keyArn} does not support ${String(request.SigningAlgorithm)}` });
        }
        const message = Buffer.from(String(request.Message ?? ""), "base64");
        const type = request.MessageType ?? "RAW";
        let signature: Buffer;
        if (type === "RAW") {
          if (message.length === 0 || message.length > 4096) {
            return this.answer(res, target, request, 400, { __type: "ValidationException", message: "1 validation error detected: Value at 'message' failed to satisfy constraint: Member must have length less than or equal to 4096" });
          }
          signature = cryptoSign("sha256", message, { key: this.privateKey, dsaEncoding: "der" });
        } else if (type === "DIGEST") {
          if (message.length !== 32) return this.answer(res, target, request, 400, { __type: "ValidationException", message: "Digest is invalid length for algorithm ECDSA_SHA_256." });
          signature = signP256Digest(this.privateKey, message);
        } else {
          return this.answer(res, target, request, 400, { __type: "ValidationException", message: `unknown MessageType ${String(type)}` });
        }
        return this.answer(res, target, request, 200, { KeyId: this.keyArn, Signature: signature.toString("base64"), SigningAlgorithm: "ECDSA_SHA_256" });
      }
      default:
        return this.answer(res, target, request, 400, { __type: "UnknownOperationException", message: `the fake does not answer ${target}` });
    }

  }

  private answer(res: ServerResponse, target: string, request: Record<string, unknown>, status: number, body: Record<string, unknown>): void {
    const signed = /^AWS4-HMAC-SHA256 Credential=[^/]+\/\d{8}\/[a-z0-9-]+\/kms\/aws4_request/.test(String(res.req?.headers.authorization ?? ""));
    this.calls.push({ target, request, status, signed });
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/x-amz-json-1.1", "content-length": Buffer.byteLength(text), "x-amzn-requestid": randomBytes(16).toString("hex") });
    res.end(text);
  }
}

// P-256 (secp256r1) domain parameters, for signing a digest KMS-style: Node's crypto always hashes
// the input itself, and KMS's `DIGEST` message type signs the given SHA-256 digest directly.
const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const A = P - 3n;
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const G = {
  x: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
  y: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
};
type Point = { x: bigint; y: bigint } | null;

const mod = (a: bigint, m: bigint): bigint => ((a % m) + m) % m;
function inverse(a: bigint, m: bigint): bigint {
  let [r0, r1, s0, s1] = [mod(a, m), m, 1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return mod(s0, m);
}
function add(p: Point, q: Point): Point {
  if (p === null) return q;
  if (q === null) return p;
  if (p.x === q.x && mod(p.y + q.y, P) === 0n) return null;
  const l = p.x === q.x && p.y === q.y ? mod((3n * p.x * p.x + A) * inverse(2n * p.y, P), P) : mod((q.y - p.y) * inverse(q.x - p.x, P), P);
  const x = mod(l * l - p.x - q.x, P);
  return { x, y: mod(l * (p.x - x) - p.y, P) };
}
function multiply(k: bigint, p: Point): Point {
  let result: Point = null;
  let addend = p;
  for (let e = k; e > 0n; e >>= 1n) {
    if (e & 1n) result = add(result, addend);
    addend = add(addend, addend);
  }
  return result;
}
const toBigInt = (bytes: Buffer): bigint => BigInt(`0x${bytes.toString("hex") || "0"}`);
function derInteger(n: bigint): Buffer {
  let hex = n.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  let bytes = Buffer.from(hex, "hex");
  if ((bytes[0] ?? 0) & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return Buffer.concat([Buffer.from([0x02, bytes.length]), bytes]);
}

/** ECDSA P-256 over a given 32-byte digest, DER-encoded (as KMS Sign with MessageType DIGEST). */
export function signP256Digest(privateKey: KeyObject, digest: Buffer): Buffer {
  const d = toBigInt(Buffer.from(String(privateKey.export({ format: "jwk" }).d), "base64url"));
  const z = toBigInt(digest);
  for (;;) {
    const k = mod(toBigInt(randomBytes(40)), N - 1n) + 1n;
    const r = mod(multiply(k, G)!.x, N);
    if (r === 0n) continue;
    const s = mod(inverse(k, N) * (z + r * d), N);
    if (s === 0n) continue;
    const body = Buffer.concat([derInteger(r), derInteger(s)]);
    return Buffer.concat([Buffer.from([0x30, body.length]), body]);
  }
}

/** The digest KMS expects for `MessageType: DIGEST` with ECDSA_SHA_256. */
export const sha256 = (bytes: Uint8Array): Buffer => createHash("sha256").update(bytes).digest();
