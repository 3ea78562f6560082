import { createHash } from "crypto";
import * as pulumi from "@pulumi/pulumi";

/** What a secret input shows, as `pulumi preview` and `pulumi stack output` show one. */
export const SECRET_PLACEHOLDER = "[secret]";

/** Text of a string asset longer than this is summarised by length and digest (bundled code). */
const MAX_ASSET_TEXT = 4096;

/**
 * A resource's inputs as the mock runtime received them, made plain JSON for policy tools:
 * secrets (Pulumi pushes a secret up to the top-level input that holds it) as "[secret]", assets
 * and archives as `{ asset: … }` / `{ archive: … }`, references to other resources as
 * `{ resource: urn }`.
 */
export async function publicInputs(inputs: Readonly<Record<string, unknown>>): Promise<Record<string, unknown>> {
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(inputs)) result[key] = await publicValue(value);
  return result;
}

async function publicValue(value: unknown): Promise<unknown> {
  if (pulumi.runtime.isRpcSecret(value)) return SECRET_PLACEHOLDER;
  if (value === null || value === undefined || typeof value !== "object") return value ?? null;
  if (Array.isArray(value)) return Promise.all(value.map(publicValue));
  if (pulumi.asset.Asset.isInstance(value)) return { asset: await describeAsset(value) };
  if (pulumi.asset.Archive.isInstance(value)) return { archive: await describeArchive(value) };
  if (pulumi.Resource.isInstance(value)) return { resource: await urnOf(value) };
  if (pulumi.Output.isInstance(value)) return "[output]";
  const entries = await Promise.all(Object.entries(value as Record<string, unknown>).map(async ([k, v]) => [k, await publicValue(v)] as const));
  return Object.fromEntries(entries);
}

async function describeAsset(asset: pulumi.asset.Asset): Promise<Record<string, unknown>> {
  const a = asset as unknown as Partial<Record<"path" | "text" | "uri", Promise<string>>>;
  if (a.path !== undefined) return { path: await a.path };
  if (a.uri !== undefined) return { uri: await a.uri };
  const text = (await a.text) ?? "";
  if (text.length <= MAX_ASSET_TEXT) return { text };
  return { textLength: text.length, sha256: createHash("sha256").update(text).digest("hex") };
}

async function describeArchive(archive: pulumi.asset.Archive): Promise<Record<string, unknown>> {
  const a = archive as unknown as Partial<{ path: Promise<string>; uri: Promise<string>; assets: Promise<Record<string, unknown>> }>;
  if (a.path !== undefined) return { path: await a.path };
  if (a.uri !== undefined) return { uri: await a.uri };
  const assets = (await a.assets) ?? {};
  const described: Record<string, unknown> = {};
  for (const [name, member] of Object.entries(assets)) described[name] = await publicValue(member);
  return { assets: described };
}

/** A referenced resource's URN; "[resource]" when it does not resolve promptly. */
async function urnOf(resource: pulumi.Resource): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const fallback = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve("[resource]"), 1000);
  });
  const urn = new Promise<string>((resolve) => resource.urn.apply((u) => resolve(u)));
  try {
    return await Promise.race([urn, fallback]);
  } finally {
    clearTimeout(timer);
  }
}
