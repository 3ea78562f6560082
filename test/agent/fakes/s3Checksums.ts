import { createHash, type Hash } from "crypto";
import { Transform, type TransformCallback } from "stream";

/** An S3 additional checksum computed as bytes flow; `digest()` is base64, as in `x-amz-checksum-*`. */
export interface RunningChecksum {
  update(bytes: Buffer): void;
  digest(): string;
}

function crcTable(polynomial: number): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n += 1) {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? polynomial ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

const CRC32 = crcTable(0xedb88320);
const CRC32C = crcTable(0x82f63b78);

class Crc implements RunningChecksum {
  private crc = 0xffffffff;
  constructor(private readonly table: Uint32Array) {}
  update(bytes: Buffer): void {
    let c = this.crc;
    for (const byte of bytes) c = this.table[(c ^ byte) & 0xff]! ^ (c >>> 8);
    this.crc = c;
  }
  digest(): string {
    const out = Buffer.alloc(4);
    out.writeUInt32BE((this.crc ^ 0xffffffff) >>> 0);
    return out.toString("base64");
  }
}

class Digest implements RunningChecksum {
  private readonly hash: Hash;
  constructor(algorithm: string) {
    this.hash = createHash(algorithm);
  }
  update(bytes: Buffer): void {
    this.hash.update(bytes);
  }
  digest(): string {
    return this.hash.digest("base64");
  }
}

/** A running checksum for `x-amz-checksum-<name>`, or undefined for one not checked here (crc64nvme). */
export function runningChecksum(name: string): RunningChecksum | undefined {
  switch (name) {
    case "crc32":
      return new Crc(CRC32);
    case "crc32c":
      return new Crc(CRC32C);
    case "sha1":
      return new Digest("sha1");
    case "sha256":
      return new Digest("sha256");
    default:
      return undefined;
  }
}

/**
 * Turns an `aws-chunked` body (`<hex size>[;chunk-signature=…]\r\n<data>\r\n` … `0…\r\n`, then
 * trailer lines such as `x-amz-checksum-crc32:…`) into its payload, and keeps the trailers.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html
 */
export class AwsChunkedDecoder extends Transform {
  readonly trailers: Record<string, string> = {};
  private pending: Buffer = Buffer.alloc(0);
  private remaining = 0;
  private state: "size" | "data" | "data-end" | "trailers" = "size";

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    try {
      this.drain();
      done();
    } catch (error) {
      done(error as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    if (this.state !== "trailers") return done(new Error(`aws-chunked body ended in state ${this.state}`));
    for (const line of this.pending.toString("latin1").split("\r\n")) {
      const colon = line.indexOf(":");
      if (colon > 0) this.trailers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    done();
  }

  private drain(): void {
    for (;;) {
      if (this.state === "size") {
        const end = this.pending.indexOf("\r\n");
        if (end < 0) return;
        const size = parseInt(this.pending.subarray(0, end).toString("latin1").split(";")[0] ?? "", 16);
        if (!Number.isFinite(size)) throw new Error("bad aws-chunked size line");
        this.pending = this.pending.subarray(end + 2);
        if (size === 0) {
          this.state = "trailers";
          return;
        }
        this.remaining = size;
        this.state = "data";
      } else if (this.state === "data") {
        if (this.pending.length === 0) return;
        const take = Math.min(this.remaining, this.pending.length);
        this.push(this.pending.subarray(0, take));
        this.pending = this.pending.subarray(take);
        this.remaining -= take;
        if (this.remaining === 0) this.state = "data-end";
      } else if (this.state === "data-end") {
        if (this.pending.length < 2) return;
        this.pending = this.pending.subarray(2);
        this.state = "size";
      } else {
        return;
      }
    }
  }
}
