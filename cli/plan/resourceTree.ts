import type { RecordedResource } from "../../offline/fakeAws";

/**
 * Renders resources as a tree by parent, like `pulumi preview` does:
 *
 *     pulumi:pulumi:Stack  yolo-train-dev
 *     └─ yolo-train:run:TrainingRun  dev
 *        ├─ aws:s3/bucket:Bucket  dev-data
 *
 * Resources whose parent was not recorded (the default provider, for one) hang off the root.
 */
export function renderResourceTree(
  resources: readonly RecordedResource[],
  notes: Readonly<Record<string, string>> = {},
): string[] {
  const byParent = new Map<string | undefined, RecordedResource[]>();
  const known = new Set(resources.map((r) => r.urn));
  for (const resource of resources) {
    const parent = resource.parentUrn && known.has(resource.parentUrn) ? resource.parentUrn : undefined;
    const siblings = byParent.get(parent) ?? [];
    siblings.push(resource);
    byParent.set(parent, siblings);
  }
  const lines: string[] = [];
  const visit = (resource: RecordedResource, prefix: string, connector: string, childPrefix: string) => {
    const note = notes[resource.type] ? `  (${notes[resource.type]})` : "";
    lines.push(`${prefix}${connector}${resource.type}  ${resource.name}${note}`);
    const children = byParent.get(resource.urn) ?? [];
    children.forEach((child, i) => {
      const last = i === children.length - 1;
      visit(child, prefix + childPrefix, last ? "└─ " : "├─ ", last ? "   " : "│  ");
    });
  };
  for (const root of byParent.get(undefined) ?? []) visit(root, "", "", "");
  return lines;
}

/** How many resources of each type, most first: the summary line under the tree. */
export function countByType(resources: readonly RecordedResource[]): [string, number][] {
  const counts = new Map<string, number>();
  for (const r of resources) counts.set(r.type, (counts.get(r.type) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

/**
 * Remote (multi-language) components create their children in their own provider, which the
 * mock runtime does not run; what they contain is said here instead.
 */
export const REMOTE_COMPONENT_CONTENTS: Readonly<Record<string, string>> = {
  "awsx:ec2:Vpc": "VPC, internet gateway, a public subnet and route table per availability zone, S3 gateway endpoint; no NAT gateway",
};

/** `aws:iam/policy:Policy` → `iam.Policy`; `docker:index/image:Image` → `docker.Image`. */
export function shortType(type: string): string {
  const [pkg, mod, name] = type.split(":");
  const service = mod?.split("/")[0];
  return `${service && service !== "index" ? service : pkg}.${name}`;
}

/**
 * The plan's "Resources `pulumi up` would create" section, as both an experiment's and a sweep's
 * plan show it: the count, the tree by parent (providers left out, remote components described)
 * and the cloud resources by type, then a blank line.
 */
export function renderPlannedResources(resources: readonly RecordedResource[]): string[] {
  const stackResources = resources.filter((r) => !r.type.startsWith("pulumi:providers:"));
  const cloudResources = stackResources.filter((r) => r.custom);
  return [
    `Resources \`pulumi up\` would create: ${cloudResources.length} cloud resources in ${stackResources.length - cloudResources.length - 1} components`,
    ...renderResourceTree(stackResources, REMOTE_COMPONENT_CONTENTS).map((l) => `  ${l}`),
    "  cloud resources by type: " +
      countByType(cloudResources)
        .map(([type, n]) => `${n}× ${shortType(type)}`)
        .join(", "),
    "",
  ];
}
