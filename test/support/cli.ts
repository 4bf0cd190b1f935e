import { main } from "../../src/cli.ts";

/** Runs the `broker` command in-process, with the given stdin lines, as a pipe may give them over time (or a terminal). */
export async function runCli(argv: string[], env: Record<string, string> = {}, stdin?: Iterable<string> | AsyncIterable<string>) {
  let stdout = "";
  let stderr = "";
  const code = await main(argv, {
    env,
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    stdinIsTerminal: stdin === undefined,
    stdinLines: async function* () {
      yield* stdin ?? [];
    },
    onInterrupt: () => {},
  });
  return { code, stdout, stderr };
}
