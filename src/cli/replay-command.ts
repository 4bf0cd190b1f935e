import { createReadStream } from "node:fs";
import type { CliIo, Command } from "../cli.ts";
import { parseArgs, UsageError, wholeNumberFlag } from "./args.ts";
import { CLIENT_FLAG_NAMES, CLIENT_FLAGS, targetFrom } from "./client-flags.ts";
import { linesOf } from "./lines.ts";
import { publishStream } from "./publish-command.ts";

export const replayCommand: Command = {
  summary: "publish a file of events (NDJSON), paced, keeping their id and source",
  usage: `usage: broker replay FILE [--rate N]

  --rate       events per second at most (as fast as the broker takes them by default)
${CLIENT_FLAGS}

Each line of FILE is an event, as \`broker export\` writes them: its \`id\` and \`source\` are
kept, so an event the broker accepted within its dedupe window (dedupeWindowMs, 2 minutes)
is told a duplicate, not accepted twice; its \`seq\` is the new broker's. The summary goes to
stdout, progress and refused lines (by number) to stderr. Exits 1 when a line was refused.`,

  async run(argv: string[], io: CliIo): Promise<number> {
    const args = parseArgs(argv, { values: ["rate", ...CLIENT_FLAG_NAMES], positionals: 1 });
    const [file] = args.positionals;
    if (file === undefined) throw new UsageError("name the FILE to replay");
    const rate = wholeNumberFlag(args, "rate", 1);
    const lines = linesOf(createReadStream(file));
    return await publishStream(targetFrom(args, io), io, rate === undefined ? lines : paced(lines, rate));
  },
};

/** The lines, at most `perSecond` of them a second. */
async function* paced(lines: AsyncIterable<string>, perSecond: number): AsyncIterable<string> {
  const started = Date.now();
  let sent = 0;
  for await (const line of lines) {
    const due = started + (sent * 1_000) / perSecond;
    if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
    sent++;
    yield line;
  }
}
