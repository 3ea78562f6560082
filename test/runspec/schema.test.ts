import { InvalidRunSpecError, parseRunSpec, type RunSpecInput } from "../../runspec/schema";
import { runSpecDocument } from "./experimentConfig";

function problemsOf(doc: unknown): { path: string; message: string }[] {
  try {
    parseRunSpec(doc);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidRunSpecError);
    return [...(error as InvalidRunSpecError).problems];
  }
  throw new Error("expected the run spec to be rejected");
}

/** Deep copy with one change, addressed by path. */
function withChange(path: (string | number)[], value: unknown): unknown {
  const doc = JSON.parse(JSON.stringify(runSpecDocument())) as Record<string, any>;
  let node: any = doc;
  for (const key of path.slice(0, -1)) node = node[key];
  const last = path[path.length - 1]!;
  if (value === undefined) delete node[last];
  else node[last] = value;
  return doc;
}

describe("the run spec schema", () => {
  it("accepts a valid spec and fills in maxAttempts = 3 and restartIfCheckpointLost = false", () => {
    const spec = parseRunSpec(runSpecDocument());
    expect(spec.limits.maxAttempts).toBe(3);
    expect(spec.limits.restartIfCheckpointLost).toBe(false);
    expect(spec.train.hyperparameters).toEqual({ lr0: 0.01, optimizer: "AdamW", cos_lr: true });
  });

  it("round-trips through JSON text unchanged", () => {
    const spec = parseRunSpec(runSpecDocument({ train: { epochs: 30, imgsz: 640, batch: -1, gpus: 8, hyperparameters: {}, progressive: [{ imgsz: 320, epochs: 10 }, { imgsz: 640, epochs: 20 }] } }));
    const text = JSON.stringify(spec);
    expect(parseRunSpec(text)).toEqual(spec);
    expect(parseRunSpec(JSON.parse(text))).toEqual(spec);
  });

  it.each([true, false])("keeps limits.restartIfCheckpointLost %s, through JSON text too", (value) => {
    const spec = parseRunSpec(runSpecDocument({ limits: { maxRuntimeHours: 2, idleMinutes: 15, idleGpuPercent: 5, restartIfCheckpointLost: value } }));
    expect(spec.limits.restartIfCheckpointLost).toBe(value);
    expect(parseRunSpec(JSON.stringify(spec)).limits.restartIfCheckpointLost).toBe(value);
  });

  it.each<[string, RunSpecInput["tracking"]]>([
    ["off", { kind: "off" }],
    ["mlflow", { kind: "mlflow", uri: "https://mlflow.example.com" }],
    ["wandb", { kind: "wandb", project: "widgets", apiKeyParameter: "/yolo-train/dev/wandb-api-key" }],
  ])("accepts tracking %s", (_kind, tracking) => {
    expect(parseRunSpec(runSpecDocument({ tracking })).tracking).toEqual(tracking);
  });

  it.each<[string, (string | number)[], unknown, RegExp]>([
    ["a schema version it does not know", ["schemaVersion"], 2, /must be 1/],
    ["a run id with capitals", ["runId"], "YoloV8", /a-z, 0-9 and '-'/],
    ["a run id longer than 48 characters", ["runId"], "a".repeat(49), /1-48 characters/],
    ["a region that is not one", ["region"], "moon-1", /AWS region/],
    ["a group name with a colon", ["autoScalingGroupName"], "a:b", /1-128 characters/],
    ["a model that is neither a name nor S3", ["model"], "http://x/y.pt", /ultralytics weights name/],
    ["a data kind it does not know", ["data", "kind"], "url", /Invalid discriminator value|must be \{kind/],
    ["a mounted yaml outside /data", ["data", "yamlPath"], "/etc/passwd.yaml", /under \/data/],
    ["a mounted yaml path with ..", ["data", "yamlPath"], "/data/../etc/x.yaml", /'\.\.'/],
    ["zero epochs", ["train", "epochs"], 0, /at least 1/],
    ["fractional epochs", ["train", "epochs"], 1.5, /integer/],
    ["an imgsz that is not a multiple of 32", ["train", "imgsz"], 650, /multiple of 32/],
    ["batch 0", ["train", "batch"], 0, /-1 \(AutoBatch\) or at least 1/],
    ["no GPUs", ["train", "gpus"], 0, /at least 1/],
    ["a hyperparameter that is an object", ["train", "hyperparameters", "lr0"], { a: 1 }, /string, a number or a boolean/],
    ["a hyperparameter name that is not an ultralytics argument name", ["train", "hyperparameters", "Lr-0"], 0.1, /ultralytics argument name/],
    ["a hyperparameter that overrides epochs", ["train", "hyperparameters", "epochs"], 5, /set by the run spec itself/],
    ["an empty progressive list", ["train", "progressive"], [], /at least one phase/],
    ["an artifact prefix of another run", ["artifacts", "prefix"], "runs/other/", /runs\/<runId>\//],
    ["an artifact bucket with capitals", ["artifacts", "bucket"], "Bucket", /S3 bucket name/],
    ["an OTA prefix with a leading slash", ["ota", "prefix"], "/models/", /key prefix ending with \/.*this one starts with \//],
    ["an OTA prefix with a wildcard", ["ota", "prefix"], "models/*/", /this one has a segment "\*" with characters outside/],
    ["an OTA prefix with a quote", ["ota", "prefix"], "it's/widgets/", /this one has a segment "it's" with characters outside/],
    ["an OTA channel it does not know", ["ota", "channel"], "beta", /"candidate" or "stable"/],
    ["a signing key that is not KMS", ["ota", "signingKeyId"], "my key", /KMS key ARN/],
    ["a promotion metric that is not a metric name", ["ota", "promote"], { metric: "mAP 50", min: 0.5, requireImprovement: false }, /1-128 characters of A-Z/],
    ["a negative max runtime", ["limits", "maxRuntimeHours"], -1, /more than 0/],
    ["an idle threshold of 100", ["limits", "idleGpuPercent"], 100, /less than 100/],
    ["an idle threshold of 0", ["limits", "idleGpuPercent"], 0, /more than 0/],
    ["an idle window under 5 minutes", ["limits", "idleMinutes"], 4, /at least 5/],
    ["an idle window over 240 minutes", ["limits", "idleMinutes"], 241, /at most 240/],
    ["a max runtime over 30 days", ["limits", "maxRuntimeHours"], 721, /at most 720/],
    ["zero attempts", ["limits", "maxAttempts"], 0, /at least 1/],
    ["restartIfCheckpointLost as text", ["limits", "restartIfCheckpointLost"], "true", /must be true or false/],
    ["restartIfCheckpointLost as a number", ["limits", "restartIfCheckpointLost"], 1, /must be true or false/],
    ["an MLflow URI that is not http", ["tracking"], { kind: "mlflow", uri: "ftp://x" }, /http\(s\) URL/],
    ["a capacity it does not know", ["pricing", "capacity"], "reserved", /"spot" or "on-demand"/],
    ["a negative price", ["pricing", "usdPerHour"], -0.1, /at least 0/],
    ["a missing region", ["region"], undefined, /expected string/],
  ])("rejects %s, naming %j", (_what, path, value, message) => {
    const problems = problemsOf(withChange(path, value));
    const expectedPath = path
      .map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`))
      .join("");
    const match = problems.find((p) => p.path === expectedPath || p.path.startsWith(`${expectedPath}.`) || p.path.startsWith(`${expectedPath}[`));
    expect(match).toBeDefined();
    expect(match!.message).toMatch(message);
  });

  it("reports every problem at once, one line per path", () => {
    const doc = withChange(["train", "imgsz"], 650) as Record<string, any>;
    doc.limits.idleMinutes = 0;
    doc.ota.channel = "beta";
    const problems = problemsOf(doc);
    expect(problems.map((p) => p.path)).toEqual(expect.arrayContaining(["train.imgsz", "limits.idleMinutes", "ota.channel"]));
    expect(() => parseRunSpec(doc)).toThrow(/3 problems:\n  - train\.imgsz: .*\n  - ota\.channel: .*\n  - limits\.idleMinutes: /);
  });

  it("indexes array elements in paths", () => {
    const problems = problemsOf(withChange(["train", "progressive"], [{ imgsz: 320, epochs: 5 }, { imgsz: 100, epochs: 5 }]));
    expect(problems).toEqual([expect.objectContaining({ path: "train.progressive[1].imgsz" })]);
  });

  it("rejects unknown fields instead of ignoring them", () => {
    const doc = { ...runSpecDocument(), extra: true };
    expect(problemsOf(doc)).toEqual([{ path: "(run spec)", message: expect.stringMatching(/Unrecognized key.*extra/) }]);
    const nested = withChange(["limits", "maxRuntimeHour"], 3);
    expect(problemsOf(nested)[0]).toEqual({ path: "limits", message: expect.stringMatching(/maxRuntimeHour/) });
  });

  it("refuses a W&B API key where the SSM parameter name goes", () => {
    const key = "0123456789abcdef0123456789abcdef01234567";
    const problems = problemsOf(withChange(["tracking"], { kind: "wandb", project: "widgets", apiKeyParameter: key }));
    expect(problems).toEqual([{ path: "tracking.apiKeyParameter", message: expect.stringMatching(/looks like a W&B API key/) }]);
  });

  it("reports text that is not JSON", () => {
    expect(problemsOf("{not json")).toEqual([{ path: "(run spec)", message: expect.stringMatching(/not valid JSON/) }]);
  });
});
