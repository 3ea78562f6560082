import { promises as fs } from "fs";
import * as path from "path";
import type { KeyObject } from "crypto";
import { LocalKeySigner, type ManifestSigner } from "../../../../ota/signature";
import { buildRootDocument, rootDocumentKey, signRootDocument, type KeyRole } from "../../../../ota/trust/rootDocument";
import { TIMESTAMP_FILE, buildTimestamp, signTimestamp } from "../../../../ota/trust/timestampDocument";
import type { PullOptions } from "../../../../ota/edge/puller";
import { EdgeWorld, MODEL } from "./edgeWorld";

export interface RootSpec {
  readonly version: number;
  /** Keys listed per role. @default the world's root, release and timestamp signers */
  readonly keys?: Partial<Record<KeyRole, readonly (LocalKeySigner | KeyObject | string)[]>>;
  /** Who signs the document. @default the world's root signer */
  readonly signers?: readonly ManifestSigner[];
  readonly createdAt?: Date;
  readonly expires?: Date;
  readonly modelName?: string;
}

export interface TimestampSpec {
  readonly issuedAt?: Date;
  readonly expiresInHours?: number;
  readonly channels?: Readonly<Record<string, number>>;
  /** @default the world's timestamp signer */
  readonly signer?: ManifestSigner;
  readonly modelName?: string;
}

/**
 * {@link EdgeWorld} with a root of trust: a root key (what boxes pin), the release key of the
 * world (publishes), and a timestamp key (what the stack's refresh function signs with). Root
 * documents and timestamps are written the way `yolo-train ota root sign` and the function write
 * them (canonical envelopes in the model's folder); tests write odd ones on purpose.
 */
export class TrustWorld {
  private constructor(
    readonly edge: EdgeWorld,
    readonly rootSigner: LocalKeySigner,
    readonly timestampSigner: LocalKeySigner,
    readonly rootPublicKeyPem: string,
  ) {}

  static async start(): Promise<TrustWorld> {
    const edge = await EdgeWorld.start();
    const rootSigner = LocalKeySigner.generate();
    return new TrustWorld(edge, rootSigner, LocalKeySigner.generate(), await rootSigner.publicKeyPem());
  }

  /** Writes `root/<version>.json`, signed as `spec` says. */
  async writeRoot(spec: RootSpec): Promise<void> {
    const keyOf = async (k: LocalKeySigner | KeyObject | string): Promise<string | KeyObject> => (k instanceof LocalKeySigner ? k.publicKeyPem() : k);
    const keys = {} as Record<KeyRole, (string | KeyObject)[]>;
    const defaults: Record<KeyRole, LocalKeySigner[]> = { root: [this.rootSigner], release: [this.edge.signer], timestamp: [this.timestampSigner] };
    for (const role of ["root", "release", "timestamp"] as const) {
      keys[role] = await Promise.all((spec.keys?.[role] ?? defaults[role]).map(keyOf));
    }
    const createdAt = spec.createdAt ?? new Date();
    const document = buildRootDocument({ modelName: spec.modelName ?? MODEL, version: spec.version, createdAt, keys, ...(spec.expires ? { expires: spec.expires } : {}) });
    await this.edge.putObject(this.key(rootDocumentKey(spec.version)), await signRootDocument(document, spec.signers ?? [this.rootSigner]));
  }

  /** Writes `timestamp.json` as the refresh function would (or as an attacker would, with `spec`). */
  async writeTimestamp(spec: TimestampSpec = {}): Promise<Buffer> {
    const timestamp = buildTimestamp({
      modelName: spec.modelName ?? MODEL,
      issuedAt: spec.issuedAt ?? new Date(),
      ...(spec.expiresInHours !== undefined ? { expiresInHours: spec.expiresInHours } : {}),
      channels: spec.channels ?? {},
    });
    const bytes = await signTimestamp(timestamp, spec.signer ?? this.timestampSigner);
    await this.edge.putObject(this.key(TIMESTAMP_FILE), bytes);
    return bytes;
  }

  /** A key in the model's folder. */
  key(relative: string): string {
    return `${this.edge.layout.modelPrefix}${relative}`;
  }

  /** Pulls with the root key pinned (no release key). */
  pull(dest: string, extra: Partial<PullOptions> = {}) {
    return this.edge.pull(dest, { publicKeyPem: undefined, rootPublicKeyPem: this.rootPublicKeyPem, ...extra });
  }

  /** Writes the root key's public half to a file, for the CLI. */
  async rootKeyFile(): Promise<string> {
    const file = path.join(await fs.mkdtemp(path.join(this.edge.root, "keys-")), "root.pem");
    await fs.writeFile(file, this.rootPublicKeyPem);
    return file;
  }

  close(): Promise<void> {
    return this.edge.close();
  }
}
