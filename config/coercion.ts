import { z } from "zod";

/**
 * `pulumi config set yolo-train:epochs 100` stores the text "100": the engine hands every
 * plain config value to the program as a string (and `--path` leaves too, unless `--type`
 * says otherwise). Number-like and boolean-like strings are coerced; anything else is left
 * for the schema to reject, so "ten" stays an error rather than becoming NaN.
 */
const NUMBER_TEXT = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** True for text that reads as a finite number: "100", "-1", "0.7", "1e-3". */
export function isNumberText(value: string): boolean {
  return NUMBER_TEXT.test(value.trim());
}

/** The number a number-like string stands for; other values unchanged. */
export function coerceNumber(value: unknown): unknown {
  return typeof value === "string" && isNumberText(value) ? Number(value.trim()) : value;
}

/** `true`/`false` for "true"/"false" (any case); other values unchanged. */
export function coerceBoolean(value: unknown): unknown {
  if (typeof value !== "string") return value;
  const text = value.trim().toLowerCase();
  return text === "true" ? true : text === "false" ? false : value;
}

/** A number schema that also accepts number-like strings. */
export function numberLike<T extends z.ZodType>(schema: T) {
  return z.preprocess(coerceNumber, schema);
}

/** A boolean schema that also accepts "true"/"false". */
export function booleanLike<T extends z.ZodType>(schema: T) {
  return z.preprocess(coerceBoolean, schema);
}
