/**
 * The metric contract between the GPU node (its CloudWatch agent config) and what watches it
 * (the guardrail alarms, the run dashboard). One place, so both sides name the same series.
 *
 * The CloudWatch agent's `nvidia_gpu` section publishes `utilization_gpu` as
 * `nvidia_smi_utilization_gpu` and `memory_used` as `nvidia_smi_memory_used` (MiB), in the
 * `CWAgent` namespace, one series per GPU (dimensions `index`, `name`, `arch`, plus whatever
 * `append_dimensions` adds). The alarms need one series per group, so the node's agent config
 * must append `AutoScalingGroupName` and `InstanceId` and roll up with
 * {@link REQUIRED_AGGREGATION_DIMENSIONS}: every GPU of every node then also lands in the
 * `{AutoScalingGroupName}` series (Maximum = the busiest GPU, Average = the mean GPU) and in
 * the `{AutoScalingGroupName, InstanceId}` series (per node, for the dashboard).
 *
 * @see https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-Agent-NVIDIA-GPU.html
 * @see https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-Agent-common-scenarios.html
 */
export const CWAGENT_NAMESPACE = "CWAgent";

/** Percent of the last sample period during which a kernel ran on the GPU. */
export const GPU_UTILIZATION_METRIC = "nvidia_smi_utilization_gpu";

/** GPU memory in use, MiB. */
export const GPU_MEMORY_USED_METRIC = "nvidia_smi_memory_used";

/** Total GPU memory, MiB. */
export const GPU_MEMORY_TOTAL_METRIC = "nvidia_smi_memory_total";

/** `metrics.append_dimensions` the node's CloudWatch agent config must carry. */
export const REQUIRED_APPEND_DIMENSIONS: Readonly<Record<string, string>> = {
  AutoScalingGroupName: "${aws:AutoScalingGroupName}",
  InstanceId: "${aws:InstanceId}",
};

/** `metrics.aggregation_dimensions` the node's CloudWatch agent config must carry. */
export const REQUIRED_AGGREGATION_DIMENSIONS: readonly (readonly string[])[] = [
  ["AutoScalingGroupName"],
  ["AutoScalingGroupName", "InstanceId"],
];

/** Auto Scaling group metrics; published only when the group enables metrics collection. */
export const AUTOSCALING_NAMESPACE = "AWS/AutoScaling";
export const GROUP_IN_SERVICE_INSTANCES_METRIC = "GroupInServiceInstances";
export const GROUP_DESIRED_CAPACITY_METRIC = "GroupDesiredCapacity";
