import * as aws from "@pulumi/aws";
import * as docker from "@pulumi/docker";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { ProblemList, type Problem } from "../../runspec/problems";
import { trainingImageLifecyclePolicy } from "./ecrLifecyclePolicy";
import { ecrRepositoryOf, isDigestReference, parseImageReference } from "./imageReference";
import { contentTag, digestContextFiles } from "./imageTag";
import { autoName, NAME_RULES } from "../naming/physicalNames";
import { trainingImageArgsProblems } from "./trainingImageArgs";
import { grantImagePull, type Grantee } from "../iam/grants";
import { packageRoot } from "../packageRoot";

/** GPU nodes run the x86_64 Deep Learning AMI. */
export const TRAINING_IMAGE_PLATFORM = "linux/amd64";

/** The package root, which holds `docker/Dockerfile`, in the sources and in the published package alike. */
export function defaultDockerContext(): string {
  return packageRoot();
}

/** The training image's Dockerfile, relative to the package root (the default context). */
export const DEFAULT_DOCKERFILE = "docker/Dockerfile";

export interface TrainingImageArgs {
  /**
   * Run this image instead of building one; nothing is created. Prefer a digest reference
   * (`repo@sha256:…`): a tag can be moved to other content after the run was planned.
   * Mutually exclusive with `context`, `dockerfile` and `keepTaggedImages`.
   * @default build `context` into a new ECR repository
   */
  readonly existingImageUri?: string;
  /**
   * The docker build context folder; its `.dockerignore` decides what is sent to docker.
   * @default the package root (the image bundles the run agent from `agent/` and the trainer
   * from `docker/`; the root `.dockerignore` lets only those through)
   */
  readonly context?: string;
  /**
   * The Dockerfile, relative to `context` (and inside it).
   * @default "docker/Dockerfile" with the default context, else "Dockerfile"
   */
  readonly dockerfile?: string;
  /**
   * How many tagged images the repository keeps; older ones expire. Untagged images expire after a day.
   * @default 10
   * @see https://docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html
   */
  readonly keepTaggedImages?: number;
  /** Tags for every taggable child. @default none */
  readonly tags?: Record<string, string>;
}

/**
 * The container image GPU nodes run: either an existing image, or the `docker/` folder built
 * for linux/amd64 and pushed to a private ECR repository (scanned on push, immutable tags,
 * AES256 at rest) under a tag that is the hash of the context's content — same content, same
 * tag, no rebuild. `imageUri` is always what nodes should pull; for a build it is the pushed
 * image's digest reference, so a node never runs anything but the image this stack built.
 */
export class TrainingImage extends pulumi.ComponentResource {
  /** The image to run: a digest reference for a built image; `existingImageUri` as given otherwise. */
  readonly imageUri: pulumi.Output<string>;
  /** ECR repository ARN (for the node role's pull permissions); undefined for a non-ECR existing image. */
  readonly repositoryArn: pulumi.Output<string> | undefined;
  /** ECR repository URL (`<account>.dkr.ecr.<region>.amazonaws.com/<name>`); undefined for a non-ECR existing image. */
  readonly repositoryUrl: pulumi.Output<string> | undefined;
  /** The content tag of a built image (`ctx-…`); undefined for an existing image. */
  readonly contentTag: string | undefined;

