#!/usr/bin/env bun
/**
 * The `broker` command. Runs under Bun (`bun src/cli.ts …`) and Deno
 * (`deno run -A src/cli.ts …`), using only APIs both provide.
 */
import process from "node:process";
import { createInterface } from "node:readline";
import { parseArgs, UsageError } from "./cli/args.ts";
import { BrokerRequestError } from "./client/mod.ts";
import { publishCommand } from "./cli/publish-command.ts";
import { serveCommand } from "./cli/serve-command.ts";
import { tailCommand } from "./cli/tail-command.ts";
import { tokenCommand } from "./cli/token-command.ts";

/** What each command needs from the world, so tests can run them in-process. */
export interface CliIo {
  readonly env: Record<string, string | undefined>;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly stdinIsTerminal: boolean;
  readonly stdinLines: () => AsyncIterable<string>;
  /** Runs `stop` on Ctrl-C instead of dying mid-write. */
  readonly onInterrupt: (stop: () => void) => void;
}

export interface Command {
  readonly summary: string;
  readonly usage: string;
  run(args: string[], io: CliIo): Promise<number>;
}

const COMMANDS: Record<string, Command> = { serve: serveCommand, publish: publishCommand, tail: tailCommand, token: tokenCommand };

function helpText(): string {
  const lines = Object.entries(COMMANDS).map(([name, command]) => `  ${name.padEnd(8)} ${command.summary}`);
  return `usage: broker <command> [options]\n\ncommands:\n${lines.join("\n")}\n\nbroker <command> --help tells more.\n`;
}

/** Runs the CLI; resolves with the exit code. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  const command = name === undefined ? undefined : COMMANDS[name];
  if (!command) {
    (name === undefined || name === "--help" || name === "-h" ? io.stdout : io.stderr)(helpText());
    return name === undefined || name === "--help" || name === "-h" ? 0 : 2;
  }
  if (parseArgs(rest, ["help", "named"]).flags.has("help")) {
    io.stdout(`${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`broker ${name}: ${error.message}\n\n${command.usage}\n`);
      return 2;
    }
    if (error instanceof BrokerRequestError) {
      io.stderr(`broker ${name}: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

if (import.meta.main) {
  const io: CliIo = {
    env: process.env,
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    stdinIsTerminal: Boolean(process.stdin.isTTY),
    stdinLines: () => createInterface({ input: process.stdin, crlfDelay: Infinity }),
    onInterrupt: (stop) => process.once("SIGINT", stop),
  };
  process.exitCode = await main(process.argv.slice(2), io);
}
