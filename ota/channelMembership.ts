import { canonicalJson, versionKey, type ModelLayout } from "./manifest";
import { verifyManifestSignature, type ManifestSigner } from "./signature";
import type { KeyObject } from "crypto";

/**
 * Signed channel membership (docs/ota.md, "Channel membership"): a release belongs to a channel
 * only if the release key signed that it does. The channel pointer (`channels/<channel>.json`) only
 * says which version to look at; anyone who can write the bucket can move it. What a box trusts is
 * `channels/<channel>/<version>.sig`: the key's DER ECDSA signature over the canonical statement
 * `{"channel":…,"modelName":…,"type":"channel-membership","version":…}`. The publisher writes it,
 * once and for good (If-None-Match), before it moves the pointer; promotion to `stable` writes the
 * `stable` one, so a release that never passed the gate has none, and a pointer moved to it by hand
 * or by an attacker is refused. Being immutable and written before the pointer moves, the signature
 * is there whichever publisher's pointer wins a race.
 */

export const CHANNEL_MEMBERSHIP_TYPE = "channel-membership";

/** The exact bytes signed for "`version` of `modelName` is in `channel`". */
export function channelStatement(modelName: string, channel: string, version: number): Buffer {
  versionKey(version);
  return Buffer.from(canonicalJson({ type: CHANNEL_MEMBERSHIP_TYPE, modelName, channel, version }), "utf8");
}

/** Key of the membership signature under the model's prefix (`…/channels/stable/0000000007.sig`). */
export function channelSignatureKey(layout: Pick<ModelLayout, "channel" | "modelPrefix">, channel: string, version: number): string {
  // layout.channel checks the channel name; the signature sits in a folder named after it.
  return `${layout.channel(channel).replace(/\.json$/, "")}/${versionKey(version)}.sig`;
}

/** Signs the statement that `version` is in `channel`. */
export async function signChannelMembership(signer: ManifestSigner, modelName: string, channel: string, version: number): Promise<Uint8Array> {
  return signer.sign(channelStatement(modelName, channel, version));
}

/** Whether `signature` is the pinned key's signature that `version` of `modelName` is in `channel`. */
export function verifyChannelMembership(signature: Uint8Array, modelName: string, channel: string, version: number, publicKey: string | KeyObject): boolean {
  return verifyManifestSignature(channelStatement(modelName, channel, version), signature, publicKey);
}
