import type { CliIo, Command } from "../cli.ts";
import { listFlag, parseArgs, UsageError } from "./args.ts";
import { mintToken } from "./token.ts";

export const tokenCommand: Command = {
  summary: "mint an access token (needs BROKER_JWT_SECRET)",
  usage: `usage: broker token --sub NAME [--publish PATTERNS] [--subscribe PATTERNS] [--ttl SECONDS]

  --sub        who the token is for; owns the subscriptions it creates
  --publish    comma list of type patterns it may publish (none by default)
  --subscribe  comma list of type patterns it may subscribe to (none by default)
  --ttl        lifetime in seconds (3600; 0 = never expires)

The secret is read from BROKER_JWT_SECRET. Example:
  BROKER_JWT_SECRET=… broker token --sub dashboard --subscribe 'order.*,trade.*' --ttl 86400`,

  async run(argv: string[], io: CliIo): Promise<number> {
    const args = parseArgs(argv);
    const secret = io.env.BROKER_JWT_SECRET;
    if (!secret) throw new UsageError("BROKER_JWT_SECRET is not set");
    const sub = args.flags.get("sub");
    if (!sub) throw new UsageError("--sub is required");
    const ttlSeconds = Number(args.flags.get("ttl") ?? "3600");
    if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 0) throw new UsageError("--ttl must be a whole number of seconds");
    const token = await mintToken(secret, { sub, publish: listFlag(args, "publish"), subscribe: listFlag(args, "subscribe"), ttlSeconds });
    io.stdout(`${token}\n`);
    return 0;
  },
};
