#!/usr/bin/env bun
/**
 * The `broker` command. Runs under Bun (`bun src/cli.ts …`) and Deno
 * (`deno run -A src/cli.ts …`), using only APIs both provide.
 */
import process from "node:process";
import { UsageError } from "./cli/args.ts";
import { ExitCode } from "./cli/exit-codes.ts";
import { linesOf } from "./cli/lines.ts";
import { BrokerRequestError, BrokerUnreachableError } from "./client/mod.ts";
import { exportCommand } from "./cli/export-command.ts";
import { publishCommand } from "./cli/publish-command.ts";
import { replayCommand } from "./cli/replay-command.ts";
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

const COMMANDS: Record<string, Command> = {
  serve: serveCommand,
  publish: publishCommand,
  tail: tailCommand,
  export: exportCommand,
  replay: replayCommand,
  token: tokenCommand,
};

function helpText(): string {
  const lines = Object.entries(COMMANDS).map(([name, command]) => `  ${name.padEnd(8)} ${command.summary}`);
  return `usage: broker <command> [options]\n\ncommands:\n${lines.join("\n")}\n\nbroker <command> --help tells more.\n`;
}

/** Runs the CLI; resolves with the exit code (see ExitCode). */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h") {
    io.stdout(helpText());
    return ExitCode.ok;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    io.stderr(`broker: unknown command ${JSON.stringify(name)}\n\n${helpText()}`);
    return ExitCode.usage;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    io.stdout(`${command.usage}\n`);
    return ExitCode.ok;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    return failed(error, `broker ${name}`, command, io);
  }
}

/** An expected failure printed in one place, with its exit code; anything else is a bug and keeps its stack. */
function failed(error: unknown, prefix: string, command: Command, io: CliIo): number {
  if (error instanceof UsageError) {
    io.stderr(`${prefix}: ${error.message}\n\n${command.usage}\n`);
    return ExitCode.usage;
  }
  if (error instanceof BrokerRequestError) {
    const details = (error.problem.errors ?? []).map(({ path, message }) => `  ${path || "(body)"}: ${message}\n`);
    io.stderr(`${prefix}: refused: ${error.message}\n${details.join("")}`);
    return ExitCode.refused;
  }
  if (error instanceof BrokerUnreachableError) {
    io.stderr(`${prefix}: ${error.message}\n`);
    return ExitCode.unreachable;
  }
  throw error;
}

if (import.meta.main) {
  const io: CliIo = {
    env: process.env,
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    stdinIsTerminal: Boolean(process.stdin.isTTY),
    stdinLines: () => linesOf(process.stdin),
    onInterrupt: (stop) => process.once("SIGINT", stop),
  };
  process.exitCode = await main(process.argv.slice(2), io);
}
