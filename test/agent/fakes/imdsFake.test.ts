import { ImdsFake } from "./imdsFake";

let imds: ImdsFake;
beforeEach(async () => {
  imds = await ImdsFake.start({ instanceId: "i-0fedcba9876543210" });
});
afterEach(async () => imds.close());

async function token(ttl = "21600"): Promise<string> {
  const answer = await fetch(`${imds.endpoint}/latest/api/token`, { method: "PUT", headers: { "X-aws-ec2-metadata-token-ttl-seconds": ttl } });
  expect(answer.status).toBe(200);
  expect(answer.headers.get("x-aws-ec2-metadata-token-ttl-seconds")).toBe(ttl);
  return answer.text();
}

function get(path: string, withToken?: string): Promise<Response> {
  return fetch(`${imds.endpoint}${path}`, { headers: withToken ? { "X-aws-ec2-metadata-token": withToken } : {} });
}

describe("ImdsFake", () => {
  it("answers metadata only to requests carrying a token from PUT /latest/api/token", async () => {
    expect((await get("/latest/meta-data/instance-id")).status).toBe(401);
    expect((await get("/latest/meta-data/instance-id", "not-a-token")).status).toBe(401);
    const answer = await get("/latest/meta-data/instance-id", await token());
    expect(answer.status).toBe(200);
    expect(await answer.text()).toBe("i-0fedcba9876543210");
  });

  it.each([["0"], ["21601"], ["soon"]])("refuses a token request with TTL %s", async (ttl) => {
    const answer = await fetch(`${imds.endpoint}/latest/api/token`, { method: "PUT", headers: { "X-aws-ec2-metadata-token-ttl-seconds": ttl } });
    expect(answer.status).toBe(400);
  });

  it("refuses a token requested with GET (IMDSv2 tokens come from PUT)", async () => {
    expect((await fetch(`${imds.endpoint}/latest/api/token`)).status).toBe(405);
  });

  it("tolerates '//' in paths, as from an endpoint with a trailing slash", async () => {
    const answer = await fetch(`${imds.endpoint}//latest//meta-data/instance-id`, { headers: { "X-aws-ec2-metadata-token": await token() } });
    expect(await answer.text()).toBe("i-0fedcba9876543210");
    expect(imds.requests.at(-1)).toMatchObject({ rawPath: "//latest//meta-data/instance-id", path: "/latest/meta-data/instance-id", status: 200 });
  });

  it("answers 404 at spot/instance-action until a notice is triggered, then the notice for two minutes ahead", async () => {
    const t = await token();
    expect((await get("/latest/meta-data/spot/instance-action", t)).status).toBe(404);
    expect(imds.spotNoticeTimes.firstServedAt).toBeUndefined();

    const before = Date.now();
    imds.triggerSpotNotice();
    const answer = await get("/latest/meta-data/spot/instance-action", t);
    expect(answer.status).toBe(200);
    const notice = (await answer.json()) as { action: string; time: string };
    expect(notice.action).toBe("terminate");
    expect(notice.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const inSeconds = (Date.parse(notice.time) - before) / 1000;
    expect(inSeconds).toBeGreaterThan(115);
    expect(inSeconds).toBeLessThanOrEqual(121);
    expect(await (await get("/latest/meta-data/spot/termination-time", t)).text()).toBe(notice.time);
    expect(imds.spotNoticeTimes.firstServedAt).toBeGreaterThanOrEqual(before);

    imds.clearSpotNotice();
    expect((await get("/latest/meta-data/spot/instance-action", t)).status).toBe(404);
  });

  it("misbehaves on request: scripted token answers, tokens that go bad, every GET failing", async () => {
    imds.answerTokenRequests([{ body: Buffer.from([0xff, 0x00]) }, { grantSeconds: 60 }]);
    const garbage = await fetch(`${imds.endpoint}/latest/api/token`, { method: "PUT", headers: { "X-aws-ec2-metadata-token-ttl-seconds": "21600" } });
    expect(Buffer.from(await garbage.arrayBuffer())).toEqual(Buffer.from([0xff, 0x00]));
    const short = await fetch(`${imds.endpoint}/latest/api/token`, { method: "PUT", headers: { "X-aws-ec2-metadata-token-ttl-seconds": "21600" } });
    expect(short.headers.get("x-aws-ec2-metadata-token-ttl-seconds")).toBe("60");
    const old = await short.text();
    expect((await get("/latest/meta-data/instance-id", old)).status).toBe(200);

    imds.rejectIssuedTokens(403);
    expect((await get("/latest/meta-data/instance-id", old)).status).toBe(403);
    const fresh = await token();
    expect((await get("/latest/meta-data/instance-id", fresh)).status).toBe(200);

    imds.failEveryGet("hang-up");
    await expect(get("/latest/meta-data/instance-id", fresh)).rejects.toThrow("fetch failed");
    imds.failEveryGet(undefined);
    expect((await get("/latest/meta-data/instance-id", fresh)).status).toBe(200);
    expect(imds.requests.filter((r) => r.method === "GET").map((r) => [r.status, r.token === old ? "old" : "fresh"])).toEqual([
      [200, "old"],
      [403, "old"],
      [200, "fresh"],
      [0, "fresh"],
      [200, "fresh"],
    ]);
  });

  it("serves the instance identity document with the instance id and region", async () => {
    const answer = await get("/latest/dynamic/instance-identity/document", await token());
    expect(await answer.json()).toMatchObject({ instanceId: "i-0fedcba9876543210", region: "us-east-1" });
  });
});
