import type { CliIo, Command } from "../cli.ts";
import { listFlag, parseArgs, UsageError } from "./args.ts";
import { CLIENT_FLAGS, clientFrom } from "./client-flags.ts";

export const tailCommand: Command = {
  summary: "print live events as NDJSON (notices on stderr)",
  usage: `usage: broker tail [--types PATTERNS] [--since SEQ] [--count N]

  --types      comma list of type patterns (every type by default)
  --since      replay kept events after this seq first
  --count      stop after N events
${CLIENT_FLAGS}`,

  async run(argv: string[], io: CliIo): Promise<number> {
    const args = parseArgs(argv);
    const since = optionalCount(args.flags.get("since"), "--since");
    const count = optionalCount(args.flags.get("count"), "--count");
    const controller = new AbortController();
    io.onInterrupt(() => controller.abort());
    let printed = 0;
    for await (const message of clientFrom(args, io).stream({ types: listFlag(args, "types"), since, signal: controller.signal })) {
      if (message.kind !== "event") {
        io.stderr(`${JSON.stringify(message)}\n`);
        continue;
      }
      io.stdout(`${JSON.stringify(message.event)}\n`);
      if (++printed === count) break;
    }
    return 0;
  },
};

function optionalCount(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < 0) throw new UsageError(`${flag} must be a whole number`);
  return number;
}
