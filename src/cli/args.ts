/** A strict flag parser for the CLI: `--name value`, `--name=value`, and positionals. */
export interface ParsedArgs {
  readonly positionals: string[];
  readonly flags: Map<string, string>;
}

/** What a command takes; anything else is a usage error. */
export interface ArgsSpec {
  /** Flags followed by a value. */
  readonly values: readonly string[];
  /** Flags without a value (`--help` is always one). */
  readonly booleans?: readonly string[];
  /** How many positional arguments at most (none by default). */
  readonly positionals?: number;
}

/** A command-line mistake: printed with the command's usage, exit code 2. */
export class UsageError extends Error {}

export function parseArgs(args: readonly string[], spec: ArgsSpec): ParsedArgs {
  const booleans = ["help", ...(spec.booleans ?? [])];
  const positionals: string[] = [];
  const flags = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "-h") flags.set("help", "true");
    else if (arg.startsWith("--")) {
      const [name, inline] = arg.slice(2).split(/=(.*)/s, 2);
      if (booleans.includes(name)) flags.set(name, inline ?? "true");
      else if (spec.values.includes(name)) {
        const value = inline ?? args[++i];
        if (value === undefined) throw new UsageError(`--${name} needs a value`);
        flags.set(name, value);
      } else throw new UsageError(`unknown option --${name}`);
    } else if (/^-[A-Za-z]/.test(arg)) throw new UsageError(`unknown option ${arg}`);
    else positionals.push(arg);
  }
  if (positionals.length > (spec.positionals ?? 0)) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[spec.positionals ?? 0])}`);
  return { positionals, flags };
}

/** A comma list flag as a list. */
export function listFlag(args: ParsedArgs, name: string, fallback: string[] = []): string[] {
  const value = args.flags.get(name);
  return value === undefined ? fallback : value.split(",").map((item) => item.trim()).filter(Boolean);
}

/** A whole-number flag, at least `min`. */
export function wholeNumberFlag(args: ParsedArgs, name: string, min: number): number | undefined {
  const value = args.flags.get(name);
  if (value === undefined) return undefined;
  const number = Number(value);
  if (value.trim() === "" || !Number.isSafeInteger(number) || number < min) throw new UsageError(`--${name} must be a whole number, ${min} or more`);
  return number;
}

/** A JSON flag holding one filter or an array of them (`--filter '{"prefix":{"subject":"orders/"}}'`), as an array. */
export function filtersFlag(args: ParsedArgs, name = "filter"): Readonly<Record<string, unknown>>[] | undefined {
  const value = args.flags.get(name);
  if (value === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new UsageError(`--${name} must be a filter as JSON, for example '{"prefix":{"subject":"orders/"}}'`);
  }
  const list = Array.isArray(parsed) ? parsed : [parsed];
  if (!list.every((filter) => typeof filter === "object" && filter !== null && !Array.isArray(filter))) throw new UsageError(`--${name} must be a filter object or an array of them`);
  return list as Record<string, unknown>[];
}
