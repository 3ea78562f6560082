import fc from "fast-check";
import { CheckpointVersions, sameSignature, type FileSignature } from "../../../agent/weightsWatcher";

const sig = (size: number, mtimeMs: number, ino = 1): FileSignature => ({ ino, size, mtimeMs });
const PATH = "/w/phase-0/weights/last.pt";

describe("CheckpointVersions", () => {
  it("offers a version the first time a poll sees it, without waiting for it to hold still", () => {
    const versions = new CheckpointVersions();
    expect(versions.observe(PATH, sig(10, 1))).toEqual({ fresh: true, heldStill: false });
    // Rewritten before the next poll: the new version is offered at once too.
    expect(versions.observe(PATH, sig(20, 2))).toEqual({ fresh: true, heldStill: false });
  });

  it("says when a version held still across two polls (the rule left for files that are not zips)", () => {
    const versions = new CheckpointVersions();
    versions.observe(PATH, sig(20, 2));
    expect(versions.observe(PATH, sig(20, 2))).toEqual({ fresh: true, heldStill: true });
  });

  it("does not offer a version again once judged, whole or not, but offers the next one", () => {
    const versions = new CheckpointVersions();
    versions.observe(PATH, sig(20, 2));
    versions.markJudged(PATH, sig(20, 2));
    expect(versions.observe(PATH, sig(20, 2)).fresh).toBe(false);
    expect(versions.observe(PATH, sig(20, 3)).fresh).toBe(true);
  });

  it("does not offer the version shipped", () => {
    const versions = new CheckpointVersions();
    versions.markShipped(PATH, sig(20, 2));
    expect(versions.observe(PATH, sig(20, 2)).fresh).toBe(false);
    expect(versions.isShipped(PATH, sig(20, 2))).toBe(true);
  });

  it("treats a replaced file (new inode, same size and time) as new", () => {
    const versions = new CheckpointVersions();
    versions.markShipped(PATH, sig(20, 2, 1));
    expect(versions.observe(PATH, sig(20, 2, 2)).fresh).toBe(true);
  });

  it("forgets the previous poll of a file that disappeared", () => {
    const versions = new CheckpointVersions();
    versions.observe(PATH, sig(20, 2));
    expect(versions.observe(PATH, null)).toEqual({ fresh: false, heldStill: false });
    expect(versions.observe(PATH, sig(20, 2)).heldStill).toBe(false);
  });

  it("offers exactly the versions neither shipped nor judged, and knows which held still", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.option(fc.integer({ min: 0, max: 3 }), { nil: null }), fc.constantFrom("none", "judged", "shipped")), { maxLength: 40 }), (steps) => {
        const versions = new CheckpointVersions();
        let previous: FileSignature | null = null;
        let judged: FileSignature | null = null;
        let shipped: FileSignature | null = null;
        for (const [version, outcome] of steps) {
          const current = version === null ? null : sig(100 + version, version);
          const sighting = versions.observe(PATH, current);
          const fresh = current !== null && !sameSignature(judged, current) && !sameSignature(shipped, current);
          if (sighting.fresh !== fresh || sighting.heldStill !== (current !== null && sameSignature(previous, current))) return false;
          if (fresh && current !== null && outcome === "judged") {
            versions.markJudged(PATH, current);
            judged = current;
          } else if (fresh && current !== null && outcome === "shipped") {
            versions.markShipped(PATH, current);
            shipped = current;
          }
          previous = current;
        }
        return true;
      }),
    );
  });
});
