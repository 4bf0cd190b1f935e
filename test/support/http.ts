import assert from "node:assert/strict";
import { eventually } from "./wait.ts";

/** Where requests go: the in-process app (through its `request`) or a running server (its base URL). */
export type Target = string | { request(path: string, init?: RequestInit): Response | Promise<Response> };

export async function requestTo(target: Target, path: string, init?: RequestInit): Promise<Response> {
  return await (typeof target === "string" ? fetch(target + path, init) : target.request(path, init));
}

/** A subscription as GET /subscriptions lists it (the fields tests read). */
export interface ListedSubscription {
  id: string;
  kind: "stream" | "required";
  name?: string;
  backlog: number;
  delivered: number;
  dropped: number;
}

/** GET /subscriptions: the subscriptions `headers` may see. */
export async function listSubscriptions(target: Target, headers: Record<string, string> = {}): Promise<ListedSubscription[]> {
  const response = await requestTo(target, "/subscriptions", { headers });
  assert.equal(response.status, 200, await response.clone().text());
  return (await response.json()).subscriptions;
}

/** The value of one series in Prometheus text, or undefined. */
export function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Resolves once `count` pulls wait for events (the broker_pull_waits gauge), failing after `timeoutMs`. */
export async function pullsWaiting(target: Target, count = 1, timeoutMs = 3_000): Promise<void> {
  await eventually(async () => sample(await (await requestTo(target, "/metrics")).text(), "broker_pull_waits") === count, timeoutMs, `${count} waiting pull(s)`);
}
