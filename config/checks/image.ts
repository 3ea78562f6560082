import type { ConfigValues } from "./context";

/** An existing training image instead of building `docker/`: plain (in the config) or an Output (deferred). */
export interface ImagePart {
  readonly image?: string;
  readonly deferredImage?: unknown;
}

/** `image`: its own rule (config/schema.ts, an image reference) says what is wrong with it. */
export function checkImage(values: ConfigValues): ImagePart {
  if (values.deferred("image")) return { deferredImage: values.raw.image };
  const image = values.value<string>("image");
  return image !== undefined ? { image } : {};
}
