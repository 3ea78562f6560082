import type { S3Client } from "@aws-sdk/client-s3";

/**
 * Holds back every PutObject of the given clients until each of them has had its first GetObject
 * answered (with an object or an error). Racing writers then all write on the version they read
 * before any of them wrote, so S3 alone decides which conditional write goes first: the race a
 * test of conditional writes is about, however the machine schedules the clients.
 */
export function firstReadsBeforeWrites(clients: readonly S3Client[]): void {
  const reads = clients.map(() => {
    let answered!: () => void;
    return { done: new Promise<void>((resolve) => (answered = resolve)), answered: () => answered() };
  });
  const allRead = Promise.all(reads.map((read) => read.done));
  clients.forEach((client, i) =>
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === "PutObjectCommand") await allRead;
        try {
          return await next(args);
        } finally {
          // Resolving again on later reads changes nothing.
          if (context.commandName === "GetObjectCommand") reads[i]!.answered();
        }
      },
      { step: "initialize", name: "firstReadsBeforeWrites" },
    ),
  );
}
