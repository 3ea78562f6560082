import { AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import type { Logger } from "../../../agent/log";
import { checkTokenAnswer, ImdsClient, ImdsError, MAX_TOKEN_LENGTH, tokenLifetimeMs } from "../../../agent/spotNotice";
import { terminateSelf } from "../../../agent/teardown";
import { AutoScalingFake } from "../fakes/autoScalingFake";
import { ImdsFake, type GetFailure, type ImdsRequest } from "../fakes/imdsFake";

const INSTANCE_ID = "i-0fedcba9876543210";
const SPOT_PATH = "/latest/meta-data/spot/instance-action";
const ID_PATH = "/latest/meta-data/instance-id";
/** Shaped like a real IMDSv2 token: base64 text. */
const REAL_LOOKING_TOKEN = "AQAEAFk8c2ZqZ3Y0YnRmY2x6dGJ6cXBkZ2h3b3h2a2ZyZ2t6YnFwZA==";

/** The bad token answers a client must refuse, each with why. */
const NOT_TOKENS: ReadonlyArray<readonly [string, Buffer]> = [
  ["binary bytes", Buffer.from([0x41, 0x51, 0xc3, 0x28, 0xff, 0x00, 0x9f, 0x42])],
  ["a newline inside (a header value the HTTP client refuses)", Buffer.from("AQAEAFk8c2Zq\nZ3Y0YnRm")],
  ["a space inside", Buffer.from("AQAEAFk8 c2ZqZ3Y0YnRm")],
  ["an overlong answer (an error page, not a token)", Buffer.from("A".repeat(MAX_TOKEN_LENGTH + 1))],
];

describe("checkTokenAnswer", () => {
  it("accepts a base64 token, dropping whitespace around it", () => {
    expect(checkTokenAnswer(Buffer.from(REAL_LOOKING_TOKEN))).toEqual({ ok: true, token: REAL_LOOKING_TOKEN });
    expect(checkTokenAnswer(Buffer.from(`${REAL_LOOKING_TOKEN}\r\n`))).toEqual({ ok: true, token: REAL_LOOKING_TOKEN });
    expect(checkTokenAnswer(Buffer.from("~".repeat(MAX_TOKEN_LENGTH)))).toMatchObject({ ok: true });
  });

  it.each<readonly [string, Buffer]>([
    ...NOT_TOKENS,
    ["an empty answer", Buffer.alloc(0)],
    ["only whitespace", Buffer.from(" \n")],
    ["a tab inside", Buffer.from("AQAE\tAFk8")],
    ["a NUL byte", Buffer.from("AQAE\0AFk8")],
    ["DEL", Buffer.from("AQAE\x7fAFk8")],
    ["non-ASCII text", Buffer.from("AQAEé")],
  ])("refuses %s without quoting it", (_case, body) => {
    const checked = checkTokenAnswer(body);
    expect(checked.ok).toBe(false);
    if (!checked.ok) expect(checked.problem).not.toContain("AQAE");
  });
});

describe("tokenLifetimeMs", () => {
  it("uses what was asked for, less a minute, when the service does not say", () => {
    expect(tokenLifetimeMs(21_600, null)).toBe((21_600 - 60) * 1000);
  });

  it("honours a shorter TTL the service answers with", () => {
    expect(tokenLifetimeMs(21_600, "600")).toBe(540_000);
    // A TTL too short to lose a minute of is used for half its time.
    expect(tokenLifetimeMs(21_600, "30")).toBe(15_000);
  });

  it.each([["99999"], ["0"], ["-5"], ["soon"], ["1e3"], [""]])("ignores an answered TTL of %p (longer than asked, or not a number of seconds)", (answered) => {
    expect(tokenLifetimeMs(21_600, answered)).toBe((21_600 - 60) * 1000);
  });
});

describe("ImdsClient against the IMDS fake", () => {
  let imds: ImdsFake;
  let client: ImdsClient;
  beforeEach(async () => {
    imds = await ImdsFake.start({ instanceId: INSTANCE_ID });
    client = new ImdsClient(imds.endpoint);
  });
  afterEach(async () => imds.close());

  const tokenPuts = (): ImdsRequest[] => imds.requests.filter((r) => r.method === "PUT");
  const gets = (path?: string): ImdsRequest[] => imds.requests.filter((r) => r.method === "GET" && (path === undefined || r.path === path));

  it.each(NOT_TOKENS)("refuses a token answer of %s, never sends it, and the next poll gets a good one", async (_case, body) => {
    imds.answerTokenRequests([{ body }, { body }]);
    await expect(client.spotNotice()).rejects.toThrow(/not a token.*with a new token: .*not a token/);
    // Neither answer was used, nor kept.
    expect(gets()).toEqual([]);

    await expect(client.spotNotice()).resolves.toBeNull();
    const good = tokenPuts()[2]!.token;
    expect(gets()).toEqual([expect.objectContaining({ path: SPOT_PATH, status: 404, token: good })]);
  });

  it("gets over one garbage token answer within the same poll", async () => {
    imds.answerTokenRequests([{ body: NOT_TOKENS[0]![1] }]);
    await expect(client.spotNotice()).resolves.toBeNull();
    expect(tokenPuts()).toHaveLength(2);
    expect(gets()).toEqual([expect.objectContaining({ status: 404, token: tokenPuts()[1]!.token })]);
  });

  it.each<[GetFailure]>([[403], [400], [500], ["hang-up"]])("renews a token that starts being answered with %p, within the same poll, and keeps the new one", async (failure) => {
    await expect(client.spotNotice()).resolves.toBeNull();
    const [first] = tokenPuts();
    imds.rejectIssuedTokens(failure);

    imds.triggerSpotNotice();
    await expect(client.spotNotice()).resolves.toMatchObject({ action: "terminate" });
    const second = tokenPuts()[1];
    expect(gets().map((g) => [g.status, g.token])).toEqual([
      [404, first!.token],
      [failure === "hang-up" ? 0 : failure, first!.token],
      [200, second!.token],
    ]);

    await client.spotNotice();
    expect(tokenPuts()).toHaveLength(2);
  });

  it("fails only the poll during which IMDS fails twice, then sees the notice", async () => {
    imds.failEveryGet(500);
    const failed = client.spotNotice();
    await expect(failed).rejects.toThrow(ImdsError);
    await expect(failed).rejects.toThrow(/HTTP 500; with a new token: HTTP 500/);
    // The second try carried a new token: the first one was dropped, not trusted.
    const [a, b] = gets();
    expect(a!.token).not.toBe(b!.token);

    imds.failEveryGet(undefined);
    imds.triggerSpotNotice("stop");
    await expect(client.spotNotice()).resolves.toMatchObject({ action: "stop" });
  });

  it("renews a token before the TTL the service answered with runs out, not after a refused GET", async () => {
    let now = Date.now();
    client = new ImdsClient(imds.endpoint, { now: () => now });
    imds.answerTokenRequests([{ grantSeconds: 600 }]);
    await client.spotNotice();
    expect(tokenPuts()[0]).toMatchObject({ status: 200 });

    now += 500_000;
    await client.spotNotice();
    expect(tokenPuts()).toHaveLength(1);

    now += 50_000; // 550 s: within the last minute of the 600 s granted
    await client.spotNotice();
    expect(tokenPuts()).toHaveLength(2);
    expect(gets().map((g) => g.status)).toEqual([404, 404, 404]);
  });

  it("looks the instance id up with a token of its own, so a shared token gone bad does not touch it", async () => {
    await client.spotNotice();
    const shared = tokenPuts()[0]!.token;
    imds.rejectIssuedTokens(403);

    await expect(client.instanceId()).resolves.toBe(INSTANCE_ID);
    expect(gets(ID_PATH)).toEqual([expect.objectContaining({ status: 200 })]);
    expect(gets(ID_PATH)[0]!.token).not.toBe(shared);
  });

  it("asks once for the instance id, however many callers want it, and then answers without IMDS", async () => {
    await expect(Promise.all([client.instanceId(), client.instanceId()])).resolves.toEqual([INSTANCE_ID, INSTANCE_ID]);
    imds.failEveryGet(500);
    await expect(client.instanceId()).resolves.toBe(INSTANCE_ID);
    expect(gets(ID_PATH)).toHaveLength(1);
  });
});

describe("terminateSelf with the IMDS client", () => {
  let imds: ImdsFake;
  let asg: AutoScalingFake;
  let autoScaling: AutoScalingClient;
  const warnings: string[] = [];
  const log: Logger = { info: () => undefined, warn: (event) => warnings.push(event), error: () => undefined };
  beforeEach(async () => {
    warnings.length = 0;
    imds = await ImdsFake.start({ instanceId: INSTANCE_ID });
    asg = await AutoScalingFake.start();
    asg.addGroup("yolo-train-nodes", [INSTANCE_ID]);
    autoScaling = new AutoScalingClient({
      region: "us-east-1",
      endpoint: asg.endpoint,
      credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" },
      maxAttempts: 1,
    });
  });
  afterEach(async () => {
    autoScaling.destroy();
    await Promise.all([imds.close(), asg.close()]);
  });

  it("looks the instance id up again with new tokens, with backoff, until IMDS gives one, and terminates that instance", async () => {
    const client = new ImdsClient(imds.endpoint);
    // Two tries' worth of token answers that are no token (two each: the first and the renewal).
    const garbage = { body: Buffer.from([0xde, 0xad, 0xbe, 0xef]) };
    imds.answerTokenRequests([garbage, garbage, garbage, garbage]);

    await terminateSelf(autoScaling, () => client.instanceId(), log, { maxAttempts: 5, baseMs: 10, capMs: 20 });

    expect(warnings).toEqual(["teardown-retry", "teardown-retry"]);
    expect(asg.terminations).toEqual([{ InstanceId: INSTANCE_ID, ShouldDecrementDesiredCapacity: "true" }]);
    expect(asg.desiredCapacity("yolo-train-nodes")).toBe(0);
  });
});
