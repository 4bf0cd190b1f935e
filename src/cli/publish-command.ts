import type { CliIo, Command } from "../cli.ts";
import { BrokerRequestError, type Problem } from "../client/mod.ts";
import { parseArgs, UsageError } from "./args.ts";
import { CLIENT_FLAG_NAMES, CLIENT_FLAGS, clientFrom, targetFrom } from "./client-flags.ts";

export const publishCommand: Command = {
  summary: "publish an event, or stream NDJSON from stdin",
  usage: `usage: broker publish TYPE [JSON]          one event, JSON as its data
       broker publish [TYPE] < events.ndjson  one line per event, streamed in one request

With TYPE, each stdin line is an event's data; without, each line is an event object.
Lines go out as they are read (tail -f app.log | broker publish app.log works), and the
broker accepts them as they arrive. Progress goes to stderr; the broker's summary to
stdout when stdin ends (or on Ctrl-C). Exits 1 when the broker refused a line.
${CLIENT_FLAGS}`,

  async run(argv: string[], io: CliIo): Promise<number> {
    const args = parseArgs(argv, { values: [...CLIENT_FLAG_NAMES], positionals: 2 });
    const [type, data] = args.positionals;
    if (data !== undefined) {
      const result = await clientFrom(args, io).publish({ type, data: parseData(data) });
      io.stdout(`${JSON.stringify(result)}\n`);
      return 0;
    }
    if (io.stdinIsTerminal) {
      if (type === undefined) throw new UsageError("name a TYPE, or pipe NDJSON events on stdin");
      io.stdout(`${JSON.stringify(await clientFrom(args, io).publish({ type }))}\n`);
      return 0;
    }
    return await publishStream(targetFrom(args, io), io, io.stdinLines(), type);
  },
};

/** What the broker answers when an NDJSON body ends. */
interface StreamSummary {
  readonly accepted: number;
  readonly first: number | null;
  readonly last: number | null;
  readonly duplicates: number;
  readonly rejected: number;
  readonly errors: readonly { line: number; errors: readonly { path: string; message: string }[] }[];
}

const utf8 = new TextEncoder();
const PROGRESS_EVERY_MS = 1_000;

/**
 * Streams `input` to `POST /events` as NDJSON, line for line, so line numbers in the answer
 * are the input's; with `type`, each line is an event's data.
 */
export async function publishStream(target: { url: string; token?: string }, io: CliIo, input: AsyncIterable<string>, type?: string): Promise<number> {
  const lines = new ReadyLines(input, (line) => (type === undefined ? line : asData(type, line)));
  const headers: Record<string, string> = { "content-type": "application/x-ndjson" };
  if (target.token) headers.authorization = `Bearer ${target.token}`;
  const response = await fetch(`${target.url}/events`, { method: "POST", headers, body: bodyOf(lines, io), duplex: "half" } as RequestInit);
  const answer = await response.json();
  if (!response.ok) {
    if (answer.summary) report(answer.summary, io);
    throw new BrokerRequestError(response.status, answer as Problem);
  }
  report(answer, io);
  return answer.rejected > 0 ? 1 : 0;
}

/** The request body: chunks of lines as they are read, progress on stderr; Ctrl-C ends it. */
function bodyOf(lines: ReadyLines, io: CliIo): ReadableStream<Uint8Array> {
  let closed = false;
  let lastReport = Date.now();
  const close = (controller: ReadableStreamDefaultController<Uint8Array>) => {
    if (!closed) controller.close();
    closed = true;
  };
  return new ReadableStream<Uint8Array>({
    start: (controller) => io.onInterrupt(() => close(controller)),
    async pull(controller) {
      const text = await lines.next();
      if (closed) return;
      if (text === undefined) return close(controller);
      controller.enqueue(utf8.encode(text));
      if (Date.now() - lastReport < PROGRESS_EVERY_MS) return;
      io.stderr(`sent ${lines.count} lines\n`);
      lastReport = Date.now();
    },
  }, { highWaterMark: 0 });
}

function report(summary: StreamSummary, io: CliIo): void {
  for (const { line, errors } of summary.errors) {
    io.stderr(`line ${line}: ${errors.map(({ path, message }) => (path ? `${path} ${message}` : message)).join("; ")}\n`);
  }
  const seqs = summary.first === null ? "" : ` (seq ${summary.first}-${summary.last})`;
  io.stderr(`published ${summary.accepted} events${seqs}, ${summary.duplicates} duplicates, ${summary.rejected} lines refused\n`);
  io.stdout(`${JSON.stringify(summary)}\n`);
}

/** `{"type":TYPE,"data":LINE}`; a line that is not JSON goes as it is, for the broker to report by its number. */
function asData(type: string, line: string): string {
  if (line.trim() === "") return line;
  try {
    return JSON.stringify({ type, data: JSON.parse(line) });
  } catch {
    return line;
  }
}

function parseData(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(`the JSON argument is not JSON: ${text.slice(0, 80)}`);
  }
}

const NOT_READY = Symbol("not ready");
/** Most text in one chunk of the request body. */
const CHUNK_CHARS = 65_536;

/**
 * Lines as chunks of text: each chunk holds every line already read (up to `CHUNK_CHARS`),
 * so a file goes out in large writes and a slow pipe a line at a time, without delay.
 */
class ReadyLines {
  readonly #lines: AsyncIterator<string>;
  readonly #encode: (line: string) => string;
  /** A read that was not ready when a chunk was cut: its line starts the next chunk. */
  #pending: Promise<IteratorResult<string>> | undefined;
  #ended = false;
  /** Lines handed out so far. */
  count = 0;

  constructor(lines: AsyncIterable<string>, encode: (line: string) => string) {
    this.#lines = lines[Symbol.asyncIterator]();
    this.#encode = encode;
  }

  /** The next chunk, or undefined at the end. */
  async next(): Promise<string | undefined> {
    let text = "";
    while (text.length < CHUNK_CHARS && !this.#ended) {
      const read = this.#pending ?? this.#lines.next();
      this.#pending = undefined;
      // An already settled read wins the race; a pending one is kept for the next chunk.
      const result = text === "" ? await read : await Promise.race<IteratorResult<string> | typeof NOT_READY>([read, NOT_READY]);
      if (result === NOT_READY) {
        this.#pending = read;
        break;
      }
      if (result.done) {
        this.#ended = true;
        break;
      }
      text += `${this.#encode(result.value)}\n`;
      this.count++;
    }
    return text === "" ? undefined : text;
  }
}
