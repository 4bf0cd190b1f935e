/**
 * Settings: one Zod schema, read from the environment (`PORT`, `HOST`, `BROKER_*`) and
 * from flags (`--stream-buffer 64`), flags winning.
 */
import { z } from "zod";

/** A whole number from text, with messages that say what is wanted rather than what Zod saw. */
const whole = (what: string, min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.preprocess(
    (value) => (typeof value === "number" ? String(value) : value),
    z.string({ error: `must be ${what}: a whole number` }).trim().regex(/^-?\d+$/, `must be ${what}: a whole number`).transform(Number).pipe(
      z.number().min(min, `must be ${what} of at least ${min}`).max(max, `must be ${what} of at most ${max}`),
    ),
  );
const count = (fallback: number, min = 1) => whole("a number", min).default(fallback);
const ms = (fallback: number, min = 0) => whole("a number of milliseconds", min).default(fallback);

export const settingsSchema = z.strictObject({
  /** TCP port; 0 picks a free one. */
  port: whole("a port", 0, 65_535).default(8787),
  /** Address to listen on; loopback unless access control is on. */
  host: z.string().min(1).default("127.0.0.1"),
  /** A stream's buffer: events, and bytes of event JSON, whichever fills first. */
  streamBuffer: count(1_024),
  streamBufferBytes: count(1_048_576),
  /** Accepted events kept for resuming streams. */
  historySize: count(10_000, 0),
  /** A `: ping` comment on every stream this often. */
  heartbeatMs: ms(15_000, 100),
  /** `retry:` sent to EventSource: its wait before reconnecting. */
  retryMs: ms(2_000),
  /** Largest request body, and most events per batch. */
  maxBodyBytes: count(1_048_576),
  /** Bytes of request bodies (and NDJSON lines) still arriving, over every connection, that the broker holds at once. */
  maxIncomingBytes: count(67_108_864),
  maxBatch: count(1_000),
  /** Defaults of a required subscription. */
  ackTimeoutMs: ms(30_000, 1),
  maxBacklog: count(100_000),
  expireAfterMs: ms(600_000),
  maxDeliveries: count(0, 0),
  maxParked: count(1_000, 0),
  /** How long a producer's (source, id) pair is remembered for deduplication (0 = off), and at most how many. */
  dedupeWindowMs: ms(120_000),
  dedupeMaxEntries: count(100_000),
  /** Everything the broker keeps (history, backlogs, stream buffers, dedupe window, pull answers), in bytes. */
  memoryBudgetBytes: count(268_435_456, 1_048_576),
  /** Most bytes of events one pull hands out (a published batch is never split). */
  maxPullBytes: count(1_048_576),
  /** Longest a pull may wait, and its wait when it names none. */
  maxWaitMs: ms(60_000),
  defaultWaitMs: ms(30_000),
  /** Where a durable broker keeps its state (one SQLite database); unset, everything is in memory. */
  dataDir: z.string().min(1).optional(),
  /** `normal`: a crash of the process loses nothing, a power cut at most the last second; `full`: every commit reaches the disk before its answer. */
  sync: z.enum(["normal", "full"], { error: 'must be "normal" or "full"' }).default("normal"),
  /** Redis shared by several instances (`redis://host:6379/0`); unset, this process is the broker alone. */
  redisUrl: z.string().regex(/^rediss?:\/\//, "must be a redis:// or rediss:// URL").optional(),
  /** Prefix of every Redis key of this broker. */
  redisPrefix: z.string().min(1).max(64).default("broker:"),
  /** Processes serving the port, one per core at most worth it; more than one needs Redis to share their state. */
  processes: whole("a number of processes", 1, 64).default(1),
  /** Events a durable or shared broker keeps, and for how long (ms), whichever ends first. */
  retainEvents: count(1_000_000),
  retainMs: ms(604_800_000, 1),
  /** Most open streams, required subscriptions, and pulls waiting at once; streams and pulls are lowered to fit the open-file limit. */
  maxStreams: count(20_000),
  maxRequired: count(10_000),
  maxWaitingPulls: count(10_000),
  /** A connection closes when a request's headers do not arrive within this time of it opening or of its last answer. */
  headerTimeoutMs: whole("a number of milliseconds", 1_000, 255_000).default(10_000), // 255 s: Bun's longest idleTimeout
  /** A request body that sends nothing for this long is answered 408. */
  bodyIdleTimeoutMs: ms(60_000, 1_000),
  /** How long shutdown waits for streams to flush their closing notice, and for requests in flight. */
  shutdownGraceMs: ms(3_000),
  /** HS256 secret; setting it turns access control on. */
  jwtSecret: z.string().min(32, "must be at least 32 characters").optional(),
  /** Origins (comma list) whose pages may call the broker; none by default. */
  corsOrigins: z.string().default("").transform((list) => list.split(",").map((origin) => origin.trim()).filter(Boolean)),
  /** Names (comma list) browsers may use for the broker besides addresses and `localhost`: a proxy's public name. */
  hosts: z.string().default("")
    .transform((list) => list.split(",").map((host) => host.trim().toLowerCase()).filter(Boolean))
    .refine((hosts) => hosts.every((host) => /^[a-z0-9.-]+$/.test(host)), "must be host names, comma separated, without scheme or port"),
}).refine((settings) => settings.maxIncomingBytes >= settings.maxBodyBytes, {
  path: ["maxIncomingBytes"],
  message: "must be at least maxBodyBytes: a body of that size could never be read",
}).refine((settings) => !(settings.dataDir && settings.redisUrl), {
  path: ["redisUrl"],
  message: "cannot be set together with BROKER_DATA_DIR: a shared broker keeps its state in Redis",
}).refine((settings) => settings.processes === 1 || settings.redisUrl, {
  path: ["processes"],
  message: "more than 1 needs BROKER_REDIS_URL: separate processes share their state through Redis",
}).refine((settings) => settings.processes === 1 || settings.port !== 0, {
  path: ["processes"],
  message: "more than 1 needs a fixed port (not 0): the processes share it",
});

export type Settings = z.output<typeof settingsSchema>;
export type SettingsInput = z.input<typeof settingsSchema>;

/** `streamBuffer` → `BROKER_STREAM_BUFFER`; `port` and `host` stay `PORT` and `HOST`. */
export function envNameOf(setting: string): string {
  if (setting === "port" || setting === "host") return setting.toUpperCase();
  return "BROKER_" + setting.replace(/[A-Z]/g, (letter) => "_" + letter).toUpperCase();
}

/** `streamBuffer` → `--stream-buffer`. */
export function flagNameOf(setting: string): string {
  return "--" + setting.replace(/[A-Z]/g, (letter) => "-" + letter.toLowerCase());
}

export class ConfigError extends Error {}

/** Reads settings from the environment and flags; throws ConfigError naming each bad one. */
export function loadSettings(env: Record<string, string | undefined>, args: readonly string[]): Settings {
  const names = Object.keys(settingsSchema.shape);
  const raw: Record<string, string> = {};
  for (const name of names) {
    const value = env[envNameOf(name)];
    if (value !== undefined && value !== "") raw[name] = value;
  }
  Object.assign(raw, parseFlags(args, names));
  const result = settingsSchema.safeParse(raw);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = String(issue.path[0]);
    return `${flagNameOf(name)} / ${envNameOf(name)}: ${issue.message}`;
  });
  throw new ConfigError(`bad settings:\n  ${problems.join("\n  ")}`);
}

function parseFlags(args: readonly string[], names: readonly string[]): Record<string, string> {
  const byFlag = new Map(names.map((name) => [flagNameOf(name), name]));
  const values: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split(/=(.*)/s, 2);
    const name = byFlag.get(flag);
    if (!name) throw new ConfigError(`unknown flag ${flag}; settings are ${[...byFlag.keys()].join(" ")}`);
    const value = inline ?? args[++i];
    if (value === undefined) throw new ConfigError(`${flag} needs a value`);
    values[name] = value;
  }
  return values;
}

/** Settings, or the problem printed and the process ended with `exit(2)`. */
export function loadSettingsOrExit(env: Record<string, string | undefined>, args: readonly string[], exit: (code: number) => never): Settings {
  try {
    return loadSettings(env, args);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    return exit(2);
  }
}
