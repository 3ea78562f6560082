import fc from "fast-check";
import { estimateCostUsd } from "../../../agent/cost";

describe("estimateCostUsd", () => {
  it.each([
    [3600, 1.2, 1.2],
    [1800, 0.526, 0.263],
    [90, 32.77, 0.8193],
    [0, 10, 0],
  ])("bills %i s at $%f/h as $%f (rounded to 4 decimals)", (seconds, price, expected) => {
    expect(estimateCostUsd(seconds, price)).toBe(expected);
  });

  it("never goes negative and grows with billed time", () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1e6, noNaN: true }), fc.double({ min: 0, max: 1e6, noNaN: true }), fc.double({ min: 0, max: 100, noNaN: true }), (a, b, price) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        return estimateCostUsd(lo, price) >= 0 && estimateCostUsd(lo, price) <= estimateCostUsd(hi, price);
      }),
    );
  });

  it("treats negative billed time as zero", () => {
    expect(estimateCostUsd(-5, 3)).toBe(0);
  });
});
