import fc from "fast-check";
import { RESERVED_TRAIN_ARGS, TRAIN_ARGS, checkHyperparameters } from "../../config/hyperparameters";

describe("checkHyperparameters", () => {
  it("accepts ultralytics' own default for every known argument", () => {
    const defaults = Object.fromEntries(Object.entries(TRAIN_ARGS).map(([name, arg]) => [name, arg.example]));
    const { value, problems } = checkHyperparameters(defaults);
    expect(problems).toEqual([]);
    expect(value).toEqual(defaults);
  });

  it.each([["__proto__"], ["constructor"], ["toString"], ["hasOwnProperty"]])(
    "refuses %s as an unknown argument, with a fix, rather than finding Object.prototype's",
    (name) => {
      const { value, problems } = checkHyperparameters(JSON.parse(`{${JSON.stringify(name)}: false}`));
      expect(value).toBeUndefined();
      expect(problems).toEqual([
        { key: `hyperparameters.${name}`, value: false, allowed: "a known ultralytics train argument (see docs/config.md#hyperparameters)", fix: expect.any(String) },
      ]);
    },
  );

  it("has no argument both allowed and reserved", () => {
    for (const name of Object.keys(RESERVED_TRAIN_ARGS)) expect(TRAIN_ARGS[name]).toBeUndefined();
  });

  it.each([
    ["lr0", 1.5, "a number from 0 to 1"],
    ["fliplr", -0.1, "a number from 0 to 1"],
    ["fraction", 0, "a number above 0 up to 1"],
    ["workers", 2.5, "a whole number ≥ 0"],
    ["nbs", 0, "a whole number ≥ 1"],
    ["optimizer", "lion", '"auto", "SGD", "Adam", "Adamax", "AdamW", "NAdam", "RAdam" or "RMSProp"'],
    ["cos_lr", "yes", "true or false"],
    ["cache", "ssd", 'true, false, "ram" or "disk"'],
    ["multi_scale", 2, "true, false or a number from 0 to 1"],
    ["freeze", [0, 1], "a whole number ≥ 0"],
  ])("refuses %s = %j: it must be %s", (name, given, allowed) => {
    const { value, problems } = checkHyperparameters({ [name]: given });
    expect(value).toBeUndefined();
    expect(problems).toHaveLength(1);
    expect(problems[0]!.key).toBe(`hyperparameters.${name}`);
    expect(problems[0]!.allowed).toBe(allowed);
    expect(problems[0]!.fix).toMatch(new RegExp(`^e\\.g\\. "${name}": `));
  });

  it("accepts true/false or a choice where ultralytics does", () => {
    expect(checkHyperparameters({ cache: true, compile: "max-autotune-no-cudagraphs", multi_scale: 0.5 }).problems).toEqual([]);
  });

  it("reports every bad argument of the object at once", () => {
    const { problems } = checkHyperparameters({ lr: 0.1, batch: 4, momentum: 2, lr0: 0.01 });
    // lr0 is valid on its own, but ignored under the default `optimizer: auto`.
    expect(problems.map((p) => p.key)).toEqual(["hyperparameters.lr", "hyperparameters.batch", "hyperparameters.momentum", "hyperparameters.lr0"]);
  });

  it("accepts any fraction for a fraction argument, as a number or as text", () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, noNaN: true }), fc.boolean(), (x, asText) => {
        const { value } = checkHyperparameters({ mixup: asText ? String(x) : x });
        expect(value).toEqual({ mixup: x });
      }),
    );
  });
});
