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
}

/**
 * Runs Pulumi programs with no engine and no AWS: sets Pulumi's mocks to a {@link FakeAws}
 * and records every resource registered, with its parent, so callers can print the tree of
 * what `pulumi up` would create or assert on properties.
 */
export class OfflineRuntime {
  readonly cloud: FakeAws;
  readonly resources: RecordedResource[] = [];

  private constructor(cloud: FakeAws) {
    this.cloud = cloud;
  }

  static async start(options: OfflineRuntimeOptions = {}): Promise<OfflineRuntime> {
    const config = options.config ?? {};
    const region = options.region ?? config["aws:region"] ?? "us-east-1";
    const project = options.project ?? "yolo-train";
    const stack = options.stack ?? "test";
    const runtime = new OfflineRuntime(new FakeAws({ region }));
    await pulumi.runtime.setMocks(runtime.cloud, project, stack, false);
    // A program that reads `aws:region` sees it missing when the stack config leaves it out.
    pulumi.runtime.setAllConfig(
      options.region ? { "aws:region": options.region, ...config } : config,
      [...(options.secretKeys ?? [])],
    );
    runtime.recordRegistrations();
    return runtime;
  }

  /** Resources of one type token, e.g. `aws:s3/bucket:Bucket`. */
  ofType(type: string): RecordedResource[] {
    return this.resources.filter((r) => r.type === type);
  }

  /** The one resource of a type; fails when there are none or several. */
  single(type: string): RecordedResource {
    const found = this.ofType(type);
    if (found.length !== 1) {
      throw new Error(`expected one ${type}, found ${found.length}: ${found.map((r) => r.name).join(", ")}`);
    }
    return found[0]!;
  }

  /** The one resource of a type with this name; fails when there are none or several. */
  named(type: string, name: string): RecordedResource {
    const found = this.ofType(type).filter((r) => r.name === name);
    if (found.length !== 1) throw new Error(`expected one ${type} named ${name}, found ${found.length}`);
    return found[0]!;
  }

  /**
   * Resolves once registrations have stopped for a few turns of the event loop: children
   * declared inside `apply` callbacks register after the outputs a test awaited.
   */
  async settle(): Promise<void> {
    let seen = -1;
    for (let quiet = 0; quiet < 4; ) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      quiet = this.resources.length === seen ? quiet + 1 : 0;
      seen = this.resources.length;
    }
  }

  /** Children (direct) of the resource with this URN. */
  childrenOf(urn: string | undefined): RecordedResource[] {
    return this.resources.filter((r) => r.parentUrn === urn);
  }

  /** The mock monitor does not pass the parent to the mocks, so it is read off the request. */
  private recordRegistrations(): void {
    const monitor = pulumi.runtime.getMonitor() as any;
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req: any, callback: (err: any, res: any) => void) =>
      register(req, (err: any, res: any) => {
        if (!err && res) {
          this.resources.push({
            urn: res.getUrn(),
            parentUrn: req.getParent() || undefined,
            type: req.getType(),
            name: req.getName(),
            inputs: this.cloud.declaredInputs.get(`${req.getType()}::${req.getName()}`) ?? {},
            custom: req.getCustom(),
          });
        }
        callback(err, res);
      });
  }
}

/** The value of an output, once the mock runtime has resolved it. */
export function valueOf<T>(output: pulumi.Input<T> | pulumi.Output<T>): Promise<T> {
  return new Promise<T>((resolve) => pulumi.output(output).apply((v) => resolve(v as T)));
}
