/**
 * What a failed Redis call means, said once for every call the engine makes.
 *
 * - Redis out of reach (refused, closed, timed out), or refusing work for a state of its
 *   own (out of memory, a disk it cannot write, read-only, still loading, busy): the
 *   storage is unavailable, StorageError (503, try again).
 * - A key of the wrong type: the broker's keys were written by something else; the storage
 *   cannot be used as it is, StorageError too, saying so.
 * - An error a script raised, or a command Redis refused as malformed: a bug of the
 *   broker's, a ScriptError or a plain Error (500, its cause logged), never a 503.
 */
import { StorageError } from "../../broker/mod.ts";

/** A Lua script failed on its own (a bug, not an outage): `where` names its file and line. */
export class ScriptError extends Error {
  constructor(readonly where: string, message: string, options?: { cause?: unknown }) {
    super(`Redis script ${where}: ${message}`, options);
    this.name = "ScriptError";
  }
}

/** Error codes Redis answers with while it cannot do the work asked, whoever asks. */
const STORAGE_STATES = new Set(["OOM", "MISCONF", "READONLY", "LOADING", "BUSY", "MASTERDOWN", "NOREPLICAS", "CLUSTERDOWN", "TRYAGAIN"]);

/**
 * The error a failed call stands for. `lineOf` turns a line of the script as sent into its
 * file and line (see scripts.ts).
 */
export function failureOf(error: unknown, lineOf?: (line: number) => string): Error {
  if (error instanceof StorageError || error instanceof ScriptError) return error;
  const failure = error instanceof Error ? error : new Error(String(error));
  if (failure.name !== "ReplyError") return new StorageError(`Redis: ${failure.message}`, { cause: failure });
  const code = /^[A-Z]+/.exec(failure.message)?.[0] ?? "";
  const message = withoutScriptSuffix(failure.message);
  if (STORAGE_STATES.has(code)) return new StorageError(`Redis: ${message}`, { cause: failure });
  if (code === "WRONGTYPE") return new StorageError(`Redis: a key of the broker's holds another type (written by something else?): ${message}`, { cause: failure });
  const line = /user_script:(\d+)/.exec(failure.message);
  if (line) return new ScriptError(lineOf ? lineOf(Number(line[1])) : `line ${line[1]}`, message.replace(/^ERR user_script:\d+: /, ""), { cause: failure });
  return new Error(`Redis refused a command of the broker's: ${message}`, { cause: failure });
}

/** Redis 7 appends " script: <sha>, on @user_script:N." to an error raised in a script. */
function withoutScriptSuffix(message: string): string {
  return message.replace(/ script: [0-9a-f]+, on @user_script:\d+\.?$/, "");
}
