import type { CliIo, Command } from "../cli.ts";
import type { StreamMessage } from "../client/mod.ts";
import { filtersFlag, listFlag, parseArgs, wholeNumberFlag } from "./args.ts";
import { CLIENT_FLAG_NAMES, CLIENT_FLAGS, clientFrom } from "./client-flags.ts";
import { ExitCode } from "./exit-codes.ts";

/** Like nats.go's 60 × 2 s: a restart or a network blip is ridden out, a broker gone for good is not. */
const DEFAULT_RECONNECTS = 30;

export const tailCommand: Command = {
  summary: "print live events as NDJSON (notices on stderr)",
  usage: `usage: broker tail [--types PATTERNS] [--filter JSON] [--since SEQ] [--count N] [--reconnects N]

  --types      comma list of type patterns (every type by default)
  --filter     an attribute filter, or an array of them, as JSON: '{"prefix":{"subject":"orders/"}}'
  --since      replay kept events after this seq first
  --count      stop after N events
  --reconnects failed reconnects in a row before giving up (${DEFAULT_RECONNECTS}); 0 = never reconnect
${CLIENT_FLAGS}

Events go to stdout, one JSON object a line; the broker's notices (dropped, gap, reset,
closing) to stderr as JSON lines, and the command's own messages as "broker tail: …".
Exits 3 when the broker cannot be reached, shuts down, or cannot be reconnected to.`,

  async run(argv: string[], io: CliIo): Promise<number> {
    const args = parseArgs(argv, { values: ["types", "filter", "since", "count", "reconnects", ...CLIENT_FLAG_NAMES] });
    const since = wholeNumberFlag(args, "since", 0);
    const count = wholeNumberFlag(args, "count", 1);
    const maxReconnects = wholeNumberFlag(args, "reconnects", 0) ?? DEFAULT_RECONNECTS;
    const controller = new AbortController();
    io.onInterrupt(() => controller.abort());
    const stream = clientFrom(args, io).stream({ types: listFlag(args, "types"), filters: filtersFlag(args), since, maxReconnects, signal: controller.signal });
    let printed = 0;
    let reconnecting = false;
    for await (const message of stream) {
      if (message.kind === "event") {
        io.stdout(`${JSON.stringify(message.event)}\n`);
        if (++printed === count) break;
      } else if (message.kind === "closing" && message.reason === "shutdown") {
        io.stderr(`broker tail: the broker is shutting down\n`);
        return ExitCode.unreachable;
      } else {
        io.stderr(noticeLine(message, reconnecting, maxReconnects));
        if (message.kind === "reconnecting" || message.kind === "subscribed") reconnecting = message.kind === "reconnecting";
      }
    }
    return ExitCode.ok;
  },
};

function noticeLine(message: Exclude<StreamMessage, { kind: "event" }>, reconnecting: boolean, maxReconnects: number): string {
  if (message.kind === "reconnecting") {
    const what = message.attempt === 1 ? "lost the connection" : "could not reconnect";
    return `broker tail: ${what} (${message.reason}); reconnecting in ${message.delayMs} ms (attempt ${message.attempt} of ${maxReconnects})\n`;
  }
  if (message.kind === "subscribed") return reconnecting ? "broker tail: reconnected\n" : "";
  return `${JSON.stringify(message)}\n`;
}
