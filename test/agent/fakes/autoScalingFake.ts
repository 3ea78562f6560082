import { randomUUID } from "crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "http";
import { closeServer, listenOnLoopback, readBody } from "./loopback";

/** One Auto Scaling API call as the fake received it. */
export interface AutoScalingCall {
  readonly at: number;
  readonly action: string;
  /** Every form field except `Action` and `Version`, as sent (booleans are "true"/"false"). */
  readonly params: Readonly<Record<string, string>>;
  readonly version: string | undefined;
  /** Whether the request carried a SigV4 `Authorization` header. */
  readonly signed: boolean;
  readonly status: number;
}

interface Group {
  desiredCapacity: number;
  minSize: number;
  /** Set by an `UpdateAutoScalingGroup` with `MaxSize`; until then the group reports max(1, desired). */
  maxSize: number | undefined;
  readonly instances: Set<string>;
  /** Instances scaled in but not yet gone: how many more describes still list them as Terminating. */
  readonly terminating: Map<string, number>;
  /** Describes a scaled-in instance stays listed as Terminating (EC2 takes minutes for real). */
  terminationDescribes: number;
}

const XMLNS = "http://autoscaling.amazonaws.com/doc/2011-01-01/";

/**
 * A local Amazon EC2 Auto Scaling endpoint speaking the awsQuery protocol (form-encoded POST,
 * XML answers in the shape of the API reference). It knows groups and their instances, answers
 * `TerminateInstanceInAutoScalingGroup` (decrementing desired capacity when asked) and
 * `UpdateAutoScalingGroup` (min size, desired capacity), `DescribeAutoScalingGroups` (sizes and
 * instances with their lifecycle state), and records
 * every call; any other action is answered with an `InvalidAction` error and recorded too.
 *
 * @see https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_TerminateInstanceInAutoScalingGroup.html
 */
export class AutoScalingFake {
  readonly calls: AutoScalingCall[] = [];
  private readonly groups = new Map<string, Group>();
  private failures: { count: number; status: number; code: string } | undefined;
  private readonly server = createServer((req, res) => void this.handle(req, res));
  private url = "";

  static async start(): Promise<AutoScalingFake> {
    const fake = new AutoScalingFake();
    fake.url = await listenOnLoopback(fake.server);
    return fake;
  }

  /** For `AWS_ENDPOINT_URL_AUTO_SCALING`. */
  get endpoint(): string {
    return this.url;
  }

  /** Declares a group with these in-service instances; desired capacity = their number. */
  addGroup(name: string, instanceIds: readonly string[]): void {
    this.groups.set(name, { desiredCapacity: instanceIds.length, minSize: 0, maxSize: undefined, instances: new Set(instanceIds), terminating: new Map(), terminationDescribes: 0 });
  }

  /**
   * Scaled-in instances of the group stay listed as `Terminating` for this many
   * `DescribeAutoScalingGroups` calls before they are gone, as EC2 takes a while to stop them.
   */
  slowTermination(groupName: string, describes: number): void {
    const group = this.groups.get(groupName);
    if (!group) throw new Error(`no group ${groupName}`);
    group.terminationDescribes = describes;
  }

  /**
   * What the group does when EC2 takes an instance away (a spot interruption) or a new one comes
   * up (a relaunch): `gone` leaves the group, `replacement` joins it; desired capacity stays.
   */
  replaceInstance(groupName: string, gone: string | undefined, replacement: string): void {
    const group = this.groups.get(groupName);
    if (!group) throw new Error(`no group ${groupName}`);
    if (gone !== undefined) group.instances.delete(gone);
    group.instances.add(replacement);
    group.desiredCapacity = Math.max(group.desiredCapacity, group.instances.size);
  }

  desiredCapacity(groupName: string): number | undefined {
    return this.groups.get(groupName)?.desiredCapacity;
  }

  minSize(groupName: string): number | undefined {
    return this.groups.get(groupName)?.minSize;
  }

  maxSize(groupName: string): number | undefined {
    const group = this.groups.get(groupName);
    return group === undefined ? undefined : (group.maxSize ?? Math.max(1, group.desiredCapacity));
  }

  /** Instances in service in the group now. */
  instances(groupName: string): string[] {
    return [...(this.groups.get(groupName)?.instances ?? [])];
  }

  /** The next `count` calls fail with this error (e.g. 500 `ResourceContention`), then calls succeed. */
  failNext(count: number, status = 500, code = "ResourceContention"): void {
    this.failures = { count, status, code };
  }

