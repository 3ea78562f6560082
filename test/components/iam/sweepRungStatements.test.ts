import { sweepRungStatements } from "../../../components/iam/grantStatements";

const BUCKET = "arn:aws:s3:::yolo-train-dev-artifacts";

describe("sweepRungStatements", () => {
  it("grants get and put on the sweep's prefix only, and a list limited to it", () => {
    expect(sweepRungStatements(BUCKET, "sweep-widgets")).toEqual([
      { Sid: "ListSweepRungs", Effect: "Allow", Action: ["s3:ListBucket"], Resource: BUCKET, Condition: { StringLike: { "s3:prefix": ["sweeps/sweep-widgets/", "sweeps/sweep-widgets/*"] } } },
      { Sid: "ReadWriteSweepRungs", Effect: "Allow", Action: ["s3:GetObject", "s3:PutObject"], Resource: `${BUCKET}/sweeps/sweep-widgets/*` },
    ]);
  });

  it("never grants deletes, versions or anything outside sweeps/<sweepId>/", () => {
    for (const statement of sweepRungStatements(BUCKET, "s1")) {
      expect(statement.Action.filter((a) => /Delete|Version|\*/.test(a))).toEqual([]);
      const resources = ([] as string[]).concat(statement.Resource);
      for (const resource of resources) expect(resource === BUCKET || resource.startsWith(`${BUCKET}/sweeps/s1/`)).toBe(true);
    }
  });

  it.each(["", "*", "a/b", "../runs"])("refuses the sweep id %j", (sweepId) => {
    expect(() => sweepRungStatements(BUCKET, sweepId)).toThrow(/sweepId/);
  });

  it("refuses a bucket ARN that is not one, naming every problem at once", () => {
    expect(() => sweepRungStatements("arn:aws:s3:::*", "")).toThrow(/artifactBucketArn[\s\S]*sweepId/);
  });
});
