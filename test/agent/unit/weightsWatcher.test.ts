import fc from "fast-check";
import { sameSignature, StabilityTracker, type FileSignature } from "../../../agent/weightsWatcher";

const sig = (size: number, mtimeMs: number, ino = 1): FileSignature => ({ ino, size, mtimeMs });
const PATH = "/w/phase-0/weights/last.pt";

describe("StabilityTracker", () => {
  it("calls a file complete only when it held still across two polls", () => {
    const tracker = new StabilityTracker();
    expect(tracker.observe(PATH, sig(10, 1))).toBe(false);
    expect(tracker.observe(PATH, sig(20, 2))).toBe(false); // still growing
    expect(tracker.observe(PATH, sig(20, 2))).toBe(true);
  });

  it("does not offer the same file again once shipped, but offers its next version", () => {
    const tracker = new StabilityTracker();
    tracker.observe(PATH, sig(20, 2));
    expect(tracker.observe(PATH, sig(20, 2))).toBe(true);
    tracker.markShipped(PATH, sig(20, 2));
    expect(tracker.observe(PATH, sig(20, 2))).toBe(false);
    expect(tracker.observe(PATH, sig(20, 3))).toBe(false);
    expect(tracker.observe(PATH, sig(20, 3))).toBe(true);
  });

  it("treats a replaced file (new inode, same size and time) as new", () => {
    const tracker = new StabilityTracker();
    tracker.markShipped(PATH, sig(20, 2, 1));
    tracker.observe(PATH, sig(20, 2, 2));
    expect(tracker.observe(PATH, sig(20, 2, 2))).toBe(true);
  });

  it("forgets a file that disappeared", () => {
    const tracker = new StabilityTracker();
    tracker.observe(PATH, sig(20, 2));
    expect(tracker.observe(PATH, null)).toBe(false);
    expect(tracker.observe(PATH, sig(20, 2))).toBe(false);
  });

  it("offers a file only if the previous poll saw exactly the same signature and it is not shipped", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.option(fc.integer({ min: 0, max: 3 }), { nil: null }), fc.boolean()), { maxLength: 40 }), (steps) => {
        const tracker = new StabilityTracker();
        let previous: FileSignature | null = null;
        let shipped: FileSignature | null = null;
        for (const [version, ship] of steps) {
          const current = version === null ? null : sig(100 + version, version);
          const offered = tracker.observe(PATH, current);
          const expected = current !== null && sameSignature(previous, current) && !sameSignature(shipped, current);
          if (offered !== expected) return false;
          if (offered && ship && current !== null) {
            tracker.markShipped(PATH, current);
            shipped = current;
          }
          previous = current;
        }
        return true;
      }),
    );
  });
});
