/** Serves the broker with Bun: `bun src/bun.ts [--flag value …]`. */
import { ConfigError, loadSettings } from "./config.ts";
import { createBrokerServer, startupLines } from "./server.ts";

const settings = loadOrExit();
const broker = createBrokerServer(settings);
const server = Bun.serve({
  hostname: settings.host,
  port: settings.port,
  development: false,
  fetch: (request, server) => broker.app.fetch(request, { holdOpen: (held: Request) => server.timeout(held, 0) }),
});
for (const line of startupLines(settings, server.port!)) console.log(line);

async function stop() {
  await broker.close();
  await server.stop();
  process.exit(0);
}
process.once("SIGTERM", stop);
process.once("SIGINT", stop);

function loadOrExit() {
  try {
    return loadSettings(Bun.env, Bun.argv.slice(2));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    process.exit(2);
  }
}
