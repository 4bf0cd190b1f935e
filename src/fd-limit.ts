/**
 * The process's limit on open files, and how many connections the broker may hold within
 * it. Every connection costs a file descriptor; without one to spare, Deno 2.9's accept
 * fails and Bun 1.4 spins on its listener, so long-lived requests (streams, waiting pulls)
 * are refused well before the limit and the rest stays free for short requests.
 */
import { closeSync, openSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Descriptors left to the runtime itself: its own files, pipes and threads (Deno starts with 25). */
const RESERVED = 64;

/**
 * The soft limit on open files (`ulimit -n`) when it is below `needed`, else undefined.
 * Read from /proc; where the process may not read it (Deno 2.9 allows /proc only with
 * --allow-all), the files it can still open are counted by opening one until refused.
 */
export function openFileLimit(needed: number, read = () => readFileSync("/proc/self/limits", "utf8"), probe = countOpenable): number | undefined {
  let limit: number | undefined;
  try {
    const soft = /^Max open files\s+(\d+)/m.exec(read())?.[1];
    limit = soft === undefined ? undefined : Number(soft);
  } catch {
    limit = probe(needed);
  }
  return limit !== undefined && limit < needed ? limit : undefined;
}

/** How many more files this process can open, up to `atMost`; undefined when it cannot tell. */
function countOpenable(atMost: number): number | undefined {
  const opened: number[] = [];
  const path = fileURLToPath(import.meta.url);
  try {
    while (opened.length < atMost) opened.push(openSync(path, "r"));
  } catch (error) {
    if ((error as { code?: string }).code !== "EMFILE") return undefined;
  } finally {
    opened.forEach((fd) => closeSync(fd));
  }
  return opened.length;
}

/** The open-file limit under which `connectionBudget` lowers nothing. */
export function filesNeeded(wanted: { maxStreams: number; maxWaitingPulls: number }): number {
  return RESERVED + Math.ceil(((wanted.maxStreams + wanted.maxWaitingPulls) * 4) / 3) + 1;
}

export interface ConnectionBudget {
  /** Most connections open at once, whatever they do. */
  readonly maxConnections: number;
  readonly maxStreams: number;
  readonly maxWaitingPulls: number;
  /** Said at start when the limit lowered the configured streams or pulls. */
  readonly warning?: string;
}

/**
 * Streams and waiting pulls together get three quarters of the connections the limit
 * allows; a quarter stays for publishes, health checks and connections still sending
 * their headers. When the configured numbers do not fit, both shrink in proportion.
 */
export function connectionBudget(limit: number | undefined, wanted: { maxStreams: number; maxWaitingPulls: number }): ConnectionBudget {
  if (limit === undefined) return { maxConnections: Infinity, ...wanted };
  const maxConnections = Math.max(4, limit - RESERVED);
  const longLived = Math.floor((maxConnections * 3) / 4);
  const total = wanted.maxStreams + wanted.maxWaitingPulls;
  if (total <= longLived) return { maxConnections, ...wanted };
  const maxStreams = Math.max(1, Math.floor((wanted.maxStreams * longLived) / total));
  const maxWaitingPulls = Math.max(1, Math.min(wanted.maxWaitingPulls, longLived - maxStreams));
  const warning = `warning: the open-file limit (ulimit -n) is about ${limit}, so at most ${maxStreams} streams and ` +
    `${maxWaitingPulls} waiting pulls are served at once (configured: ${wanted.maxStreams} and ${wanted.maxWaitingPulls}); raise it to serve more`;
  return { maxConnections, maxStreams, maxWaitingPulls, warning };
}
