import { randomUUID } from "crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "http";
import { closeServer, listenOnLoopback, readBody } from "./loopback";

/** A schedule as EventBridge Scheduler keeps it (the fields of GetSchedule's answer, dates in epoch seconds). */
export interface FakeSchedule {
  readonly Name: string;
  readonly GroupName: string;
  readonly ScheduleExpression: string;
  readonly ScheduleExpressionTimezone?: string;
  readonly FlexibleTimeWindow: { readonly Mode: string; readonly MaximumWindowInMinutes?: number };
  readonly Target: {
    readonly Arn: string;
    readonly RoleArn: string;
    readonly Input?: string;
    readonly RetryPolicy?: { readonly MaximumEventAgeInSeconds?: number; readonly MaximumRetryAttempts?: number };
    readonly DeadLetterConfig?: { readonly Arn?: string };
  };
  readonly State?: string;
  readonly Description?: string;
  readonly ActionAfterCompletion?: string;
  readonly KmsKeyArn?: string;
  readonly StartDate?: number;
  readonly EndDate?: number;
}

/** One Scheduler API call as the fake received it. */
export interface SchedulerCall {
  readonly at: number;
  readonly method: string;
  readonly name: string;
  readonly groupName: string;
  /** The JSON body of a PUT, as sent. */
  readonly body: Record<string, unknown> | undefined;
  readonly signed: boolean;
  readonly status: number;
}

const DEFAULT_GROUP = "default";
const ACCOUNT = "111122223333";

/**
 * A local Amazon EventBridge Scheduler endpoint speaking its REST-JSON protocol, for
 * `AWS_ENDPOINT_URL_SCHEDULER`: `GetSchedule` (GET /schedules/{Name}?groupName=) and
 * `UpdateSchedule` (PUT /schedules/{Name}). As the service does, an update replaces the whole
 * schedule (a field left out takes its default), requires `ScheduleExpression`,
 * `FlexibleTimeWindow` and a `Target` with `Arn` and `RoleArn` (ValidationException, 400), and an
 * unknown schedule is a ResourceNotFoundException (404). Every call is recorded.
 *
 * @see https://docs.aws.amazon.com/scheduler/latest/APIReference/API_UpdateSchedule.html
 * @see https://docs.aws.amazon.com/scheduler/latest/APIReference/API_GetSchedule.html
 */
export class SchedulerFake {
  readonly calls: SchedulerCall[] = [];
  private readonly schedules = new Map<string, FakeSchedule>();
  private failures: { count: number; status: number; code: string } | undefined;
  private readonly server = createServer((req, res) => void this.handle(req, res));
  private url = "";

  static async start(): Promise<SchedulerFake> {
    const fake = new SchedulerFake();
    fake.url = await listenOnLoopback(fake.server);
    return fake;
  }

  get endpoint(): string {
    return this.url;
  }

  /** Declares a schedule as `pulumi up` left it. */
  addSchedule(schedule: Omit<FakeSchedule, "GroupName"> & { GroupName?: string }): void {
    const full = { State: "ENABLED", ...schedule, GroupName: schedule.GroupName ?? DEFAULT_GROUP };
    this.schedules.set(keyOf(full.GroupName, full.Name), full);
  }

  schedule(name: string, groupName = DEFAULT_GROUP): FakeSchedule | undefined {
    return this.schedules.get(keyOf(groupName, name));
  }

  /** The next `count` calls fail with this error (e.g. 500 InternalServerException), then calls succeed. */
  failNext(count: number, status = 500, code = "InternalServerException"): void {
    this.failures = { count, status, code };
  }

  get updates(): SchedulerCall[] {
    return this.calls.filter((c) => c.method === "PUT");
  }

  async close(): Promise<void> {
    await closeServer(this.server);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = (await readBody(req)).toString("utf8");
    const url = new URL(req.url ?? "/", "http://fake");
    const match = /^\/schedules\/([^/]+)$/.exec(url.pathname);
    const name = match ? decodeURIComponent(match[1]!) : "";
    let body: Record<string, unknown> | undefined;
    const send = (status: number, answer: Record<string, unknown>, errorType?: string): void => {
      this.calls.push({
        at: Date.now(),
        method: req.method ?? "",
        name,
        groupName: String(body?.GroupName ?? url.searchParams.get("groupName") ?? DEFAULT_GROUP),
        body,
        signed: String(req.headers.authorization ?? "").startsWith("AWS4-HMAC-SHA256 "),
        status,
      });
      const text = JSON.stringify(answer);
      res.writeHead(status, {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(text),
        "x-amzn-requestid": randomUUID(),
        ...(errorType ? { "x-amzn-errortype": errorType } : {}),
      });
      res.end(text);
    };
    const fail = (status: number, code: string, message: string): void => send(status, { Message: message }, code);

    if (req.method === "PUT") {
      try {
        body = raw === "" ? {} : (JSON.parse(raw) as Record<string, unknown>);
      } catch {
        return fail(400, "ValidationException", "The request body is not valid JSON");
      }
    }
    if (!match) return fail(404, "UnknownOperationException", `No operation for ${req.method} ${url.pathname}`);
    if (this.failures && this.failures.count > 0) {
      this.failures.count -= 1;
      return fail(this.failures.status, this.failures.code, "Unexpected error occurred while processing the request");
    }
    if (req.method === "GET") {
      const groupName = url.searchParams.get("groupName") ?? DEFAULT_GROUP;
      const schedule = this.schedules.get(keyOf(groupName, name));
      if (!schedule) return fail(404, "ResourceNotFoundException", `Schedule ${name} does not exist.`);
      return send(200, { ...schedule, Arn: arnOf(groupName, name), CreationDate: 1_764_000_000, LastModificationDate: 1_764_000_000 });
    }
    if (req.method === "PUT") return this.update(name, body!, send, fail);
    return fail(405, "UnknownOperationException", `No operation for ${req.method} ${url.pathname}`);
  }