  /** Only the `TerminateInstanceInAutoScalingGroup` calls, as `{InstanceId, ShouldDecrementDesiredCapacity}`. */
  get terminations(): Array<Readonly<Record<string, string>>> {
    return this.calls.filter((c) => c.action === "TerminateInstanceInAutoScalingGroup").map((c) => c.params);
  }

  async close(): Promise<void> {
    await closeServer(this.server);
  }

  /**
   * `UpdateAutoScalingGroup` with `MinSize` / `MaxSize` / `DesiredCapacity` (desired must lie between
   * the two, as the service checks): lowering desired capacity takes
   * instances out of the group at once (the real service terminates them shortly after).
   * @see https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_UpdateAutoScalingGroup.html
   */
  private updateGroup(params: Readonly<Record<string, string>>, send: (status: number, xml: string) => void): void {
    const name = params.AutoScalingGroupName;
    const group = name === undefined ? undefined : this.groups.get(name);
    if (!group) return send(400, errorXml("Sender", "ValidationError", `AutoScalingGroup name not found - AutoScalingGroup ${name ?? "null"} not found`));
    const minSize = params.MinSize === undefined ? group.minSize : Number(params.MinSize);
    const desired = params.DesiredCapacity === undefined ? group.desiredCapacity : Number(params.DesiredCapacity);
    const maxSize = params.MaxSize === undefined ? group.maxSize : Number(params.MaxSize);
    if (!Number.isInteger(minSize) || !Number.isInteger(desired) || desired < minSize || (maxSize !== undefined && (!Number.isInteger(maxSize) || desired > maxSize))) {
      return send(400, errorXml("Sender", "ValidationError", `Desired capacity:${desired} must be between the specified min size:${minSize} and max size:${maxSize ?? "(unchanged)"}`));
    }
    group.minSize = minSize;
    group.maxSize = maxSize;
    group.desiredCapacity = desired;
    for (const id of [...group.instances].slice(desired)) {
      group.instances.delete(id);
      if (group.terminationDescribes > 0) group.terminating.set(id, group.terminationDescribes);
    }
    send(
      200,
      `<UpdateAutoScalingGroupResponse xmlns="${XMLNS}">
  <ResponseMetadata>
    <RequestId>${randomUUID()}</RequestId>
  </ResponseMetadata>
</UpdateAutoScalingGroupResponse>
`,
    );
  }

