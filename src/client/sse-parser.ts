/** One Server-Sent Events message (or a comment, such as `: ping`). */
export interface SseMessage {
  event?: string;
  id?: string;
  data: string;
  retry?: number;
  comment?: string;
}

/**
 * Parses an event stream incrementally, as the HTML standard's EventSource does:
 * lines end with CR, LF or CRLF; a blank line ends a message.
 */
export class SseParser {
  #buffer = "";
  #message: SseMessage = { data: "" };
  #data: string[] = [];
  #seen = false;

  /** Feeds decoded text; returns the messages it completed. */
  feed(text: string): SseMessage[] {
    let input = this.#buffer + text;
    // A trailing CR may be half of a CRLF still in flight: hold it back.
    const heldCr = input.endsWith("\r") ? "\r" : "";
    if (heldCr) input = input.slice(0, -1);
    const done: SseMessage[] = [];
    const lines = input.split(/\r\n|\r|\n/);
    this.#buffer = (lines.pop() ?? "") + heldCr;
    for (const line of lines) {
      if (line === "") {
        if (this.#seen) done.push(this.#finish());
        continue;
      }
      this.#field(line);
    }
    return done;
  }

  #field(line: string): void {
    this.#seen = true;
    if (line.startsWith(":")) {
      this.#message.comment = line.slice(1).trim();
      return;
    }
    const colon = line.indexOf(":");
    const name = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (name === "data") this.#data.push(value);
    else if (name === "event") this.#message.event = value;
    else if (name === "id") this.#message.id = value;
    else if (name === "retry" && /^\d+$/.test(value)) this.#message.retry = Number(value);
  }

  #finish(): SseMessage {
    const message = { ...this.#message, data: this.#data.join("\n") };
    this.#message = { data: "" };
    this.#data = [];
    this.#seen = false;
    return message;
  }
}
