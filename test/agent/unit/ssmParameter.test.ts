import { createServer, type IncomingMessage } from "http";
import type { AddressInfo } from "net";
import type { Logger } from "../../../agent/log";
import { SSMClient } from "@aws-sdk/client-ssm";
import { readSecureParameter } from "../../../agent/ssmParameter";

const silent: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
const credentials = async () => ({ accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" });

describe("readSecureParameter", () => {
  /** A loopback SSM that answers GetParameter with the given status and body after `failures` 500s. */
  async function fakeSsm(answer: { status: number; body: unknown }, failures = 0) {
    const seen: Array<{ headers: IncomingMessage["headers"]; body: unknown }> = [];
    let remainingFailures = failures;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        seen.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString()) });
        if (remainingFailures-- > 0) {
          res.writeHead(500, { "content-type": "application/x-amz-json-1.1" }).end(JSON.stringify({ __type: "InternalServerError", message: "try again" }));
          return;
        }
        res.writeHead(answer.status, { "content-type": "application/x-amz-json-1.1" }).end(JSON.stringify(answer.body));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // The standard client, pointed at the fake as AWS_ENDPOINT_URL_SSM would point it.
    const client = new SSMClient({ region: "us-east-1", endpoint, credentials, maxAttempts: 1 });
    return { seen, endpoint, client, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  }

  it("asks for the decrypted parameter through the SSM client, SigV4-signed, and returns its value", async () => {
    const ssm = await fakeSsm({ status: 200, body: { Parameter: { Name: "/yolo/wandb", Type: "SecureString", Value: "0123456789abcdef", Version: 1 } } });
    try {
      const value = await readSecureParameter({ name: "/yolo/wandb", region: "us-east-1", log: silent, client: ssm.client });
      expect(value).toBe("0123456789abcdef");
      const request = ssm.seen[0];
      expect(request?.body).toEqual({ Name: "/yolo/wandb", WithDecryption: true });
      expect(request?.headers["x-amz-target"]).toBe("AmazonSSM.GetParameter");
      expect(request?.headers["content-type"]).toBe("application/x-amz-json-1.1");
      expect(request?.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/us-east-1\/ssm\/aws4_request, SignedHeaders=[^,]*x-amz-target[^,]*, Signature=[0-9a-f]{64}$/);
    } finally {
      await ssm.close();
    }
  });

  it("retries a server error", async () => {
    const ssm = await fakeSsm({ status: 200, body: { Parameter: { Value: "key" } } }, 1);
    try {
      await expect(readSecureParameter({ name: "p", region: "us-east-1", log: silent, client: ssm.client })).resolves.toBe("key");
      expect(ssm.seen).toHaveLength(2);
    } finally {
      await ssm.close();
    }
  });

  it("fails at once with the service's error name when the parameter does not exist", async () => {
    const ssm = await fakeSsm({ status: 400, body: { __type: "ParameterNotFound", message: "Parameter /nope not found." } });
    try {
      await expect(readSecureParameter({ name: "/nope", region: "us-east-1", log: silent, client: ssm.client })).rejects.toMatchObject({
        name: "ParameterNotFound",
      });
      expect(ssm.seen).toHaveLength(1);
    } finally {
      await ssm.close();
    }
  });
});
