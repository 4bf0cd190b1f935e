/** Serves the broker with Bun: `bun src/bun.ts [--flag value …]`. */
import { loadSettingsOrExit } from "./config.ts";
import { createBrokerServer, startupLines } from "./server.ts";

export function serveWithBun(args: readonly string[]): void {
  const settings = loadSettingsOrExit(Bun.env, args, (code) => process.exit(code));
  const broker = createBrokerServer(settings);
  const server = Bun.serve({
    hostname: settings.host,
    port: settings.port,
    development: false,
    fetch: (request, server) => broker.app.fetch(request, { holdOpen: (held: Request) => server.timeout(held, 0) }),
  });
  for (const line of startupLines(settings, server.port!)) console.log(line);
  const stop = async () => {
    await broker.close();
    await server.stop();
    process.exit(0);
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

if (import.meta.main) serveWithBun(Bun.argv.slice(2));
