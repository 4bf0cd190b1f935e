import type { Settings } from "./config.ts";

/** How the broker keeps its state, in a few words for the start line. */
export function storageLine(settings: Settings): string {
  if (settings.redisUrl) return `shared through ${redacted(settings.redisUrl)}`;
  if (settings.dataDir) return `durable in ${settings.dataDir}, sync ${settings.sync}`;
  return "in memory";
}

/** A Redis URL without its password. */
function redacted(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@");
}
