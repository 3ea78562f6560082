import { TerminateInstanceInAutoScalingGroupCommand, type AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import { retry, type BackoffPolicy } from "./backoff";
import { describeError, type Logger } from "./log";

/** Teardown is what stops the bill, so it is retried for about two minutes before the agent gives up (exit 70, the host script takes over). */
export const TEARDOWN_RETRY: BackoffPolicy = { maxAttempts: 10, baseMs: 1_000, capMs: 20_000 };

/**
 * Terminates this instance through its Auto Scaling group, decrementing the desired capacity so
 * the group does not start a replacement (its minimum is 0). `instanceId` is asked again at each
 * try, so an id IMDS could not give at first is looked up again with the backoff; it must not
 * depend on a token other requests share (ImdsClient.instanceId remembers the id and uses its own).
 * @see https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_TerminateInstanceInAutoScalingGroup.html
 */
export async function terminateSelf(
  autoScaling: AutoScalingClient,
  instanceId: () => Promise<string>,
  log: Logger,
  policy: BackoffPolicy = TEARDOWN_RETRY,
): Promise<void> {
  await retry(
    async () => {
      const id = await instanceId();
      const answer = await autoScaling.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: id, ShouldDecrementDesiredCapacity: true }));
      log.info("teardown-requested", { instanceId: id, activity: answer.Activity?.ActivityId ?? null, status: answer.Activity?.StatusCode ?? null });
    },
    { policy, onRetry: (error, n, delayMs) => log.warn("teardown-retry", { retry: n + 1, delayMs, error: describeError(error) }) },
  );
}
