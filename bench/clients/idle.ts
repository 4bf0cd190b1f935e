// Opens `count` SSE streams and holds them open, reading nothing more than they send.
import { arg, openRawStream, report } from "./common.ts";

const url = arg(0, "http://127.0.0.1:8787");
const count = Number(arg(1, "1000"));
const sockets = [];
for (let i = 0; i < count; i += 200) {
  const wave = Array.from({ length: Math.min(200, count - i) }, () => openRawStream(url, "/events/stream?types=idle.*", () => {}));
  sockets.push(...(await Promise.all(wave)));
}
report({ open: sockets.length });
await new Promise(() => {}); // held until the orchestrator ends this process
