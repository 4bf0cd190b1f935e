// Which way of keeping state the route tests run on (BROKER_TEST_ENGINE), and the mark of a
// test that asserts what only some engines can show: skipped elsewhere, saying why, and
// counted apart by `npm test`, never passed silently.
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
}

/** A test of what only these engines can show: skipped, saying why, on the others. */
export function onlyOn(kinds: readonly EngineKind[], why: string): TestMark {
  return kinds.includes(engineKind) ? {} : { skip: `not on ${engineKind}: ${why}` };
}

/** The core in this process (memory, SQLite): its memory budget counts required backlogs too; Redis keeps them. */
export const IN_PROCESS: readonly EngineKind[] = ["memory", "sqlite"];
