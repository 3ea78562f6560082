/**
 * `yolo-train ota root sign`: signs the next root document of a model's releases and writes it to
 * the OTA bucket (docs/ota.md, "Root of trust"). The library work is `signNextRoot`
 * (ota/trust/rootSigning.ts); key arguments are read by ota/trust/keySpec.ts.
 */
import type { KeyObject } from "crypto";
import { S3Client } from "@aws-sdk/client-s3";
import { Command } from "commander";
import { formatProblem, type Problem } from "../../runspec/problems";
import { layoutFor } from "../../ota/manifest";
import { publicKeyFingerprint } from "../../ota/signature";
import { KeyLoader, KeySpecError, type KeyArgument } from "../../ota/trust/keySpec";
import { DEFAULT_ROOT_EXPIRES_DAYS, KEY_ROLES, type KeyRole } from "../../ota/trust/rootDocument";
import { DEFAULT_ROOT_MODELS_PREFIX, RootSigningError, signNextRoot, type SignedRoot } from "../../ota/trust/rootSigning";
import type { CommandIo } from "../commands/operateContext";

export const ROOT_SIGN_EXIT_CODES = { ok: 0, failed: 1, usage: 2 } as const;

interface RootSignFlags {
  bucket: string;
  prefix: string;
  model: string;
  signWith: string[];
  rootKey?: string[];
  releaseKey?: string[];
  timestampKey?: string[];
  expiresDays?: string;
  dryRun?: boolean;
  json?: boolean;
}

/** A wrong invocation: exit 2. */
class RootSignUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RootSignUsageError";
  }
}

const ROLE_FLAGS: Record<KeyRole, string> = { root: "--root-key", release: "--release-key", timestamp: "--timestamp-key" };

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

const HELP = `
A key is a KMS key (arn:aws:kms:<region>:<account>:key/<id>, alias/<name>, arn:aws:kms:…:alias/<name>)
or PEM (a file, or the PEM text itself): a private key for --sign-with (it never leaves this machine), a public or private key for
--root-key, --release-key and --timestamp-key (only the public half is listed). A role flag replaces that
role's whole list; a role not given keeps the previous root's keys (the first root needs --release-key and
--timestamp-key; its root keys default to the --sign-with keys). Keys left out of a list are revoked for
that role: boxes that read the new root refuse what they sign.

Examples:
  # The first root, after \`pulumi up\`: signed by the stack's root key (otaRootKeyArn); the release key
  # is the one training nodes sign with (signingKeyArn; its public half is otaPublicKeyPem), the
  # timestamp key the refresh function's (otaTimestampKeyArn; otaTimestampPublicKeyPem). A key's ARN
  # and its public PEM name the same key.
  yolo-train ota root sign --bucket "$(pulumi stack output otaBucketName)" --model widgets \\
    --sign-with "$(pulumi stack output otaRootKeyArn)" \\
    --release-key "$(pulumi stack output otaPublicKeyPem)" \\
    --timestamp-key "$(pulumi stack output otaTimestampPublicKeyPem)"

  # Rotate the release key: list the new key next to the old one (both verify while boxes catch up),
  # then, once nothing signs with the old one any more, sign again listing only the new one.
  yolo-train ota root sign --bucket my-ota-bucket --model widgets --sign-with "$ROOT_KEY_ARN" \\
    --release-key "$OLD_RELEASE_KEY_ARN" --release-key "$NEW_RELEASE_KEY_ARN"

  # Revoke a compromised release key: list only the keys still trusted (here a new one). Releases it
  # signed stop verifying on every box that reads this root.
  yolo-train ota root sign --bucket my-ota-bucket --model widgets --sign-with "$ROOT_KEY_ARN" \\
    --release-key arn:aws:kms:eu-west-1:111122223333:key/<new-key-id>

  # Rotate the root key: the outgoing key hands over, the incoming one signs too. Boxes pinned to the
  # old key follow the chain; provision new boxes with the new key.
  yolo-train ota root sign --bucket my-ota-bucket --model widgets \\
    --sign-with old-root.pem --sign-with new-root.pem --root-key new-root.pem

  # See what would be written, without writing:
  yolo-train ota root sign --bucket my-ota-bucket --model widgets --sign-with root.pem --dry-run

S3 and KMS are reached the standard way (environment, profile, instance role; AWS_ENDPOINT_URL_S3,
AWS_ENDPOINT_URL_KMS; YOLO_TRAIN_S3_FORCE_PATH_STYLE=true for an S3-compatible store). It needs
s3:ListBucket and s3:GetObject on the model's root/ folder, s3:PutObject to write, kms:Sign on the
--sign-with keys and kms:GetPublicKey on every KMS key named.

Exit codes:
  0  signed and written (or, with --dry-run, signed and verified)
  1  not written: the chain in the bucket does not verify, another signer took the version first,
     or an unexpected error (S3 or KMS unreachable)
  2  usage: a wrong option, an unusable key, or a key set that must not be signed (no outgoing or no
     incoming root key among the signers, a key twice, a root key also listed as an online key,
     an expiry not in the future); nothing was written`;