  constructor(name: string, args: TrainingImageArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    const contextDir = path.resolve(args.context ?? defaultDockerContext());
    args = withDefaultDockerfile(args);
    const problems = new ProblemList();
    for (const p of trainingImageProblems(args)) problems.add(p);
    problems.throwIfAny(`TrainingImage "${name}"`);

    super("yolo-train:image:TrainingImage", name, {}, opts);

    if (args.existingImageUri !== undefined) {
      const ref = parseImageReference(args.existingImageUri)!;
      if (!isDigestReference(ref)) {
        pulumi.log.warn(
          `TrainingImage.existingImageUri ${args.existingImageUri} names a tag (${ref.tag ?? "latest"}); ` +
            "a tag can be moved to other content, so nodes of one run could pull different images. " +
            "Pin a digest instead: <repository>@sha256:<digest>.",
          this,
        );
      }
      const ecr = ecrRepositoryOf(ref);
      this.imageUri = pulumi.output(args.existingImageUri);
      this.repositoryArn = ecr ? pulumi.output(ecr.repositoryArn) : undefined;
      this.repositoryUrl = ecr ? pulumi.output(ecr.repositoryUrl) : undefined;
      this.contentTag = undefined;
      this.registerOutputs({ imageUri: this.imageUri, repositoryArn: this.repositoryArn, repositoryUrl: this.repositoryUrl });
      return;
    }

    // Relative to the context, with `/`: the tag must not depend on where the checkout lives.
    const dockerfilePath = path.resolve(contextDir, args.dockerfile ?? "Dockerfile");
    const dockerfileRelative = path.relative(contextDir, dockerfilePath).split(path.sep).join("/");
    const tag = contentTag(digestContextFiles(contextDir, dockerfilePath), [`platform=${TRAINING_IMAGE_PLATFORM}`, `dockerfile=${dockerfileRelative}`]);

    const repository = new aws.ecr.Repository(
      autoName(NAME_RULES.ecrRepository, name),
      {
        imageScanningConfiguration: { scanOnPush: true },
        // A tag names one content for ever: what a run recorded is what a replacement node pulls.
        imageTagMutability: "IMMUTABLE",
        encryptionConfigurations: [{ encryptionType: "AES256" }],
        // Never delete images a run or an audit may still need along with the stack.
        forceDelete: false,
        tags: args.tags,
      },
      { parent: this },
    );

    new aws.ecr.LifecyclePolicy(
      `${name}-lifecycle`,
      { repository: repository.name, policy: JSON.stringify(trainingImageLifecyclePolicy(args.keepTaggedImages ?? 10)) },
      { parent: this },
    );

    const token = aws.ecr.getAuthorizationTokenOutput({ registryId: repository.registryId }, { parent: this });
    const image = new docker.Image(
      name,
      {
        imageName: pulumi.interpolate`${repository.repositoryUrl}:${tag}`,
        build: {
          context: contextDir,
          // Absolute, so it does not matter whether the provider resolves it against the context or the cwd.
          dockerfile: dockerfilePath,
          platform: TRAINING_IMAGE_PLATFORM,
        },
        // Preview needs no docker engine and does not spend minutes building.
        buildOnPreview: false,
        registry: {
          server: repository.repositoryUrl,
          username: token.userName,
          password: pulumi.secret(token.password),
        },
      },
      { parent: this },
    );

    this.imageUri = image.repoDigest;
    this.repositoryArn = repository.arn;
    this.repositoryUrl = repository.repositoryUrl;
    this.contentTag = tag;
    this.registerOutputs({ imageUri: this.imageUri, repositoryArn: this.repositoryArn, repositoryUrl: this.repositoryUrl });
  }

  /** Lets `grantee` pull this image from its repository; nothing to grant for an existing image elsewhere. */
  grantPull(grantee: Grantee): void {
    if (this.repositoryArn) grantImagePull(grantee, this.repositoryArn);
  }
}

/** The package's Dockerfile when neither a context, a Dockerfile nor an existing image is given. */
function withDefaultDockerfile(args: TrainingImageArgs): TrainingImageArgs {
  return args.context === undefined && args.existingImageUri === undefined && args.dockerfile === undefined
    ? { ...args, dockerfile: DEFAULT_DOCKERFILE }
    : args;
}

/**
 * Every problem with `TrainingImage` arguments, found on disk as the constructor would: for a
 * composing component (`TrainingRun`) to refuse them before it registers anything.
 */
export function trainingImageProblems(args: TrainingImageArgs): Problem[] {
  const contextDir = path.resolve(args.context ?? defaultDockerContext());
  return trainingImageArgsProblems(withDefaultDockerfile(args), contextDir, fs.existsSync, (file) => fs.readFileSync(file, "utf8"));
}
