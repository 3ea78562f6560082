/**
 * Parsing container image references (`registry/repository[:tag][@digest]`) and recognising
 * ECR ones. Pure.
 * @see https://github.com/distribution/reference/blob/main/reference.go
 */
import { awsPartitionOfRegion, ECR_REGISTRY_HOST_PATTERN } from "../../runspec/awsPatterns";

export interface ImageReference {
  /** Registry host (and port), e.g. `123456789012.dkr.ecr.us-east-1.amazonaws.com`; undefined for Docker Hub short names. */
  readonly registry?: string;
  /** Repository path, e.g. `yolo-train` or `library/ubuntu`. */
  readonly repository: string;
  readonly tag?: string;
  /** `sha256:<64 hex>` */
  readonly digest?: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const REGISTRY = /^(?:localhost|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+|\[[0-9a-fA-F:]+\]|[A-Za-z0-9-]+)(?::[0-9]+)?$/;

/** Parses an image reference; undefined when it is not one. */
export function parseImageReference(reference: string): ImageReference | undefined {
  if (reference.length === 0 || reference.length > 1024 || /\s/.test(reference)) return undefined;
  let rest = reference;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) return undefined;
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) return undefined;
  }
  const parts = rest.split("/");
  let registry: string | undefined;
  const first = parts[0]!;
  // As docker does: the first component is a registry when it has a dot or a port, or is localhost.
  if (parts.length > 1 && (first.includes(".") || first.includes(":") || first === "localhost")) {
    registry = first;
    parts.shift();
    if (!REGISTRY.test(registry)) return undefined;
  }
  if (parts.length === 0 || !parts.every((p) => COMPONENT.test(p))) return undefined;
  return { registry, repository: parts.join("/"), tag, digest };
}

/** True when the reference pins a digest: what it names can never change. */
export function isDigestReference(ref: ImageReference): boolean {
  return ref.digest !== undefined;
}

/** The ECR repository of an image reference, or undefined when it is not an ECR private registry. */
export interface EcrRepository {
  readonly accountId: string;
  readonly region: string;
  /** The Region's partition: `aws`, `aws-cn`, `aws-us-gov`, … */
  readonly partition: string;
  readonly repositoryName: string;
  readonly repositoryArn: string;
  readonly repositoryUrl: string;
}

export function ecrRepositoryOf(ref: ImageReference): EcrRepository | undefined {
  const host = ref.registry === undefined ? undefined : ECR_REGISTRY_HOST_PATTERN.exec(ref.registry)?.groups;
  if (!host) return undefined;
  const [accountId, region] = [host.account!, host.region!];
  const partition = awsPartitionOfRegion(region);
  return {
    accountId,
    region,
    partition,
    repositoryName: ref.repository,
    repositoryArn: `arn:${partition}:ecr:${region}:${accountId}:repository/${ref.repository}`,
    repositoryUrl: `${ref.registry}/${ref.repository}`,
  };
}