  private update(name: string, body: Record<string, unknown>, send: (status: number, answer: Record<string, unknown>) => void, fail: (status: number, code: string, message: string) => void): void {
    const groupName = typeof body.GroupName === "string" ? body.GroupName : DEFAULT_GROUP;
    const problems: string[] = [];
    const target = body.Target as Record<string, unknown> | undefined;
    const window = body.FlexibleTimeWindow as Record<string, unknown> | undefined;
    if (typeof body.ScheduleExpression !== "string" || body.ScheduleExpression === "") problems.push("Value null at 'scheduleExpression' failed to satisfy constraint: Member must not be null");
    if (typeof window !== "object" || window === null || (window.Mode !== "OFF" && window.Mode !== "FLEXIBLE")) problems.push("Value null at 'flexibleTimeWindow' failed to satisfy constraint: Member must not be null");
    if (typeof target !== "object" || target === null) problems.push("Value null at 'target' failed to satisfy constraint: Member must not be null");
    else {
      if (typeof target.Arn !== "string" || target.Arn === "") problems.push("Value null at 'target.arn' failed to satisfy constraint: Member must not be null");
      if (typeof target.RoleArn !== "string" || target.RoleArn === "") problems.push("Value null at 'target.roleArn' failed to satisfy constraint: Member must not be null");
    }
    if (problems.length > 0) return fail(400, "ValidationException", `${problems.length} validation error(s) detected: ${problems.join("; ")}`);
    const expression = body.ScheduleExpression as string;
    if (!/^(at\(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\)|rate\(.+\)|cron\(.+\))$/.test(expression)) return fail(400, "ValidationException", `Invalid Schedule Expression ${expression}.`);
    const key = keyOf(groupName, name);
    if (!this.schedules.has(key)) return fail(404, "ResourceNotFoundException", `Schedule ${name} does not exist.`);
    // The whole schedule is replaced: what the request leaves out takes the service's default.
    const retry = (target as Record<string, unknown>).RetryPolicy as FakeSchedule["Target"]["RetryPolicy"] | undefined;
    const t = target as Record<string, unknown>;
    this.schedules.set(key, {
      Name: name,
      GroupName: groupName,
      ScheduleExpression: expression,
      ScheduleExpressionTimezone: typeof body.ScheduleExpressionTimezone === "string" ? body.ScheduleExpressionTimezone : "UTC",
      FlexibleTimeWindow: window as FakeSchedule["FlexibleTimeWindow"],
      Target: {
        Arn: t.Arn as string,
        RoleArn: t.RoleArn as string,
        ...(typeof t.Input === "string" ? { Input: t.Input } : {}),
        RetryPolicy: { MaximumEventAgeInSeconds: retry?.MaximumEventAgeInSeconds ?? 86_400, MaximumRetryAttempts: retry?.MaximumRetryAttempts ?? 185 },
        ...(t.DeadLetterConfig !== undefined ? { DeadLetterConfig: t.DeadLetterConfig as { Arn?: string } } : {}),
      },
      State: typeof body.State === "string" ? body.State : "ENABLED",
      ActionAfterCompletion: typeof body.ActionAfterCompletion === "string" ? body.ActionAfterCompletion : "NONE",
      ...(typeof body.Description === "string" ? { Description: body.Description } : {}),
      ...(typeof body.KmsKeyArn === "string" ? { KmsKeyArn: body.KmsKeyArn } : {}),
      ...(typeof body.StartDate === "number" ? { StartDate: body.StartDate } : {}),
      ...(typeof body.EndDate === "number" ? { EndDate: body.EndDate } : {}),
    });
    send(200, { ScheduleArn: arnOf(groupName, name) });
  }
}

const keyOf = (groupName: string, name: string): string => `${groupName}/${name}`;
const arnOf = (groupName: string, name: string): string => `arn:aws:scheduler:us-east-1:${ACCOUNT}:schedule/${groupName}/${name}`;
