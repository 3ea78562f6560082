import { abortIncompleteUploadsRule, expireNoncurrentVersionsRule } from "../../../components/storage/bucketLifecycle";

describe("lifecycle rules", () => {
  it("abort incomplete multipart uploads after the given days, for every object", () => {
    expect(abortIncompleteUploadsRule(1)).toEqual({
      id: "abort-incomplete-multipart-uploads",
      status: "Enabled",
      filter: {},
      abortIncompleteMultipartUpload: { daysAfterInitiation: 1 },
    });
  });

  it("expire noncurrent versions after the given days, then their orphaned delete markers", () => {
    expect(expireNoncurrentVersionsRule(30)).toEqual({
      id: "expire-noncurrent-versions",
      status: "Enabled",
      filter: {},
      noncurrentVersionExpiration: { noncurrentDays: 30 },
      expiration: { expiredObjectDeleteMarker: true },
    });
  });

  it.each([0, -1, 1.5, Number.NaN])("refuse %p days", (days) => {
    expect(() => abortIncompleteUploadsRule(days)).toThrow(/whole number/);
    expect(() => expireNoncurrentVersionsRule(days)).toThrow(/whole number/);
  });
});