/** Adds `sign` under `root` (the `ota root` group). */
export function addRootSignCommand(root: Command, io: CommandIo): Command {
  return root
    .command("sign")
    .summary("sign the next root of trust of a model and write it to the OTA bucket")
    .description(
      "Verify the model's chain of root documents in the OTA bucket from version 1, build the next version (each role's keys as given, " +
        "else the previous version's), sign it with the --sign-with keys, verify it as a box would, and write it (never over an existing version).",
    )
    .requiredOption("--bucket <name>", "the OTA bucket (stack output otaBucketName)")
    .option("--prefix <modelsPrefix>", "models prefix in the bucket (not the stack output otaPrefix, which ends with the model name)", DEFAULT_ROOT_MODELS_PREFIX)
    .requiredOption("--model <name>", "model name (the stack's ota.modelName)")
    .option("--sign-with <key>", "a root private key to sign with (repeat: outgoing and incoming root key when rotating it); required", collect)
    .option("--root-key <key>", "a root key of the new version (repeat for several; replaces the previous list)", collect)
    .option("--release-key <key>", "a release key of the new version (repeat for several; replaces the previous list)", collect)
    .option("--timestamp-key <key>", "a timestamp key of the new version (repeat for several; replaces the previous list)", collect)
    .option("--expires-days <n>", `days until the new root expires (default ${DEFAULT_ROOT_EXPIRES_DAYS})`)
    .option("--dry-run", "sign and verify, print the document, write nothing")
    .option("--json", "print the result (or the error) as JSON on stdout")
    .addHelpText("after", HELP)
    .configureOutput({ writeOut: (t) => io.stdout(t), writeErr: (t) => io.stderr(t) })
    .action(async (flags: RootSignFlags) => {
      io.setExitCode(await runRootSign(flags, io));
    });
}

async function runRootSign(flags: RootSignFlags, io: CommandIo): Promise<number> {
  const loader = new KeyLoader();
  let s3: S3Client | undefined;
  try {
    const expiresInDays = checkFlags(flags);
    const keyArgs = (flag: string, values: readonly string[] | undefined): KeyArgument[] | undefined => values?.map((value) => ({ flag, value }));
    const signWith = keyArgs("--sign-with", flags.signWith) ?? [];
    const lists = Object.fromEntries(KEY_ROLES.map((role) => [role, keyArgs(ROLE_FLAGS[role], flagValues(flags, role))])) as Record<KeyRole, KeyArgument[] | undefined>;
    const resolved = await loader.resolve(signWith, lists);

    // Name keys in messages by the argument they came from.
    const labels = new Map<string, string>();
    const label = (key: KeyObject | string, arg: KeyArgument): void => {
      const id = publicKeyFingerprint(key);
      if (!labels.has(id)) labels.set(id, `${arg.flag} ${arg.value.trim().startsWith("-----BEGIN ") ? "(PEM)" : arg.value}`);
    };
    for (const [i, signer] of resolved.signers.entries()) label(await signer.publicKeyPem(), signWith[i]!);
    for (const role of KEY_ROLES) resolved.lists[role]?.forEach((key, i) => label(key, lists[role]![i]!));

    const forcePathStyle = /^(1|true)$/i.test(io.env.YOLO_TRAIN_S3_FORCE_PATH_STYLE ?? "");
    s3 = new S3Client(forcePathStyle ? { forcePathStyle } : {});
    const result = await signNextRoot({
      s3,
      bucket: flags.bucket,
      modelsPrefix: flags.prefix,
      modelName: flags.model,
      signers: resolved.signers,
      ...(resolved.lists.root ? { root: resolved.lists.root } : {}),
      ...(resolved.lists.release ? { release: resolved.lists.release } : {}),
      ...(resolved.lists.timestamp ? { timestamp: resolved.lists.timestamp } : {}),
      ...(expiresInDays !== undefined ? { expiresInDays } : {}),
      now: new Date(io.now()),
      dryRun: flags.dryRun === true,
      keyLabels: labels,
    });
    io.stdout(flags.json ? JSON.stringify(jsonOf(result, flags), null, 2) + "\n" : render(result, flags, labels));
    return ROOT_SIGN_EXIT_CODES.ok;
  } catch (error) {
    const usage = error instanceof RootSignUsageError || error instanceof KeySpecError || (error instanceof RootSigningError && error.kind === "invalid-input");
    const code = usage ? ROOT_SIGN_EXIT_CODES.usage : ROOT_SIGN_EXIT_CODES.failed;
    const kind = error instanceof RootSigningError ? error.kind : usage ? "invalid-input" : "error";
    const message = error instanceof Error ? error.message : String(error);
    if (flags.json) io.stdout(JSON.stringify({ error: { kind, message, exitCode: code } }, null, 2) + "\n");
    const label = usage ? "usage error" : kind === "broken-chain" ? "BROKEN CHAIN" : kind === "conflict" ? "CONFLICT" : "failed";
    io.stderr(`yolo-train ota root sign: ${label}: ${error instanceof Error && !(error instanceof RootSigningError) && !usage && error.name !== "Error" ? `${error.name}: ` : ""}${message}\n`);
    return code;
  } finally {
    s3?.destroy();
    loader.destroy();
  }
}

