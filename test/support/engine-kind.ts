// Which way of keeping state the route tests run on (BROKER_TEST_ENGINE), and the marks of
// a test that cannot run on every one: one that asserts what only some engines can show,
// and one that reveals a known engine bug (ENGINE-BUGS.md). Neither passes silently: the
// runners list them as skipped or todo, and `npm test` counts them apart.
import process from "node:process";

export const ENGINE_KINDS = ["memory", "sqlite", "redis"] as const;
export type EngineKind = (typeof ENGINE_KINDS)[number];

/** The engine this test process runs on: memory unless BROKER_TEST_ENGINE names another. */
export const engineKind: EngineKind = engineKindOf(process.env.BROKER_TEST_ENGINE);

function engineKindOf(value = "memory"): EngineKind {
  if (!(ENGINE_KINDS as readonly string[]).includes(value)) throw new Error(`BROKER_TEST_ENGINE=${value}: expected one of ${ENGINE_KINDS.join(", ")}`);
  return value as EngineKind;
}

interface TestMark {
  skip?: string;
  todo?: string;
}

/** A test of what only these engines can show: skipped, saying why, on the others. */
export function onlyOn(kinds: readonly EngineKind[], why: string): TestMark {
  return kinds.includes(engineKind) ? {} : { skip: `not on ${engineKind}: ${why}` };
}

/** The core in this process (memory, SQLite): its memory budget counts required backlogs too; Redis keeps them. */
export const IN_PROCESS: readonly EngineKind[] = ["memory", "sqlite"];

/**
 * A test that fails on an engine because of a bug in it, by its number in ENGINE-BUGS.md:
 * there it is a todo, not run, until the bug is fixed and the mark removed;
 * BROKER_TEST_KNOWN_BUGS=run runs it anyway (to check a fix).
 */
export function knownBug(bugs: Partial<Record<EngineKind, number>>): TestMark {
  const bug = bugs[engineKind];
  if (bug === undefined || process.env.BROKER_TEST_KNOWN_BUGS === "run") return {};
  return { todo: `known ${engineKind} engine bug #${bug} (ENGINE-BUGS.md)` };
}
