import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { isS3NotFound, readS3Text } from "../../../agent/s3Text";

/** An S3 client whose every send answers with `answer` (or throws it, when it is an error). */
function clientAnswering(answer: unknown): { client: S3Client; sent: unknown[] } {
  const sent: unknown[] = [];
  const client = {
    send: async (command: unknown) => {
      sent.push(command);
      if (answer instanceof Error) throw answer;
      return answer;
    },
  } as unknown as S3Client;
  return { client, sent };
}

const s3Error = (name: string, status?: number): Error => Object.assign(new Error(name), { name, ...(status !== undefined ? { $metadata: { httpStatusCode: status } } : {}) });

describe("readS3Text", () => {
  it("returns the object's body as text, asking for the given bucket and key", async () => {
    const { client, sent } = clientAnswering({ Body: { transformToString: async (encoding?: string) => `{"a":1} (${encoding})` } });
    expect(await readS3Text(client, "b", "sweeps/s/state.json")).toBe('{"a":1} (utf8)');
    expect(sent).toHaveLength(1);
    expect(sent[0]).toBeInstanceOf(GetObjectCommand);
    expect((sent[0] as GetObjectCommand).input).toEqual({ Bucket: "b", Key: "sweeps/s/state.json" });
  });

  it("returns null for a key that does not exist", async () => {
    expect(await readS3Text(clientAnswering(s3Error("NoSuchKey", 404)).client, "b", "k")).toBeNull();
    expect(await readS3Text(clientAnswering(s3Error("Unknown", 404)).client, "b", "k")).toBeNull();
  });

  it("throws any other failure", async () => {
    await expect(readS3Text(clientAnswering(s3Error("AccessDenied", 403)).client, "b", "k")).rejects.toThrow("AccessDenied");
  });
});

describe("isS3NotFound", () => {
  it("is NoSuchKey, NotFound or a 404, nothing else", () => {
    expect(isS3NotFound(s3Error("NoSuchKey"))).toBe(true);
    expect(isS3NotFound(s3Error("NotFound"))).toBe(true);
    expect(isS3NotFound(s3Error("Whatever", 404))).toBe(true);
    expect(isS3NotFound(s3Error("AccessDenied", 403))).toBe(false);
    expect(isS3NotFound(undefined)).toBe(false);
    expect(isS3NotFound(null)).toBe(false);
  });
});
