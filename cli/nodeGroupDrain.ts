import { DescribeAutoScalingGroupsCommand, type AutoScalingClient } from "@aws-sdk/client-auto-scaling";

/**
 * Waits until a node group that was scaled to 0 has no instances left, so nothing writes to the
 * stack's buckets any more. A scaled-in spot node takes minutes to go: the container gets its
 * stop timeout to make the newest checkpoint durable, and EC2 then stops the instance.
 */
export interface DrainOptions {
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  /** @default 10 000 */
  readonly pollMs?: number;
  /** @default 15 minutes: a container stop timeout of 90 s plus EC2's own shutdown, with room. */
  readonly timeoutMs?: number;
  /** Called after each poll that still finds instances. */
  readonly onWaiting?: (instanceIds: readonly string[]) => void;
}

export class NodeGroupNotDrainedError extends Error {
  constructor(
    readonly groupName: string,
    readonly instanceIds: readonly string[],
    minutes: number,
  ) {
    super(
      `node group ${groupName} still has instance${instanceIds.length === 1 ? "" : "s"} ${instanceIds.join(", ")} after ${minutes} min; ` +
        "nothing was deleted. Run the command again once they have terminated (or raise --drain-timeout).",
    );
    this.name = "NodeGroupNotDrainedError";
  }
}

/** The instances the group still lists (any lifecycle state); none for a group that no longer exists. */
export async function groupInstances(asg: AutoScalingClient, groupName: string): Promise<string[]> {
  const answer = await asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [groupName] }));
  const group = answer.AutoScalingGroups?.find((g) => g.AutoScalingGroupName === groupName);
  return (group?.Instances ?? []).map((i) => i.InstanceId ?? "(unknown)");
}

export async function waitForNoInstances(asg: AutoScalingClient, groupName: string, options: DrainOptions): Promise<void> {
  const pollMs = options.pollMs ?? 10_000;
  const timeoutMs = options.timeoutMs ?? 15 * 60_000;
  const deadline = options.now() + timeoutMs;
  for (;;) {
    const instances = await groupInstances(asg, groupName);
    if (instances.length === 0) return;
    if (options.now() >= deadline) throw new NodeGroupNotDrainedError(groupName, instances, Math.round(timeoutMs / 60_000));
    options.onWaiting?.(instances);
    await options.sleep(pollMs);
  }
}
