/**
 * Splits a byte stream into lines (`\n` or `\r\n`), numbered from 1 as they come. Holds at
 * most the current partial line, itself at most `maxLineBytes` (+1 for a `\r`): a longer
 * line is dropped byte by byte to its end and reported as too large, never held.
 */
import type { FieldIssue } from "../src/broker/mod.ts";

/** A complete line as text, or why it could not be read. */
export type Line =
  | { readonly number: number; readonly text: string; readonly bytes: number }
  | { readonly number: number; readonly status: 400 | 413; readonly issue: FieldIssue };

const LF = 0x0a;
const CR = 0x0d;

export class LineSplitter {
  readonly #maxLineBytes: number;
  readonly #decoder = new TextDecoder("utf-8", { fatal: true });
  #pieces: Uint8Array[] = [];
  #size = 0;
  /** The current line passed the limit: the rest of it is dropped as it comes. */
  #skipping = false;
  #number = 0;

  constructor(maxLineBytes: number) {
    this.#maxLineBytes = maxLineBytes;
  }

  /** Bytes of the current partial line held, at most `maxLineBytes` + 1. */
  get heldBytes(): number {
    return this.#size;
  }

  /** The lines `chunk` completes, one at a time: a caller may stop between them. */
  *push(chunk: Uint8Array): Generator<Line> {
    let start = 0;
    for (let end = chunk.indexOf(LF); end !== -1; end = chunk.indexOf(LF, start)) {
      yield this.#finish(chunk.subarray(start, end));
      start = end + 1;
    }
    this.#hold(chunk.subarray(start));
  }

  /** The last line, when the body ends without a line break after it. */
  *end(): Generator<Line> {
    if (this.#size > 0 || this.#skipping) yield this.#finish(new Uint8Array(0));
  }

  #hold(bytes: Uint8Array): void {
    if (this.#skipping || bytes.length === 0) return;
    if (this.#size + bytes.length > this.#maxLineBytes + 1) return this.#skip();
    this.#pieces.push(bytes.slice()); // a copy: a view would keep the runtime's whole chunk alive
    this.#size += bytes.length;
  }

  #skip(): void {
    this.#skipping = true;
    this.#pieces = [];
    this.#size = 0;
  }

  #finish(tail: Uint8Array): Line {
    const number = ++this.#number;
    if (this.#size + tail.length > this.#maxLineBytes + 1) this.#skip();
    const skipped = this.#skipping;
    const bytes = skipped ? new Uint8Array(0) : this.#joined(tail);
    this.#pieces = [];
    this.#size = 0;
    this.#skipping = false;
    const length = bytes.at(-1) === CR ? bytes.length - 1 : bytes.length;
    if (skipped || length > this.#maxLineBytes) {
      return { number, status: 413, issue: { path: "", message: `is longer than ${this.#maxLineBytes} bytes (maxBodyBytes bounds each line)` } };
    }
    try {
      return { number, text: this.#decoder.decode(bytes.subarray(0, length)), bytes: length };
    } catch {
      return { number, status: 400, issue: { path: "", message: "is not valid UTF-8" } };
    }
  }

  #joined(tail: Uint8Array): Uint8Array {
    if (this.#pieces.length === 0) return tail;
    const bytes = new Uint8Array(this.#size + tail.length);
    let offset = 0;
    for (const piece of [...this.#pieces, tail]) {
      bytes.set(piece, offset);
      offset += piece.length;
    }
    return bytes;
  }
}
