/**
 * Keys named on the command line (`yolo-train ota root sign --sign-with … --release-key …`): a KMS
 * key (a key ARN `arn:aws:kms:<region>:<account>:key/<id>`, an alias `alias/<name>`, or an alias
 * ARN `arn:aws:kms:<region>:<account>:alias/<name>`) or the path of a PEM file. A KMS key signs
 * through KMS `Sign` ({@link KmsSigner}); only its public key is fetched (`GetPublicKey`) when it
 * is just listed. A PEM file (or the PEM text itself, as `pulumi stack output otaPublicKeyPem`
 * prints it) holds a private key to sign with, or a public or private key to
 * list: of a private key only the public half is kept. Every bad argument is reported at once,
 * naming its flag and value.
 */
import { promises as fs } from "fs";
import { createPrivateKey, createPublicKey, type KeyObject } from "crypto";
import { KMSClient } from "@aws-sdk/client-kms";
import { KMS_ALIAS_NAME_PATTERN, KMS_KEY_ID_PATTERN, parseKmsKeyReference } from "../../runspec/awsPatterns";
import { formatProblem, type Problem } from "../../runspec/problems";
import { KmsSigner, LocalKeySigner, SigningKeyError, readPublicKey, type ManifestSigner } from "../signature";

/** What a key argument names. */
export type KeySpec =
  | { readonly kind: "kms"; readonly keyId: string; readonly region?: string }
  | { readonly kind: "file"; readonly path: string }
  /** The PEM text itself (`--release-key "$(pulumi stack output otaPublicKeyPem)"`). */
  | { readonly kind: "pem"; readonly pem: string };

/** A key argument as given: which flag, which value. */
export interface KeyArgument {
  readonly flag: string;
  readonly value: string;
}

/** One or more key arguments are unusable; `problems` names each flag and value. */
export class KeySpecError extends Error {
  constructor(readonly problems: readonly Problem[]) {
    super(`${problems.length === 1 ? "A key argument is" : `${problems.length} key arguments are`} unusable:\n${problems.map((p) => `  - ${formatProblem(p)}`).join("\n")}`);
    this.name = "KeySpecError";
  }
}

const KEY_ALLOWED = "a KMS key (arn:aws:kms:<region>:<account>:key/<id>, alias/<name> or arn:aws:kms:<region>:<account>:alias/<name>) or the path of a PEM key file";

/** What `value` names, or a problem saying why it names nothing usable. */
export function parseKeySpec(value: string): KeySpec | { readonly problem: string; readonly fix: string } {
  const trimmed = value.trim();
  if (trimmed === "") return { problem: KEY_ALLOWED, fix: "name a key" };
  if (trimmed.startsWith("arn:")) {
    const arn = parseKmsKeyReference(trimmed);
    if (arn?.kind !== "key-arn" && arn?.kind !== "alias-arn") {
      return { problem: KEY_ALLOWED, fix: "a KMS ARN looks like arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab (the stack outputs give them)" };
    }
    return { kind: "kms", keyId: trimmed, region: arn.region };
  }
  if (trimmed.startsWith("-----BEGIN ")) return { kind: "pem", pem: trimmed };
  if (trimmed.startsWith("alias/")) {
    if (!KMS_ALIAS_NAME_PATTERN.test(trimmed)) return { problem: KEY_ALLOWED, fix: "a KMS alias is alias/ followed by letters, digits, '/', '_' and '-'" };
    return { kind: "kms", keyId: trimmed };
  }
  return { kind: "file", path: value };
}

export interface KeyLoaderOptions {
  /** The KMS client for a key without a region of its own (an alias). @default one configured the standard way (region, credentials, `AWS_ENDPOINT_URL_KMS`) */
  readonly kmsClient?: KMSClient;
  /** A KMS client for a key ARN's region. @default one per region, configured the standard way */
  readonly kmsClientFor?: (region: string) => KMSClient;
}

/**
 * Resolves key arguments, each to a signer or a public key. Reuses one resolution per key (a key
 * given to two flags costs one KMS call) and one KMS client per region; {@link destroy} closes them.
 */
export class KeyLoader {
  private readonly clients = new Map<string, KMSClient>();
  private readonly owned: KMSClient[] = [];
  private readonly kmsSigners = new Map<string, KmsSigner>();

  constructor(private readonly options: KeyLoaderOptions = {}) {}

  /** Signers for `--sign-with` arguments, in order: private keys only. Throws a {@link KeySpecError} listing every bad one. */
  async signers(args: readonly KeyArgument[]): Promise<ManifestSigner[]> {
    return this.resolveAll(args, (arg) => this.signer(arg));
  }

  /** Public keys for a role's arguments, in order. Throws a {@link KeySpecError} listing every bad one. */
  async publicKeys(args: readonly KeyArgument[]): Promise<KeyObject[]> {
    return this.resolveAll(args, (arg) => this.publicKey(arg));
  }

  /**
   * Resolves several groups at once and reports every bad argument of all of them together.
   * `signWith` become signers; each entry of `lists` becomes public keys (undefined stays undefined).
   */
  async resolve<L extends string>(
    signWith: readonly KeyArgument[],
    lists: Readonly<Record<L, readonly KeyArgument[] | undefined>>,
  ): Promise<{ signers: ManifestSigner[]; lists: Record<L, KeyObject[] | undefined> }> {
    // Problems in argument order, group by group, however the lookups interleave.
    const problems: Problem[][] = [];
    const collect = async <T>(group: number, run: () => Promise<T>): Promise<T | undefined> => {
      try {
        return await run();
      } catch (error) {
        if (!(error instanceof KeySpecError)) throw error;
        problems[group] = [...error.problems];
        return undefined;
      }
    };
    const names = Object.keys(lists) as L[];
    const [signers, ...resolved] = await Promise.all([
      collect(0, () => this.signers(signWith)),
      ...names.map((name, i) => {
        const args = lists[name];
        return args === undefined ? Promise.resolve(undefined) : collect(i + 1, () => this.publicKeys(args));
      }),
    ]);
    if (problems.length > 0) throw new KeySpecError(problems.flatMap((group) => group ?? []));
    return { signers: signers as ManifestSigner[], lists: Object.fromEntries(names.map((name, i) => [name, resolved[i]])) as Record<L, KeyObject[] | undefined> };
  }

