import type * as pulumi from "@pulumi/pulumi";
import type { Capacity } from "../../catalog/types";
import type { RunSpec } from "../../runspec/schema";
import type { NodeRole } from "./nodeRole";

/** How the node reads the dataset; mutually exclusive kinds. */
export type GpuNodeDatasetMount =
  /** Built-in ultralytics dataset: nothing to mount. */
  | { readonly kind: "none" }
  /**
   * Mountpoint for Amazon S3: read-only, lazily fetched, cached on the NVMe instance store.
   * @see https://docs.aws.amazon.com/AmazonS3/latest/userguide/mountpoint.html
   */
  | {
      readonly kind: "mountpoint";
      readonly bucketName: pulumi.Input<string>;
      /** Key prefix shown at `/data`: "" or ending with "/". */
      readonly prefix: string;
      /**
       * The bucket's region.
       * @default the node's region
       */
      readonly bucketRegion?: string;
    }
  /** Copy the prefix onto the instance store before training (`aws s3 sync`). */
  | { readonly kind: "copy"; readonly bucketName: pulumi.Input<string>; readonly prefix: string }
  /** FSx for Lustre linked to the dataset prefix; see `LustreDataset`. */
  | { readonly kind: "fsx-lustre"; readonly dnsName: pulumi.Input<string>; readonly mountName: pulumi.Input<string> };

export interface GpuNodeGroupArgs {
  /**
   * Physical name of the Auto Scaling group. Explicit, not auto-named, because the run spec
   * (the node terminates itself in this group) and the node's IAM policy (which allows that for
   * this group only) must name it before the group exists. Include the run id: a new run is then
   * a new group, while `pulumi up` of the same run keeps the group (and, with it, a finished
   * run stays finished).
   */
  readonly groupName: string;
  /**
   * EC2 instance types the group may launch, cheapest first (one override each).
   * @see https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-mixed-instances-groups.html
   */
  readonly instanceTypes: readonly string[];
  /** `spot` (all spot, price-capacity-optimized) or `on-demand` (all on-demand, lowest price). */
  readonly capacity: Capacity;
  /**
   * Highest spot price per instance hour, USD. Spot only.
   * @default the on-demand price
   */
  readonly maxSpotPrice?: number;
  /**
   * Nodes to launch; also the group's maximum size. Each node runs the same run spec.
   * @default 1
   */
  readonly desiredNodes?: number;
  /**
   * The group's desired capacity when it is created: `desiredNodes` (start at once), or fewer
   * down to 0 (a group that waits until something else gives it capacity, e.g. a sweep's keeper
   * starting a trial). A whole number from 0 to `desiredNodes`; the maximum size stays
   * `desiredNodes`. Later `pulumi up`s never set the desired capacity again (the group ignores
   * changes of it), so a waiting trial that was started is not stopped by a redeploy.
   * @default desiredNodes
   */
  readonly initialCapacity?: number;
  /**
   * Subnets to launch in: public subnets (the node gets a public IP; there is no NAT gateway to
   * pay for). With FSx for Lustre, pass only the file system's subnet.
   */
  readonly subnetIds: pulumi.Input<pulumi.Input<string>[]>;
  /** Security groups of the node (no inbound rules needed: access is through SSM). */
  readonly securityGroupIds: pulumi.Input<pulumi.Input<string>[]>;
  /** The training image, ideally by digest. */
  readonly imageUri: pulumi.Input<string>;
  /** The run spec written to the node; must name `groupName`. */
  readonly runSpec: pulumi.Input<RunSpec>;
  /** How the node reads the dataset. */
  readonly datasetMount: GpuNodeDatasetMount;
  /**
   * The nodes' role, with every grant the run needs already made to it (the dataset's read, the
   * run's artifacts, the OTA prefix and release key, the image): the group adds the node's own
   * permissions (metrics, its tags, its log group, terminating itself in this group), attaches
   * the policy, and boots no instance before it is attached.
   */
  readonly role: NodeRole;
  /**
   * Root volume size, GiB (gp3, encrypted, deleted with the instance). Datasets and scratch go
   * to the instance store when the type has one.
   * @default 100
   */
  readonly rootVolumeGiB?: number;
  /**
   * Retention of the run's log group (`/yolo-train/<groupName>`).
   * @default 30
   */
  readonly logRetentionDays?: number;
  /**
   * Tags for every taggable child; instances and volumes also get `yolo-train:stack` and
   * `yolo-train:run-id` for cost allocation.
   * @default no tags
   */
  readonly tags?: Record<string, string>;
  /**
   * More tags for the instances and their volumes only, whose values may be outputs: e.g. the
   * `yolo-train:fleet` cost allocation tag of a fleet read from another stack.
   * @default none
   */
  readonly instanceTags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}
