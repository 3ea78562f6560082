import fc from "fast-check";
import {
  edgeReadPolicyDocument,
  type PolicyStatement,
  readOnlyStatements,
  tlsOnlyBucketPolicy,
} from "../../../components/storage/bucketPolicies";

const ARN = "arn:aws:s3:::yolo-ota-0a1b2c3";
const asList = (v: string | readonly string[]) => (typeof v === "string" ? [v] : [...v]);

const bucketName = fc.stringMatching(/^[a-z0-9][a-z0-9-]{1,40}[a-z0-9]$/);
const prefix = fc
  .array(fc.stringMatching(/^[A-Za-z0-9_()!-]{1,12}$/), { minLength: 1, maxLength: 4 })
  .map((segments) => `${segments.join("/")}/`);

describe("the TLS-only bucket policy", () => {
  it("denies any request without TLS to the bucket and to every object", () => {
    const doc = tlsOnlyBucketPolicy(ARN);
    expect(doc.Version).toBe("2012-10-17");
    expect(doc.Statement).toHaveLength(1);
    const s = doc.Statement[0]!;
    expect(s.Effect).toBe("Deny");
    expect(s.Principal).toBe("*");
    expect(s.Action).toBe("s3:*");
    expect(asList(s.Resource).sort()).toEqual([ARN, `${ARN}/*`]);
    expect(s.Condition).toEqual({ Bool: { "aws:SecureTransport": "false" } });
  });

  it("survives JSON rendering unchanged", () => {
    expect(JSON.parse(JSON.stringify(tlsOnlyBucketPolicy(ARN)))).toEqual(tlsOnlyBucketPolicy(ARN));
  });
});

describe("read-only statements for a prefix", () => {
  it("allow getting objects under the prefix and listing only that prefix", () => {
    const [get, list] = readOnlyStatements("arn:aws:s3:::data-1", "datasets/");
    expect(get).toEqual({ Sid: "ReadObjects", Effect: "Allow", Action: ["s3:GetObject"], Resource: "arn:aws:s3:::data-1/datasets/*" });
    expect(list).toEqual({
      Sid: "ReadListPrefix",
      Effect: "Allow",
      Action: "s3:ListBucket",
      Resource: "arn:aws:s3:::data-1",
      Condition: { StringLike: { "s3:prefix": ["datasets/*"] } },
    });
  });

  it("add object versions only when asked", () => {
    expect(readOnlyStatements(ARN, "models/", { objectVersions: true })[0]!.Action).toEqual(["s3:GetObject", "s3:GetObjectVersion"]);
  });

  it.each([
    ["*", "datasets/"],
    ["arn:aws:s3:::*", "datasets/"],
    ["arn:aws:s3:::bucket/key", "datasets/"],
    ["arn:aws:iam::123456789012:role/x", "datasets/"],
    [ARN, "*"],
    [ARN, ""],
    [ARN, "datasets"],
    [ARN, "/datasets/"],
  ])("refuse bucket ARN %j with prefix %j rather than widen the grant", (arn, p) => {
    expect(() => readOnlyStatements(arn, p)).toThrow();
  });

  it("work in other partitions", () => {
    expect(readOnlyStatements("arn:aws-cn:s3:::data-1", "datasets/")[0]!.Resource).toBe("arn:aws-cn:s3:::data-1/datasets/*");
  });
});

describe("the edge devices' policy", () => {
  const READ_ACTIONS = new Set(["s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"]);

  it("grants only reads under the models prefix of the OTA bucket", () => {
    fc.assert(
      fc.property(bucketName, prefix, (name, modelsPrefix) => {
        const arn = `arn:aws:s3:::${name}`;
        const doc = JSON.parse(JSON.stringify(edgeReadPolicyDocument(arn, modelsPrefix))) as { Statement: PolicyStatement[] };
        for (const s of doc.Statement) {
          expect(s.Effect).toBe("Allow");
          for (const action of asList(s.Action)) expect(READ_ACTIONS.has(action)).toBe(true);
          for (const resource of asList(s.Resource)) {
            expect(resource).not.toBe("*");
            expect([arn, `${arn}/${modelsPrefix}*`]).toContain(resource);
          }
          if (asList(s.Action).includes("s3:ListBucket")) {
            expect(s.Condition).toEqual({ StringLike: { "s3:prefix": [`${modelsPrefix}*`] } });
          }
        }
        const actions = doc.Statement.flatMap((s) => asList(s.Action)).sort();
        expect(actions).toEqual(["s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"]);
      }),
    );
  });

  it("contains no write, delete or wildcard action", () => {
    const actions = edgeReadPolicyDocument(ARN, "models/").Statement.flatMap((s) => asList(s.Action));
    for (const a of actions) expect(a).not.toMatch(/Put|Delete|Write|Create|Restore|\*/);
  });
});
