import fc from "fast-check";
import { closestMatch, editDistance, listWithOr } from "../../config/suggest";

describe("editDistance", () => {
  it.each([
    ["epoch", "epochs", 1],
    ["lr", "lr0", 1],
    ["yolov11n.pt", "yolo11n.pt", 1],
    ["momentun", "momentum", 1],
    ["fiplr", "fliplr", 1],
    ["gpsu", "gpus", 1],
    ["IMGSZ", "imgsz", 0],
    ["", "abc", 3],
  ])("counts %s → %s as %i edits", (a, b, d) => {
    expect(editDistance(a, b)).toBe(d);
  });

  it("is a distance: zero only for equal words (ignoring case), symmetric, triangle inequality", () => {
    const word = fc.string({ maxLength: 12 });
    fc.assert(
      fc.property(word, word, word, (a, b, c) => {
        expect(editDistance(a, b) === 0).toBe(a.toLowerCase() === b.toLowerCase());
        expect(editDistance(a, b)).toBe(editDistance(b, a));
        expect(editDistance(a, c)).toBeLessThanOrEqual(editDistance(a, b) + editDistance(b, c) + 1);
      }),
    );
  });
});

describe("closestMatch", () => {
  const keys = ["epochs", "imgsz", "batch", "maxRuntimeHours", "hyperparameters"];

  it("suggests a key one typo away, and a key the word cuts off", () => {
    expect(closestMatch("epoch", keys)).toBe("epochs");
    expect(closestMatch("maxRuntime", keys)).toBe("maxRuntimeHours");
  });

  it("suggests nothing for a word close to no candidate", () => {
    expect(closestMatch("learning_rate", keys)).toBeUndefined();
    expect(closestMatch("x", keys)).toBeUndefined();
  });

  it("prefers the candidate listed first on a tie", () => {
    expect(closestMatch("lr", ["lr0", "lrf"])).toBe("lr0");
  });

  it("always returns one of the candidates, or nothing", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 10 }), fc.array(fc.string({ maxLength: 10 }), { maxLength: 6 }), (word, candidates) => {
        const match = closestMatch(word, candidates);
        if (match !== undefined) expect(candidates).toContain(match);
      }),
    );
  });
});

describe("listWithOr", () => {
  it.each([
    [[], ""],
    [["a"], "a"],
    [[1, 4], "1 or 4"],
    [["t4", "a10g", "l4"], "t4, a10g or l4"],
  ])("lists %j as %s", (items, text) => {
    expect(listWithOr(items)).toBe(text);
  });
});
