import type { CliIo, Command } from "../cli.ts";
import { filtersFlag, listFlag, parseArgs, wholeNumberFlag } from "./args.ts";
import { CLIENT_FLAG_NAMES, CLIENT_FLAGS, clientFrom } from "./client-flags.ts";
import { ExitCode } from "./exit-codes.ts";

const PAGE = 1_000;
const PROGRESS_EVERY_MS = 1_000;

export const exportCommand: Command = {
  summary: "write the broker's kept events as NDJSON",
  usage: `usage: broker export [--since SEQ] [--types PATTERNS] [--filter JSON]

  --since      events after this seq (0: from the oldest kept)
  --types      comma list of type patterns (every type by default)
  --filter     an attribute filter, or an array of them, as JSON
${CLIENT_FLAGS}

Writes each kept event (its JSON, with its seq) on a line of stdout, oldest first, up to
the last seq at the start; progress and any seqs no longer kept go to stderr. A durable
broker keeps retainEvents events; one in memory, its history window (historySize).`,

  async run(argv: string[], io: CliIo): Promise<number> {
    const args = parseArgs(argv, { values: ["since", "types", "filter", ...CLIENT_FLAG_NAMES] });
    const client = clientFrom(args, io);
    const selection = { types: listFlag(args, "types"), filters: filtersFlag(args) };
    let after = wholeNumberFlag(args, "since", 0) ?? 0;
    let until: number | undefined;
    let written = 0;
    let lastReport = Date.now();
    while (until === undefined || after < until) {
      const page = await client.read({ after, limit: PAGE, ...selection });
      until ??= page.lastSeq;
      if (page.gap) io.stderr(`broker export: seqs ${page.gap.from}-${page.gap.to} are no longer kept\n`);
      for (const event of page.events) if (event.seq <= until) io.stdout(`${JSON.stringify(event)}\n`), written++;
      if (page.through <= after) break;
      after = page.through;
      if (Date.now() - lastReport >= PROGRESS_EVERY_MS) {
        io.stderr(`broker export: ${written} events, through seq ${Math.min(after, until)} of ${until}\n`);
        lastReport = Date.now();
      }
    }
    io.stderr(`broker export: ${written} events\n`);
    return ExitCode.ok;
  },
};
