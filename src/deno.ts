/** Serves the broker with Deno: `deno run --allow-net --allow-env src/deno.ts [--flag value …]`. */
import { ConfigError, loadSettings } from "./config.ts";
import { createBrokerServer, startupLines } from "./server.ts";

const settings = loadOrExit();
const broker = createBrokerServer(settings);
const server = Deno.serve({
  hostname: settings.host,
  port: settings.port,
  onListen: ({ port }) => startupLines(settings, port).forEach((line) => console.log(line)),
}, (request) => broker.app.fetch(request, {}));

async function stop() {
  await broker.close();
  await server.shutdown();
  Deno.exit(0);
}
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);

function loadOrExit() {
  try {
    return loadSettings(Deno.env.toObject(), Deno.args);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    Deno.exit(2);
  }
}
