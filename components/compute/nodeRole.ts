import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { Grantee } from "../iam/grants";
import type { GrantStatement } from "../iam/grantStatements";
import { autoName, NAME_RULES } from "../naming/physicalNames";
import { ec2TrustPolicy } from "../iam/trustPolicies";

/** IAM's limit on a role's inline policies together, in characters without whitespace. */
export const INLINE_POLICY_MAX_CHARS = 10_240;

export interface NodeRoleArgs {
  /** The role's description. @default "yolo-train GPU node" */
  readonly description?: string;
  /** Tags for the role and its instance profile. @default none */
  readonly tags?: Record<string, string>;
}

/**
 * The IAM role of GPU nodes: EC2 may assume it, Session Manager works through it
 * (`AmazonSSMManagedInstanceCore`), and its one inline policy is the sum of the grants made to
 * it. Grant first, then hand it to a `GpuNodeGroup`, which adds the node's own permissions and
 * attaches the policy before any instance can boot; a grant after that is refused.
 *
 * @example
 * const role = new NodeRole("widgets-node", { tags });
 * datasets.grantRead(role, "datasets/widgets/");
 * artifacts.grantReadWrite(role, `runs/${runId}/`);
 * ota.grantWrite(role, "models/widgets/");
 * ota.grantSign(role);
 * image.grantPull(role);
 * new GpuNodeGroup("widgets-gpu", { role, ... });
 */
export class NodeRole extends pulumi.ComponentResource implements Grantee {
  readonly role: aws.iam.Role;
  readonly roleName: pulumi.Output<string>;
  readonly roleArn: pulumi.Output<string>;
  readonly instanceProfileArn: pulumi.Output<string>;
  /** Session Manager instead of SSH: no key pair, no inbound port. */
  readonly sessionManagerAttachment: aws.iam.RolePolicyAttachment;
  private readonly statements: pulumi.Input<readonly GrantStatement[]>[] = [];
  private attached: aws.iam.RolePolicy | undefined;

  constructor(
    private readonly roleLogicalName: string,
    args: NodeRoleArgs = {},
    opts?: pulumi.ComponentResourceOptions,
  ) {
    super("yolo-train:compute:NodeRole", roleLogicalName, {}, opts);
    const name = roleLogicalName;
    this.role = new aws.iam.Role(
      autoName(NAME_RULES.iamRole, name),
      { description: args.description ?? "yolo-train GPU node", assumeRolePolicy: ec2TrustPolicy(), tags: args.tags },
      { parent: this },
    );
    this.sessionManagerAttachment = new aws.iam.RolePolicyAttachment(
      `${name}-ssm`,
      { role: this.role.name, policyArn: aws.iam.ManagedPolicy.AmazonSSMManagedInstanceCore },
      { parent: this },
    );
    const profile = new aws.iam.InstanceProfile(
      autoName(NAME_RULES.iamInstanceProfile, `${name}-profile`),
      { role: this.role.name, tags: args.tags },
      { parent: this },
    );
    this.roleName = this.role.name;
    this.roleArn = this.role.arn;
    this.instanceProfileArn = profile.arn;
    this.registerOutputs({ roleName: this.roleName, roleArn: this.roleArn, instanceProfileArn: this.instanceProfileArn });
  }

  addToPolicy(statements: pulumi.Input<readonly GrantStatement[]>): void {
    if (this.attached) {
      throw new Error(
        `NodeRole "${this.roleLogicalName}": its policy is already attached (by the GpuNodeGroup that uses it); make every grant before creating the group`,
      );
    }
    this.statements.push(statements);
  }

  /**
   * Attaches the sum of the grants as the role's one inline policy, once; later grants are
   * refused. The `GpuNodeGroup` using the role calls this, and makes its instances depend on it.
   */
  attachPolicy(): aws.iam.RolePolicy {
    this.attached ??= new aws.iam.RolePolicy(
      autoName(NAME_RULES.iamRolePolicy, `${this.roleLogicalName}-policy`),
      {
        role: this.role.name,
        policy: pulumi.all(this.statements).apply((lists) => JSON.stringify(sumOfGrants(lists, this.roleLogicalName))),
      },
      { parent: this },
    );
    return this.attached;
  }
}

/**
 * One policy document from several grants: a statement granted twice counts once; two different
 * statements with the same id, or a policy over IAM's inline size limit, are refused (IAM would
 * refuse them at `pulumi up`, after the preview passed).
 */
export function sumOfGrants(
  grants: readonly (readonly GrantStatement[])[],
  roleName: string,
): { Version: "2012-10-17"; Statement: GrantStatement[] } {
  const bySid = new Map<string, GrantStatement>();
  const problems: string[] = [];
  for (const statement of grants.flat()) {
    const seen = bySid.get(statement.Sid);
    if (seen === undefined) bySid.set(statement.Sid, statement);
    else if (JSON.stringify(seen) !== JSON.stringify(statement)) {
      problems.push(`statement ${statement.Sid} is granted twice with different permissions: ${JSON.stringify(seen)} and ${JSON.stringify(statement)}`);
    }
  }
  const document = { Version: "2012-10-17" as const, Statement: [...bySid.values()] };
  const size = JSON.stringify(document).replace(/\s/g, "").length;
  if (size > INLINE_POLICY_MAX_CHARS) {
    problems.push(`the policy is ${size} characters, more than IAM's ${INLINE_POLICY_MAX_CHARS} for a role's inline policies`);
  }
  if (problems.length > 0) {
    throw new Error(`NodeRole "${roleName}": cannot attach the sum of its grants; ${problems.length} problem(s):\n` + problems.map((p) => `  - ${p}`).join("\n"));
  }
  return document;
}