function flagValues(flags: RootSignFlags, role: KeyRole): string[] | undefined {
  return role === "root" ? flags.rootKey : role === "release" ? flags.releaseKey : flags.timestampKey;
}

/** The flags that need no I/O to check, all at once; the expiry in days when given. */
function checkFlags(flags: RootSignFlags): number | undefined {
  const problems: Problem[] = [];
  if (flags.signWith === undefined || flags.signWith.length === 0) {
    problems.push({ key: "--sign-with", value: undefined, allowed: "at least one root private key (KMS key or PEM file)", fix: "e.g. --sign-with \"$(pulumi stack output otaRootKeyArn)\"" });
  }
  try {
    layoutFor(flags.prefix, flags.model);
  } catch {
    if (flags.prefix !== "" && !flags.prefix.endsWith("/")) problems.push({ key: "--prefix", value: flags.prefix, allowed: 'empty or ending with "/"', fix: `e.g. --prefix ${DEFAULT_ROOT_MODELS_PREFIX}` });
    else problems.push({ key: "--model", value: flags.model, allowed: "a model name (the stack's ota.modelName: lowercase letters, digits and '-')", fix: "e.g. --model widgets" });
  }
  if (flags.bucket.trim() === "") problems.push({ key: "--bucket", value: flags.bucket, allowed: "a bucket name", fix: "pass the stack output otaBucketName" });
  let expiresInDays: number | undefined;
  if (flags.expiresDays !== undefined) {
    const text = flags.expiresDays.trim();
    if (/^-?\d{1,6}(\.\d{1,6})?$/.test(text)) expiresInDays = Number(text);
    else problems.push({ key: "--expires-days", value: flags.expiresDays, allowed: "a number of days", fix: `e.g. --expires-days ${DEFAULT_ROOT_EXPIRES_DAYS} (the default)` });
  }
  if (problems.length > 0) {
    throw new RootSignUsageError(`${problems.length === 1 ? "An option is" : `${problems.length} options are`} unusable:\n${problems.map((p) => `  - ${formatProblem(p)}`).join("\n")}`);
  }
  return expiresInDays;
}

function jsonOf(r: SignedRoot, flags: RootSignFlags): Record<string, unknown> {
  return {
    modelName: r.document.modelName,
    version: r.version,
    previousVersion: r.previousVersion ?? null,
    bucket: r.bucket,
    key: r.key,
    written: r.written,
    dryRun: flags.dryRun === true,
    createdAt: r.document.createdAt,
    expires: r.document.expires,
    signedBy: r.signedBy,
    keys: r.fingerprints,
    added: r.added,
    removed: r.removed,
    document: r.document,
    ...(r.written ? {} : { envelope: r.bytes.toString("utf8") }),
  };
}

function render(r: SignedRoot, flags: RootSignFlags, labels: ReadonlyMap<string, string>): string {
  const named = (id: string): string => (labels.has(id) ? `${id}  (${labels.get(id)})` : id);
  const where = `s3://${r.bucket}/${r.key}`;
  const after = r.previousVersion === undefined ? "the first root" : `follows version ${r.previousVersion}`;
  const lines = [
    r.written
      ? `wrote root version ${r.version} of ${r.document.modelName} to ${where} (${after}; expires ${r.document.expires})`
      : `dry run: root version ${r.version} of ${r.document.modelName} signed and verified, not written (would be ${where}; ${after}; expires ${r.document.expires})`,
  ];
  const row = (title: string, items: readonly string[]): void => items.forEach((item, i) => lines.push(`  ${(i === 0 ? title : "").padEnd(10)} ${item}`));
  row("signed by", r.signedBy.map(named));
  for (const role of KEY_ROLES) {
    row(role, r.fingerprints[role].map((id) => `${named(id)}${r.previousVersion !== undefined && r.added[role].includes(id) ? "  added" : ""}`));
  }
  const revoked = KEY_ROLES.flatMap((role) => r.removed[role].map((id) => `${role} ${named(id)}`));
  row("revoked", revoked);
  if (revoked.length > 0) lines.push(`  (what a revoked key signs no longer verifies on boxes that have read root version ${r.version})`);
  if (!r.written) lines.push("", r.bytes.toString("utf8"));
  if (!r.written && flags.json !== true) lines.push("", "nothing was written (--dry-run)");
  return lines.join("\n") + "\n";
}
