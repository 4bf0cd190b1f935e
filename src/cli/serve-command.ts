import process from "node:process";
import type { Command } from "../cli.ts";
import { flagNameOf, settingsSchema } from "../config.ts";

export const serveCommand: Command = {
  summary: "start the broker under the runtime running this command",
  usage: `usage: broker serve [--setting value …]

Settings (each also an environment variable, see the README):
  ${Object.keys(settingsSchema.shape).map(flagNameOf).join("\n  ")}`,

  async run(argv: string[]): Promise<number> {
    // The entry point of whichever runtime runs this; only those files name a runtime.
    const runtime = process.versions.bun ? "bun" : "deno";
    const entry = await import(`../${runtime}.ts`);
    await (runtime === "bun" ? entry.serveWithBun : entry.serveWithDeno)(argv);
    return await new Promise<number>(() => {}); // serves until a signal stops the process
  },
};
