#!/usr/bin/env bun
/**
 * The `broker` command. Runs under Bun (`bun src/cli.ts …`) and Deno
 * (`deno run -A src/cli.ts …`), using only APIs both provide.
 */
import process from "node:process";
import { parseArgs, UsageError } from "./cli/args.ts";
import { tokenCommand } from "./cli/token-command.ts";

/** What each command needs from the world, so tests can run them in-process. */
export interface CliIo {
  readonly env: Record<string, string | undefined>;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

export interface Command {
  readonly summary: string;
  readonly usage: string;
  run(args: string[], io: CliIo): Promise<number>;
}

const COMMANDS: Record<string, Command> = { token: tokenCommand };

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
    if (!(error instanceof UsageError)) throw error;
    io.stderr(`broker ${name}: ${error.message}\n\n${command.usage}\n`);
    return 2;
  }
}

if (import.meta.main) {
  const io: CliIo = { env: process.env, stdout: (text) => process.stdout.write(text), stderr: (text) => process.stderr.write(text) };
  process.exitCode = await main(process.argv.slice(2), io);
}
