import { Readable } from "stream";
import { AwsChunkedDecoder, runningChecksum } from "./s3Checksums";

const digest = (name: string, text: string): string | undefined => {
  const sum = runningChecksum(name);
  sum?.update(Buffer.from(text));
  return sum?.digest();
};

describe("S3 checksums", () => {
  it.each([
    // The standard check values of "123456789".
    ["crc32", Buffer.from("cbf43926", "hex").toString("base64")],
    ["crc32c", Buffer.from("e3069283", "hex").toString("base64")],
    ["sha256", "FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU="],
  ])("computes %s as S3 reports it (base64)", (name, expected) => {
    expect(digest(name, "123456789")).toBe(expected);
  });

  it("leaves algorithms it does not check (crc64nvme) to the caller", () => {
    expect(runningChecksum("crc64nvme")).toBeUndefined();
  });
});

describe("AwsChunkedDecoder", () => {
  it("yields the payload of signed and unsigned chunks and keeps the trailers", async () => {
    const body = "5;chunk-signature=ab\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n";
    const decoder = new AwsChunkedDecoder();
    const chunks: Buffer[] = [];
    // Fed a few bytes at a time, as a socket would.
    const pieces = Buffer.from(body).toString("latin1").match(/[\s\S]{1,3}/g)!.map((p) => Buffer.from(p, "latin1"));
    for await (const chunk of Readable.from(pieces).pipe(decoder)) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe("hello world");
    expect(decoder.trailers).toEqual({ "x-amz-checksum-crc32": "DUoRhQ==" });
  });
});
