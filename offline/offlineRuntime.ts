import * as pulumi from "@pulumi/pulumi";
import { FakeAws, type RecordedResource } from "./fakeAws";

export interface OfflineRuntimeOptions {
  readonly project?: string;
  readonly stack?: string;
  /** The region of the fake account; also set as `aws:region` unless `config` sets that. @default config's `aws:region`, else us-east-1 */
  readonly region?: string;
  /** Stack config as `pulumi config` holds it: `namespace:key` → value (objects as JSON text). */
  readonly config?: Record<string, string>;
  /** Keys of `config` that Pulumi holds as secrets (`yolo-train:tracking`). @default none */
  readonly secretKeys?: readonly string[];
  /** The account of every ARN. @default FAKE_ACCOUNT_ID */
  readonly accountId?: string;
  /** How resource ids look (see {@link FakeAwsOptions.ids}). @default "logical" */
  readonly ids?: "logical" | "realistic";
  /** Other stacks' outputs, for `pulumi.StackReference` (see {@link FakeAwsOptions.stackOutputs}). @default none */
  readonly stackOutputs?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** Run as `pulumi preview` does (`pulumi.runtime.isDryRun()` is true). @default false */
  readonly preview?: boolean;
}

/**
 * Runs Pulumi programs with no engine and no AWS: sets Pulumi's mocks to a {@link FakeAws}
 * and records every resource registered, with its parent, so callers can print the tree of
 * what `pulumi up` would create or assert on properties.
 *
 * Each install replaces the mocks of the one before: its resources and invokes start empty.
 */
export class OfflineRuntime {
  readonly cloud: FakeAws;
  readonly resources: RecordedResource[] = [];
  readonly project: string;
  readonly stack: string;

  private constructor(cloud: FakeAws, project: string, stack: string) {
    this.cloud = cloud;
    this.project = project;
    this.stack = stack;
  }

  /** Installs the mocks now (synchronously: the monitor is in place when this returns). */
  static install(options: OfflineRuntimeOptions = {}): OfflineRuntime {
    const config = options.config ?? {};
    const region = options.region ?? config["aws:region"] ?? "us-east-1";
    const project = options.project ?? "yolo-train";
    const stack = options.stack ?? "test";
    const cloud = new FakeAws({ region, ...(options.accountId !== undefined ? { accountId: options.accountId } : {}), ...(options.ids !== undefined ? { ids: options.ids } : {}), ...(options.stackOutputs !== undefined ? { stackOutputs: options.stackOutputs } : {}) });
    const runtime = new OfflineRuntime(cloud, project, stack);
    // setMocks does all its work before its first await: the monitor is set when it returns.
    void pulumi.runtime.setMocks(runtime.cloud, project, stack, options.preview ?? false);
    // A program that reads `aws:region` sees it missing when the stack config leaves it out.
    pulumi.runtime.setAllConfig(
      options.region ? { "aws:region": options.region, ...config } : config,
      [...(options.secretKeys ?? [])],
    );
    runtime.recordRegistrations();
    return runtime;
  }

  static async start(options: OfflineRuntimeOptions = {}): Promise<OfflineRuntime> {
    return OfflineRuntime.install(options);
  }

  /** The region of the fake account. */
  get region(): string {
    return this.cloud.region;
  }

  /** The account of the fake account's ARNs. */
  get accountId(): string {
    return this.cloud.accountId;
  }

  /** Every invoke (provider function) the program made, in order: token and inputs. */
  get invokes(): readonly { readonly token: string; readonly inputs: Record<string, any> }[] {
    return this.cloud.invokes;
  }

  /** Resources of one type token, e.g. `aws:s3/bucket:Bucket`. */
  ofType(type: string): RecordedResource[] {
    return this.resources.filter((r) => r.type === type);
  }

  /** The one resource of a type (with that name, when given); fails when there are none or several. */
  single(type: string, name?: string): RecordedResource {
    const found = this.ofType(type).filter((r) => name === undefined || r.name === name);
    if (found.length !== 1) {
      throw new Error(`expected one ${type}${name === undefined ? "" : ` named ${name}`}, found ${found.length}: ${found.map((r) => r.name).join(", ")}`);
    }
    return found[0]!;
  }

