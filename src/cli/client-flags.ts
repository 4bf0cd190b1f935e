import { BrokerClient } from "../client/mod.ts";
import type { CliIo } from "../cli.ts";
import type { ParsedArgs } from "./args.ts";

/** The flags every command that talks to a broker takes. */
export const CLIENT_FLAG_NAMES = ["url", "token"] as const;

export const CLIENT_FLAGS = `  --url        the broker (BROKER_URL, else http://127.0.0.1:8787)
  --token      an access token (BROKER_TOKEN), when access control is on`;

/** The broker the flags and environment name, and the token to show it. */
export function targetFrom(args: ParsedArgs, io: CliIo): { url: string; token?: string } {
  const url = args.flags.get("url") ?? io.env.BROKER_URL ?? "http://127.0.0.1:8787";
  return { url: url.replace(/\/$/, ""), token: args.flags.get("token") ?? io.env.BROKER_TOKEN };
}

export function clientFrom(args: ParsedArgs, io: CliIo): BrokerClient {
  return new BrokerClient(targetFrom(args, io));
}
