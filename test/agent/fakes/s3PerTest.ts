import { S3Client } from "@aws-sdk/client-s3";
import { S3Fake, S3RVER_CREDENTIALS } from "./s3Fake";

/** What an agent's S3 client in a unit test may differ in. */
export interface AgentClientOptions {
  /** SDK tries per request; 1 makes an injected 5xx surface at once. */
  readonly maxAttempts?: number;
  /** Gives up on a connection idle this long awaiting an answer (the SDK then retries the request). */
  readonly socketTimeoutMs?: number;
}

/**
 * One S3 (s3rver behind the fault proxy) for a test file, with the jest hooks that start it, clear
 * injected faults and the clients after each test, and close it; and fresh run ids, so each test
 * has its own keys. Call at the top of a file or describe block.
 */
export function s3ForTests(bucket: string): { readonly s3: () => S3Fake; readonly agentClient: (options?: AgentClientOptions) => S3Client; readonly nextRunId: () => string } {
  let s3: S3Fake | undefined;
  const clients: S3Client[] = [];
  let runs = 0;
  beforeAll(async () => {
    s3 = await S3Fake.start([bucket]);
  });
  afterEach(() => {
    s3?.proxy.injectFaults([]);
    for (const client of clients.splice(0)) client.destroy();
  });
  afterAll(async () => {
    await s3?.close();
  });
  const started = (): S3Fake => {
    if (s3 === undefined) throw new Error("S3 is not started yet: use it inside a test");
    return s3;
  };
  return {
    s3: started,
    /** An S3 client of one agent, through the proxy, destroyed after the test. */
    agentClient: (options = {}) => {
      const client = new S3Client({
        region: "us-east-1",
        endpoint: started().endpoint,
        forcePathStyle: true,
        credentials: S3RVER_CREDENTIALS,
        ...(options.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {}),
        ...(options.socketTimeoutMs !== undefined ? { requestHandler: { socketTimeout: options.socketTimeoutMs } } : {}),
      });
      clients.push(client);
      return client;
    },
    nextRunId: () => `run-${++runs}`,
  };
}