  /**
   * The one resource with this logical name (`named(name)`), or of this type with this name
   * (`named(type, name)`); fails when there are none or several.
   */
  named(name: string): RecordedResource;
  named(type: string, name: string): RecordedResource;
  named(typeOrName: string, name?: string): RecordedResource {
    const [type, wanted] = name === undefined ? [undefined, typeOrName] : [typeOrName, name];
    const found = this.resources.filter((r) => r.name === wanted && (type === undefined || r.type === type));
    if (found.length !== 1) {
      const what = type === undefined ? "resource" : type;
      const similar = this.resources.filter((r) => r.name.includes(wanted)).map((r) => `${r.type} ${r.name}`);
      throw new Error(
        `expected one ${what} named ${wanted}, found ${found.length}` +
          (found.length > 1 ? `: ${found.map((r) => r.type).join(", ")}` : similar.length > 0 ? ` (similar: ${similar.slice(0, 5).join("; ")})` : ""),
      );
    }
    return found[0]!;
  }

  /**
   * Resolves once registrations have stopped: waits for Pulumi's outstanding RPCs, then for a
   * few quiet turns of the event loop, since children declared inside `apply` callbacks
   * register after the outputs a test awaited.
   */
  async settle(): Promise<void> {
    const waitForRPCs = (pulumi.runtime as unknown as { waitForRPCs?: () => Promise<void> }).waitForRPCs;
    let seen = -1;
    for (let quiet = 0; quiet < 4; ) {
      // A registration waiting on an output that never resolves would hold the RPCs forever.
      if (typeof waitForRPCs === "function") await withTimeout(waitForRPCs().catch(() => undefined), 1000);
      await delay(5);
      quiet = this.resources.length === seen ? quiet + 1 : 0;
      seen = this.resources.length;
    }
  }

  /** Children (direct) of the resource with this URN (or of this resource); `undefined`: the roots. */
  childrenOf(parent: string | RecordedResource | undefined): RecordedResource[] {
    const urn = typeof parent === "object" ? parent.urn : parent;
    return this.resources.filter((r) => r.parentUrn === urn);
  }

  /** The mock monitor does not pass the parent to the mocks, so it is read off the request. */
  private recordRegistrations(): void {
    const monitor = pulumi.runtime.getMonitor() as any;
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req: any, callback: (err: any, res: any) => void) =>
      register(req, (err: any, res: any) => {
        if (!err && res) {
          const key = `${req.getType()}::${req.getName()}`;
          const answered = this.cloud.answered.get(key);
          this.resources.push({
            urn: res.getUrn(),
            parentUrn: req.getParent() || undefined,
            type: req.getType(),
            name: req.getName(),
            inputs: this.cloud.declaredInputs.get(key) ?? {},
            custom: req.getCustom(),
            dependencies: req.getDependenciesList(),
            ignoreChanges: req.getIgnorechangesList(),
            ...(answered !== undefined ? { id: answered.id, outputs: answered.state } : {}),
          });
        }
        callback(err, res);
      });
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function withTimeout(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return Promise.race([promise.then(() => undefined), timeout]).finally(() => clearTimeout(timer));
}

/**
 * The value of an output, once the mock runtime has resolved it. Rejects when the output failed
 * (a component refused a value inside `apply`); under `preview`, an unknown value is `undefined`.
 */
export function valueOf<T>(output: pulumi.Input<T> | pulumi.Output<T>): Promise<T> {
  // A failed output rejects its `isKnown` and `isSecret` too: the rejection returned here is the
  // one to report, so those are marked handled rather than left to fail the test a second time.
  if (pulumi.Output.isInstance(output)) markHandled(output);
  const lifted = pulumi.output(output) as unknown as { promise?: () => Promise<T>; apply: (f: (v: T) => void) => unknown };
  markHandled(lifted);
  // Output.promise() is internal to the SDK but has been stable for years; apply() is the fallback.
  if (typeof lifted.promise === "function") return lifted.promise();
  return new Promise<T>((resolve) => lifted.apply((v) => resolve(v)));
}

function markHandled(output: unknown): void {
  const { isKnown, isSecret } = output as { isKnown?: unknown; isSecret?: unknown };
  for (const promise of [isKnown, isSecret]) {
    if (promise instanceof Promise) promise.catch(() => undefined);
  }
}
