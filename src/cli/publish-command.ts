import type { CliIo, Command } from "../cli.ts";
import type { BrokerClient, EventToPublish } from "../client/mod.ts";
import { parseArgs, UsageError, wholeNumberFlag } from "./args.ts";
import { CLIENT_FLAG_NAMES, CLIENT_FLAGS, clientFrom } from "./client-flags.ts";

export const publishCommand: Command = {
  summary: "publish an event, or NDJSON from stdin in batches",
  usage: `usage: broker publish TYPE [JSON]          one event, JSON as its data
       broker publish [TYPE] < events.ndjson  one line per event, sent in batches

With TYPE, each stdin line is an event's data; without, each line is an event object.
  --batch      events per request (500)
${CLIENT_FLAGS}`,

  async run(argv: string[], io: CliIo): Promise<number> {
    const args = parseArgs(argv, { values: ["batch", ...CLIENT_FLAG_NAMES], positionals: 2 });
    const [type, data] = args.positionals;
    const client = clientFrom(args, io);
    if (data !== undefined) {
      const result = await client.publish({ type, data: parseLine(data, "the JSON argument") });
      io.stdout(`${JSON.stringify(result)}\n`);
      return 0;
    }
    if (io.stdinIsTerminal) {
      if (type === undefined) throw new UsageError("name a TYPE, or pipe NDJSON events on stdin");
      io.stdout(`${JSON.stringify(await client.publish({ type }))}\n`);
      return 0;
    }
    await publishLines(client, io, type, wholeNumberFlag(args, "batch", 1) ?? 500);
    return 0;
  },
};

async function publishLines(client: BrokerClient, io: CliIo, type: string | undefined, batchSize: number): Promise<void> {
  let batch: EventToPublish[] = [];
  let published = 0;
  let lineNumber = 0;
  let lastReport = Date.now();
  const flush = async () => {
    if (batch.length === 0) return;
    published += (await client.publish(batch)).accepted;
    batch = [];
    if (Date.now() - lastReport >= 1_000) {
      io.stderr(`published ${published} events\n`);
      lastReport = Date.now();
    }
  };
  for await (const line of io.stdinLines()) {
    lineNumber++;
    if (line.trim() === "") continue;
    const value = parseLine(line, `line ${lineNumber}`);
    batch.push(type === undefined ? (value as EventToPublish) : { type, data: value });
    if (batch.length >= batchSize) await flush();
  }
  await flush();
  io.stderr(`published ${published} events\n`);
}

function parseLine(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(`${where} is not JSON: ${text.slice(0, 80)}`);
  }
}
