/** One parsed Server-Sent Events message. */
export interface SseMessage {
  event?: string;
  id?: string;
  data: string;
  retry?: number;
  comment?: string;
}

/** Reads SSE messages (and comments) from a response body as they arrive. */
export class SseReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #decoder = new TextDecoder();
  #text = "";
  /** Every raw byte read so far, decoded. */
  raw = "";

  constructor(body: ReadableStream<Uint8Array>) {
    this.#reader = body.getReader();
  }

  /** The next message, or null when the stream ended. */
  async next(): Promise<SseMessage | null> {
    for (;;) {
      const end = this.#text.indexOf("\n\n");
      if (end !== -1) {
        const block = this.#text.slice(0, end);
        this.#text = this.#text.slice(end + 2);
        return parseBlock(block);
      }
      const { done, value } = await this.#reader.read();
      if (done) return null;
      const text = this.#decoder.decode(value, { stream: true });
      this.raw += text;
      this.#text += text;
    }
  }

  /** Messages until `stop` says so (inclusive), failing after `timeoutMs`. */
  async until(stop: (message: SseMessage) => boolean, timeoutMs = 3_000): Promise<SseMessage[]> {
    const messages: SseMessage[] = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no matching message within ${timeoutMs} ms; got ${JSON.stringify(messages)}`)), timeoutMs);
    });
    try {
      for (;;) {
        const message = await Promise.race([this.next(), timeout]);
        if (message === null) throw new Error(`stream ended; got ${JSON.stringify(messages)}`);
        messages.push(message);
        if (stop(message)) return messages;
      }
    } finally {
      clearTimeout(timer);
    }
  }

  cancel(): Promise<void> {
    return this.#reader.cancel();
  }
}

function parseBlock(block: string): SseMessage {
  const message: SseMessage = { data: "" };
  const data: string[] = [];
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) message.comment = line.slice(1).trim();
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "data") data.push(value);
    else if (field === "event") message.event = value;
    else if (field === "id") message.id = value;
    else if (field === "retry") message.retry = Number(value);
  }
  message.data = data.join("\n");
  return message;
}

/** Whether a message is an event (unnamed, as EventSource.onmessage sees it). */
export const isEvent = (message: SseMessage) => message.event === undefined && message.data !== "" && message.comment === undefined;
