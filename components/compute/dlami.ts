/**
 * Facts about the node image: the Deep Learning Base OSS Nvidia Driver GPU AMI (Amazon Linux
 * 2023), x86_64. It ships the NVIDIA driver, Docker with the NVIDIA container toolkit, the AWS
 * CLI and the SSM agent, and mounts the NVMe instance store (when the type has one) at
 * {@link DLAMI_NVME_DIR}.
 * @see https://docs.aws.amazon.com/dlami/latest/devguide/find-dlami-id.html
 */

/** Public SSM parameter holding the latest AMI id of that image in each region. */
export const DLAMI_SSM_PARAMETER =
  "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-amazon-linux-2023/latest/ami-id";

/** Root device of Amazon Linux 2023 AMIs, the DLAMI included. */
export const DLAMI_ROOT_DEVICE_NAME = "/dev/xvda";

/** The AMI's root snapshot is 75 GiB; a smaller root volume fails to launch. */
export const DLAMI_MIN_ROOT_VOLUME_GIB = 75;

/** Where the DLAMI mounts the instance store (a RAID 0 of all NVMe disks) at boot. */
export const DLAMI_NVME_DIR = "/opt/dlami/nvme";
