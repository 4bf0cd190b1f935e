import type { CliIo, Command } from "../cli.ts";
import { typePatternsSchema } from "../broker/mod.ts";
import { listFlag, type ParsedArgs, parseArgs, UsageError, wholeNumberFlag } from "./args.ts";
import { mintToken } from "./token.ts";

export const tokenCommand: Command = {
  summary: "mint an access token (needs BROKER_JWT_SECRET)",
  usage: `usage: broker token --sub NAME [--publish PATTERNS] [--subscribe PATTERNS] [--ttl SECONDS]

  --sub        who the token is for; owns the subscriptions it creates
  --publish    comma list of type patterns it may publish (none by default)
  --subscribe  comma list of type patterns it may subscribe to (none by default)
  --ttl        lifetime in seconds (3600; 0 = never expires)

A pattern is "*", an event type, or an event type followed by ".*" (order.*).
The secret is read from BROKER_JWT_SECRET. Example:
  BROKER_JWT_SECRET=… broker token --sub dashboard --subscribe 'order.*,trade.*' --ttl 86400`,

  async run(argv: string[], io: CliIo): Promise<number> {
    const args = parseArgs(argv, { values: ["sub", "publish", "subscribe", "ttl"] });
    const secret = io.env.BROKER_JWT_SECRET;
    if (!secret) throw new UsageError("BROKER_JWT_SECRET is not set");
    const sub = args.flags.get("sub");
    if (!sub) throw new UsageError("--sub is required");
    const ttlSeconds = wholeNumberFlag(args, "ttl", 0) ?? 3600;
    const token = await mintToken(secret, { sub, publish: patternsFlag(args, "publish"), subscribe: patternsFlag(args, "subscribe"), ttlSeconds });
    io.stdout(`${token}\n`);
    return 0;
  },
};

/** The flag's patterns, checked as the broker will check the token's claims. */
function patternsFlag(args: ParsedArgs, name: string): string[] {
  const patterns = listFlag(args, name);
  if (patterns.length === 0) return patterns;
  const result = typePatternsSchema.safeParse(patterns);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const pattern = typeof issue.path[0] === "number" ? ` ${JSON.stringify(patterns[issue.path[0]])}` : "";
  throw new UsageError(`--${name}${pattern} ${issue.message}`);
}