  destroy(): void {
    for (const client of this.owned) client.destroy();
    this.owned.length = 0;
    this.clients.clear();
  }

  private async resolveAll<T>(args: readonly KeyArgument[], one: (arg: KeyArgument) => Promise<T>): Promise<T[]> {
    const problems: Problem[][] = [];
    const results = await Promise.all(
      args.map(async (arg, i) => {
        try {
          return await one(arg);
        } catch (error) {
          if (!(error instanceof KeySpecError)) throw error;
          problems[i] = [...error.problems];
          return undefined;
        }
      }),
    );
    if (problems.length > 0) throw new KeySpecError(problems.flatMap((list) => list ?? []));
    return results as T[];
  }

  private async signer(arg: KeyArgument): Promise<ManifestSigner> {
    const spec = specOf(arg);
    if (spec.kind === "kms") {
      const signer = this.kmsSigner(spec);
      await this.kmsCall(arg, () => signer.publicKeyPem()); // The key must exist and be able to sign; checked before anything is read.
      return signer;
    }
    const pem = spec.kind === "pem" ? spec.pem : await readKeyFile(arg, spec.path);
    if (!pem.includes("PRIVATE KEY-----")) {
      throw problem(arg, "a private key (PEM) or a KMS key to sign with", `${spec.kind === "pem" ? "the PEM given" : spec.path} holds no private key (a public key cannot sign); pass the private key file, or the KMS key`);
    }
    try {
      return new LocalKeySigner(pem);
    } catch (error) {
      throw problem(arg, "an EC P-256 private key in PEM (PKCS#8 or SEC1, unencrypted)", messageOf(error));
    }
  }

  private async publicKey(arg: KeyArgument): Promise<KeyObject> {
    const spec = specOf(arg);
    if (spec.kind === "kms") {
      const pem = await this.kmsCall(arg, () => this.kmsSigner(spec).publicKeyPem());
      return readPublicKey(pem);
    }
    const pem = spec.kind === "pem" ? spec.pem : await readKeyFile(arg, spec.path);
    try {
      // Of a private key, only the public half is kept.
      return readPublicKey(pem.includes("PRIVATE KEY-----") ? createPublicKey(createPrivateKey(pem)) : pem);
    } catch (error) {
      throw problem(arg, "an EC P-256 key in PEM (public, or a private key to take the public half of)", messageOf(error));
    }
  }

  private kmsSigner(spec: Extract<KeySpec, { kind: "kms" }>): KmsSigner {
    let signer = this.kmsSigners.get(spec.keyId);
    if (signer === undefined) {
      signer = new KmsSigner({ keyId: spec.keyId, client: this.client(spec.region) });
      this.kmsSigners.set(spec.keyId, signer);
    }
    return signer;
  }

  private client(region: string | undefined): KMSClient {
    const id = region ?? "";
    let client = this.clients.get(id);
    if (client === undefined) {
      if (region === undefined) client = this.options.kmsClient ?? this.own(new KMSClient({}));
      else client = this.options.kmsClientFor?.(region) ?? this.options.kmsClient ?? this.own(new KMSClient({ region }));
      this.clients.set(id, client);
    }
    return client;
  }

  private own(client: KMSClient): KMSClient {
    this.owned.push(client);
    return client;
  }

  /** Runs a KMS call for `arg`; a refusal about the key (not found, disabled, no access, wrong kind) names the argument. */
  private async kmsCall<T>(arg: KeyArgument, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      const fault = (error as { $fault?: string }).$fault;
      if (error instanceof SigningKeyError || fault === "client") {
        throw problem(arg, "a KMS key with KeySpec ECC_NIST_P256 and KeyUsage SIGN_VERIFY that these credentials may use", `KMS said: ${messageOf(error)}`);
      }
      throw error;
    }
  }
}

function specOf(arg: KeyArgument): KeySpec {
  const spec = parseKeySpec(arg.value);
  if ("problem" in spec) throw new KeySpecError([{ key: arg.flag, value: arg.value, allowed: spec.problem, fix: spec.fix }]);
  return spec;
}

async function readKeyFile(arg: KeyArgument, path: string): Promise<string> {
  try {
    const stat = await fs.stat(path);
    if (!stat.isFile()) throw new Error("not a regular file");
    if (stat.size > 64 * 1024) throw new Error(`${stat.size} bytes; a PEM key is a few hundred`);
    return await fs.readFile(path, "utf8");
  } catch (error) {
    const hint = KMS_KEY_ID_PATTERN.test(arg.value.trim())
      ? "this looks like a bare KMS key id: pass the key's ARN (arn:aws:kms:<region>:<account>:key/<id>) or an alias (alias/<name>)"
      : "pass a readable PEM file, or a KMS key ARN or alias";
    throw problem(arg, KEY_ALLOWED, `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? messageOf(error)}; ${hint}`);
  }
}

function problem(arg: KeyArgument, allowed: string, fix: string): KeySpecError {
  return new KeySpecError([{ key: arg.flag, value: arg.value, allowed, fix }]);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
