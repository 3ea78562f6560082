/**
 * Validation of `TrainingImage` arguments. Pure apart from the `exists` check it is given.
 */
import * as path from "path";
import type { Problem } from "../../runspec/problems";
import { dockerfileCopySources } from "./dockerfileSources";
import { parseImageReference } from "./imageReference";

export interface TrainingImageArgsToCheck {
  readonly existingImageUri?: string;
  readonly context?: string;
  readonly dockerfile?: string;
  readonly keepTaggedImages?: number;
}

/**
 * Every problem with the arguments; `exists` tells whether a path exists (a file or folder), and
 * `read`, when given, reads the Dockerfile so the paths its COPY lines need are checked too. Any
 * component name will do: the repository's name is fitted to ECR's rules (`physicalNames.ts`).
 */
export function trainingImageArgsProblems(
  args: TrainingImageArgsToCheck,
  contextDir: string,
  exists: (p: string) => boolean,
  read?: (file: string) => string,
): Problem[] {
  const problems: Problem[] = [];
  if (args.existingImageUri !== undefined) {
    if (parseImageReference(args.existingImageUri) === undefined) {
      problems.push({
        key: "TrainingImage.existingImageUri",
        value: args.existingImageUri,
        allowed: "an image reference registry/repository[:tag][@sha256:digest]",
        fix: "e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/yolo-train@sha256:<64 hex digits>",
      });
    }
    for (const key of ["context", "dockerfile", "keepTaggedImages"] as const) {
      if (args[key] !== undefined) {
        problems.push({
          key: `TrainingImage.${key}`,
          value: args[key],
          allowed: "unset when existingImageUri is set (nothing is built)",
          fix: `remove ${key}, or remove existingImageUri to build the image`,
        });
      }
    }
    return problems;
  }

  const keep = args.keepTaggedImages;
  if (keep !== undefined && (!Number.isInteger(keep) || keep < 1 || keep > 1000)) {
    problems.push({ key: "TrainingImage.keepTaggedImages", value: keep, allowed: "a whole number from 1 to 1000", fix: "e.g. 10" });
  }
  if (!exists(contextDir)) {
    problems.push({
      key: "TrainingImage.context",
      value: contextDir,
      allowed: "an existing folder holding the Dockerfile and the files it copies",
      fix: "point context at the yolo-train package root (installed or a checkout), or pass existingImageUri",
    });
  } else {
    const dockerfile = path.resolve(contextDir, args.dockerfile ?? "Dockerfile");
    const relative = path.relative(path.resolve(contextDir), dockerfile);
    if (relative.startsWith("..") || path.isAbsolute(relative)) {
      problems.push({
        key: "TrainingImage.dockerfile",
        value: args.dockerfile,
        allowed: "a path inside the context folder (its content is part of the image's content tag)",
        fix: "move the Dockerfile into the context folder",
      });
    } else if (!exists(dockerfile)) {
      problems.push({
        key: "TrainingImage.dockerfile",
        value: args.dockerfile ?? "Dockerfile",
        allowed: "a Dockerfile path relative to the context that exists",
        fix: `create ${dockerfile}, or set dockerfile`,
      });
    } else if (read !== undefined) {
      const missing = dockerfileCopySources(read(dockerfile)).filter((source) => !exists(path.resolve(contextDir, source)));
      if (missing.length > 0) {
        problems.push({
          key: "TrainingImage.context",
          value: contextDir,
          allowed: `a folder holding every file ${relative.split(path.sep).join("/")} copies; missing: ${[...new Set(missing)].join(", ")}`,
          fix: "point context at the yolo-train package root (installed or a checkout), or build the image elsewhere and pass existingImageUri",
        });
      }
    }
  }
  return problems;
}

/**
 * The image an experiment's nodes run: the config's `image` as it is, else a build of
 * `dockerContext` (the package root when undefined). What a `TrainingRun` or a `Sweep` hands its
 * `TrainingImage`, and checks first with {@link trainingImageArgsProblems}.
 */
export function trainingImageArgsOf(config: { readonly image?: string | undefined }, dockerContext: string | undefined): { existingImageUri?: string; context?: string } {
  return config.image ? { existingImageUri: config.image } : { ...(dockerContext !== undefined ? { context: dockerContext } : {}) };
}