  /**
   * `DescribeAutoScalingGroups` for the named groups (`AutoScalingGroupNames.member.N`); names it
   * does not know are left out, as the service does. One page: no `NextToken`.
   * @see https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_DescribeAutoScalingGroups.html
   */
  private describeGroups(params: Readonly<Record<string, string>>, send: (status: number, xml: string) => void): void {
    const names = Object.entries(params)
      .filter(([key]) => /^AutoScalingGroupNames\.member\.\d+$/.test(key))
      .map(([, value]) => value);
    const members = names.flatMap((name) => {
      const group = this.groups.get(name);
      if (!group) return [];
      const instance = (id: string, state: string): string =>
        `<member><InstanceId>${escapeXml(id)}</InstanceId><InstanceType>g4dn.xlarge</InstanceType><AvailabilityZone>us-east-1a</AvailabilityZone><LifecycleState>${state}</LifecycleState><HealthStatus>Healthy</HealthStatus><ProtectedFromScaleIn>false</ProtectedFromScaleIn></member>`;
      const instances = [...[...group.instances].map((id) => instance(id, "InService")), ...[...group.terminating.keys()].map((id) => instance(id, "Terminating"))];
      for (const [id, left] of group.terminating) {
        if (left <= 1) group.terminating.delete(id);
        else group.terminating.set(id, left - 1);
      }
      return [
        `<member><AutoScalingGroupName>${escapeXml(name)}</AutoScalingGroupName><MinSize>${group.minSize}</MinSize><MaxSize>${group.maxSize ?? Math.max(1, group.desiredCapacity)}</MaxSize>` +
          `<DesiredCapacity>${group.desiredCapacity}</DesiredCapacity><DefaultCooldown>300</DefaultCooldown><AvailabilityZones><member>us-east-1a</member></AvailabilityZones>` +
          `<HealthCheckType>EC2</HealthCheckType><CreatedTime>2026-11-29T12:00:00Z</CreatedTime><Instances>${instances.join("")}</Instances></member>`,
      ];
    });
    send(
      200,
      `<DescribeAutoScalingGroupsResponse xmlns="${XMLNS}">
  <DescribeAutoScalingGroupsResult>
    <AutoScalingGroups>${members.join("")}</AutoScalingGroups>
  </DescribeAutoScalingGroupsResult>
  <ResponseMetadata>
    <RequestId>${randomUUID()}</RequestId>
  </ResponseMetadata>
</DescribeAutoScalingGroupsResponse>
`,
    );
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = (await readBody(req)).toString("utf8");
    const form = new URLSearchParams(req.method === "POST" ? body : (req.url ?? "").split("?")[1] ?? "");
    const action = form.get("Action") ?? "";
    const params: Record<string, string> = {};
    for (const [key, value] of form) if (key !== "Action" && key !== "Version") params[key] = value;
    const record = (status: number): void => {
      this.calls.push({
        at: Date.now(),
        action,
        params,
        version: form.get("Version") ?? undefined,
        signed: String(req.headers.authorization ?? "").startsWith("AWS4-HMAC-SHA256 "),
        status,
      });
    };
    const send = (status: number, xml: string): void => {
      record(status);
      res.writeHead(status, { "content-type": "text/xml", "content-length": Buffer.byteLength(xml), "x-amzn-requestid": randomUUID() });
      res.end(xml);
    };

    if (req.method !== "POST") return send(400, errorXml("Sender", "InvalidHttpRequest", "The awsQuery protocol uses POST"));
    if (this.failures && this.failures.count > 0) {
      this.failures.count -= 1;
      const { status, code } = this.failures;
      const type = status >= 500 ? "Receiver" : "Sender";
      return send(status, errorXml(type, code, "You already have a pending update to an Auto Scaling resource."));
    }
    if (action === "UpdateAutoScalingGroup") return this.updateGroup(params, send);
    if (action === "DescribeAutoScalingGroups") return this.describeGroups(params, send);
    if (action !== "TerminateInstanceInAutoScalingGroup") {
      return send(400, errorXml("Sender", "InvalidAction", `The action ${action || "(none)"} is not valid for this web service.`));
    }

    const instanceId = params.InstanceId;
    const decrement = params.ShouldDecrementDesiredCapacity;
    if (!instanceId) return send(400, errorXml("Sender", "ValidationError", "1 validation error detected: Value null at 'instanceId' failed to satisfy constraint: Member must not be null"));
    if (decrement !== "true" && decrement !== "false") {
      return send(400, errorXml("Sender", "ValidationError", "1 validation error detected: Value null at 'shouldDecrementDesiredCapacity' failed to satisfy constraint: Member must not be null"));
    }
    const entry = [...this.groups.entries()].find(([, g]) => g.instances.has(instanceId));
    if (!entry) return send(400, errorXml("Sender", "ValidationError", `Instance Id not found - No managed instance found for instance ID: ${instanceId}`));
    const [groupName, group] = entry;
    const before = group.desiredCapacity;
    group.instances.delete(instanceId);
    if (decrement === "true") group.desiredCapacity = Math.max(0, before - 1);
    const now = new Date();
    const cause =
      decrement === "true"
        ? `At ${iso(now)} instance ${instanceId} was taken out of service in response to a user request, shrinking the capacity from ${before} to ${group.desiredCapacity}.`
        : `At ${iso(now)} instance ${instanceId} was taken out of service in response to a user request.`;
    send(
      200,
      `<TerminateInstanceInAutoScalingGroupResponse xmlns="${XMLNS}">
  <TerminateInstanceInAutoScalingGroupResult>
    <Activity>
      <ActivityId>${randomUUID()}</ActivityId>
      <AutoScalingGroupName>${escapeXml(groupName)}</AutoScalingGroupName>
      <Description>Terminating EC2 instance: ${escapeXml(instanceId)}</Description>
      <Cause>${escapeXml(cause)}</Cause>
      <StartTime>${iso(now)}</StartTime>
      <StatusCode>InProgress</StatusCode>
      <Progress>0</Progress>
      <Details>${escapeXml(JSON.stringify({ "Subnet ID": "subnet-0123456789abcdef0", "Availability Zone": "us-east-1a" }))}</Details>
    </Activity>
  </TerminateInstanceInAutoScalingGroupResult>
  <ResponseMetadata>
    <RequestId>${randomUUID()}</RequestId>
  </ResponseMetadata>
</TerminateInstanceInAutoScalingGroupResponse>
`,
    );
  }
}

function errorXml(type: "Sender" | "Receiver", code: string, message: string): string {
  return `<ErrorResponse xmlns="${XMLNS}">
  <Error>
    <Type>${type}</Type>
    <Code>${code}</Code>
    <Message>${escapeXml(message)}</Message>
  </Error>
  <RequestId>${randomUUID()}</RequestId>
</ErrorResponse>
`;
}

function iso(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}
