// Serving for the baselines, under whichever runtime runs them (bench code may name runtimes).
type Handler = (request: Request) => Response | Promise<Response>;

export function serve(port: number, handler: Handler): void {
  const runtime = globalThis as unknown as {
    Bun?: { serve(options: object): { port: number } };
    Deno?: { serve(options: object, handler: Handler): unknown };
  };
  if (runtime.Bun) runtime.Bun.serve({ port, hostname: "127.0.0.1", development: false, idleTimeout: 0, fetch: handler });
  else runtime.Deno!.serve({ port, hostname: "127.0.0.1", onListen: () => {} }, handler);
  console.log(`baseline listening on http://127.0.0.1:${port}`);
}

export const portArg = () => Number(process.argv[2] ?? 8800);
