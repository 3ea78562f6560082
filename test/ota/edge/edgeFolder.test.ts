import * as fc from "fast-check";
import { reconcileState } from "../../../ota/edge/edgeFolder";
import type { EdgeState } from "../../../ota/edge/stateStore";

const NOW = new Date("2026-12-01T00:00:00.000Z");
const fallback = { modelName: "widgets", channel: "stable", now: NOW, versionsOnDisk: [3, 5, 7] };

const state = (fields: Partial<EdgeState>): EdgeState => ({
  schemaVersion: 1,
  modelName: "widgets",
  channel: "stable",
  highestVersion: 7,
  currentVersion: 7,
  previousVersion: 5,
  updatedAt: "2026-11-01T00:00:00.000Z",
  ...fields,
});

describe("reconcileState: the state brought up to where current points", () => {
  it("keeps the state itself when current points where it says (nothing to write)", () => {
    const s = state({});
    expect(reconcileState(s, 7, fallback)).toBe(s);
    expect(reconcileState(s, undefined, fallback)).toBe(s);
  });

  it.each<[string, Partial<EdgeState>, number, Partial<EdgeState>]>([
    ["an install that got as far as the swap", { currentVersion: 7, highestVersion: 7, previousVersion: 5 }, 8, { currentVersion: 8, highestVersion: 8, previousVersion: 7, rolledBackFrom: undefined }],
    ["an install after a rollback that got as far as the swap", { currentVersion: 5, highestVersion: 7, previousVersion: undefined, rolledBackFrom: 7 }, 9, { currentVersion: 9, highestVersion: 9, previousVersion: 5, rolledBackFrom: undefined }],
    ["a rollback that got as far as the swap", { currentVersion: 7, highestVersion: 7, previousVersion: 5 }, 5, { currentVersion: 5, highestVersion: 7, previousVersion: undefined, rolledBackFrom: 7 }],
    ["current pointed elsewhere by hand", { currentVersion: 7, highestVersion: 7, previousVersion: 5 }, 3, { currentVersion: 3, highestVersion: 7, previousVersion: 5 }],
  ])("follows %s", (_name, stored, linked, expected) => {
    const out = reconcileState(state(stored), linked, fallback)!;
    expect(out).toMatchObject(Object.fromEntries(Object.entries(expected).filter(([, v]) => v !== undefined)));
    for (const [key, value] of Object.entries(expected)) if (value === undefined) expect(out).not.toHaveProperty(key);
    expect(out.updatedAt).toBe(NOW.toISOString());
  });

  it("rebuilds a lost state from current, with the newest older version on disk as previous", () => {
    expect(reconcileState(undefined, 7, fallback)).toEqual({
      schemaVersion: 1,
      modelName: "widgets",
      channel: "stable",
      highestVersion: 7,
      currentVersion: 7,
      previousVersion: 5,
      updatedAt: NOW.toISOString(),
    });
    expect(reconcileState(undefined, undefined, fallback)).toBeUndefined();
  });

  it("never lowers the floor, whatever current points at", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 0, max: 1000 }), fc.option(fc.integer({ min: 1, max: 1000 }), { nil: undefined }), fc.option(fc.integer({ min: 1, max: 2000 }), { nil: undefined }), (current, below, previous, linked) => {
        fc.pre(previous !== current);
        const highest = current + below;
        const s = state({ currentVersion: current, highestVersion: highest, previousVersion: previous });
        const out = reconcileState(s, linked, fallback)!;
        expect(out.highestVersion).toBeGreaterThanOrEqual(highest);
        if (linked !== undefined) expect(out.currentVersion).toBe(linked);
        expect(out.highestVersion).toBeGreaterThanOrEqual(out.currentVersion);
        expect(out.previousVersion).not.toBe(out.currentVersion);
      }),
    );
  });
});
