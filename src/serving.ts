/**
 * Serving the broker, whatever the runtime: what both entry points share. An entry point
 * listens, hands each request here, and says how its server stops accepting and stops.
 */
import { problemResponse } from "../routes/problem.ts";
import type { Settings } from "./config.ts";
import { type ConnectionBudget, connectionBudget, filesNeeded, openFileLimit } from "./fd-limit.ts";
import type { ConnectionTimer } from "./connection-watch.ts";
import { HttpEdge } from "./http-edge.ts";
import { type Engine, StorageError, systemClock } from "./broker/mod.ts";
import { openEngine } from "./engines.ts";
import { type BrokerServer, createBrokerServer, originOf, startupLines } from "./server.ts";
import { JournalOpenError } from "./storage/sqlite-journal.ts";

export class Serving {
  /** The settings, with streams and waiting pulls lowered to fit the open-file limit. */
  readonly settings: Settings;
  readonly budget: ConnectionBudget;
  readonly server: BrokerServer;
  readonly edge: HttpEdge;

  constructor(settings: Settings, fileLimit = openFileLimit(filesNeeded(settings)), engine?: Engine) {
    this.budget = connectionBudget(fileLimit, settings);
    this.settings = { ...settings, maxStreams: this.budget.maxStreams, maxWaitingPulls: this.budget.maxWaitingPulls };
    this.server = createBrokerServer(this.settings, systemClock, engine);
    this.edge = new HttpEdge(this.server, settings.bodyIdleTimeoutMs);
  }

  /**
   * Serving with the engine the settings ask for (memory, a data directory, Redis); when
   * its storage cannot be used, the reason is printed as one line and `exit(1)` is called.
   */
  static async open(settings: Settings, exit: (code: number) => never): Promise<Serving> {
    const fileLimit = openFileLimit(filesNeeded(settings));
    const budget = connectionBudget(fileLimit, settings);
    try {
      const engine = await openEngine({ ...settings, maxStreams: budget.maxStreams, maxWaitingPulls: budget.maxWaitingPulls }, systemClock);
      return new Serving(settings, fileLimit, engine);
    } catch (error) {
      if (!(error instanceof JournalOpenError || error instanceof StorageError)) throw error;
      console.error(`event-broker cannot start: ${error.message}`);
      return exit(1);
    }
  }

  /** What `listen` gives; when it cannot (a port taken, a host that does not resolve), one line saying so, and `exit(1)`. */
  listenOrExit<T>(listen: () => T, exit: (code: number) => never): T {
    try {
      return listen();
    } catch (error) {
      const { host, port } = this.settings;
      const reason = /in use|AddrInUse/i.test(String(error)) ? "the port is taken by another process" : (error as Error).message;
      console.error(`event-broker cannot listen on ${host}:${port}: ${reason}`);
      return exit(1);
    }
  }

  /** Bun's `idleTimeout`, in whole seconds: it is also how long Bun waits for a request's headers. */
  get idleTimeoutSeconds(): number {
    return Math.ceil(this.settings.headerTimeoutMs / 1000);
  }

  /** The lines to print once listening on `port`. */
  listening(port: number): string[] {
    this.edge.origin = originOf(this.settings.host, port);
    const lines = startupLines(this.settings, port);
    return this.budget.warning ? [...lines, this.budget.warning] : lines;
  }

  fetch(request: Request, timer: ConnectionTimer): Promise<Response> {
    return this.edge.fetch(request, timer);
  }

  /**
   * The graceful stop (SIGTERM, SIGINT): stop accepting; refuse new publishes (503); end
   * streams and answer waiting pulls; let requests in flight finish within the grace, then
   * answer 503 to those still unanswered (a body still arriving); then stop the server.
   */
  async shutdown(stopAccepting: () => void, stopServer: () => Promise<unknown>): Promise<void> {
    const graceMs = this.settings.shutdownGraceMs;
    stopAccepting();
    const [, settled] = await Promise.all([this.server.close(), this.edge.inFlight.settled(graceMs)]);
    if (!settled) this.edge.inFlight.answerAll(() => problemResponse(503, "closed", "the broker is shutting down"));
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([stopServer(), new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
  }
}
