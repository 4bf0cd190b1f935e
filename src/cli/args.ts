/** A small flag parser for the CLI: `--name value`, `--name=value`, and positionals. */
export interface ParsedArgs {
  readonly positionals: string[];
  readonly flags: Map<string, string>;
}

export class UsageError extends Error {}

/** `booleans` are flags that take no value. */
export function parseArgs(args: readonly string[], booleans: readonly string[] = ["help"]): ParsedArgs {
  const positionals: string[] = [];
  const flags = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "-h") flags.set("help", "true");
    else if (arg.startsWith("--")) {
      const [name, inline] = arg.slice(2).split(/=(.*)/s, 2);
      if (booleans.includes(name)) flags.set(name, inline ?? "true");
      else {
        const value = inline ?? args[++i];
        if (value === undefined) throw new UsageError(`--${name} needs a value`);
        flags.set(name, value);
      }
    } else positionals.push(arg);
  }
  return { positionals, flags };
}

/** A comma list flag as patterns. */
export function listFlag(args: ParsedArgs, name: string, fallback: string[] = []): string[] {
  const value = args.flags.get(name);
  return value === undefined ? fallback : value.split(",").map((item) => item.trim()).filter(Boolean);
}
