/**
 * The lifecycle policy of the training image repository. Pure.
 * @see https://docs.aws.amazon.com/AmazonECR/latest/userguide/lifecycle_policy_parameters.html
 */

export interface EcrLifecycleRule {
  readonly rulePriority: number;
  readonly description: string;
  readonly selection: {
    readonly tagStatus: "tagged" | "untagged" | "any";
    readonly tagPatternList?: readonly string[];
    readonly countType: "imageCountMoreThan" | "sinceImagePushed";
    readonly countUnit?: "days";
    readonly countNumber: number;
  };
  readonly action: { readonly type: "expire" };
}

export interface EcrLifecyclePolicy {
  readonly rules: readonly EcrLifecycleRule[];
}

/**
 * Expires untagged images (layers of superseded builds) a day after they were pushed, and keeps
 * only the `keepTagged` most recently pushed tagged images. Every build has its own content tag,
 * so without the second rule the repository would grow (and be billed) forever.
 */
export function trainingImageLifecyclePolicy(keepTagged: number): EcrLifecyclePolicy {
  if (!Number.isInteger(keepTagged) || keepTagged < 1) throw new Error(`keepTagged must be a whole number ≥ 1, got ${keepTagged}`);
  return {
    rules: [
      {
        rulePriority: 1,
        description: "Expire untagged images one day after push",
        selection: { tagStatus: "untagged", countType: "sinceImagePushed", countUnit: "days", countNumber: 1 },
        action: { type: "expire" },
      },
      {
        rulePriority: 2,
        description: `Keep only the ${keepTagged} most recent tagged images`,
        // `tagged` needs a pattern; `*` matches every tag.
        selection: { tagStatus: "tagged", tagPatternList: ["*"], countType: "imageCountMoreThan", countNumber: keepTagged },
        action: { type: "expire" },
      },
    ],
  };
}
