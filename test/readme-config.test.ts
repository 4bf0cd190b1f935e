// The README's configuration table is what operators read: it must list every setting, as the broker reads it.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { envNameOf, flagNameOf, settingsSchema } from "../src/config.ts";

/** The rows of the table under "## Configuration": setting → its env, flag and default cells. */
function configTable(): Map<string, { env: string; flag: string; fallback: string }> {
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
  const section = readme.split("\n## Configuration\n")[1].split("\n## ")[0];
  const rows = new Map<string, { env: string; flag: string; fallback: string }>();
  for (const line of section.split("\n")) {
    const cells = line.split("|").slice(1, -1).map((cell) => cell.trim());
    if (cells.length !== 5 || cells[0] === "setting" || cells[0].startsWith("---")) continue;
    const [setting, env, flag, fallback] = cells;
    rows.set(setting, { env: env.replaceAll("`", ""), flag: flag.replaceAll("`", ""), fallback });
  }
  return rows;
}

/** A default as the table writes it: the number or text, "(none)" when unset or empty. */
function written(value: unknown): string {
  if (value === undefined || (Array.isArray(value) && value.length === 0)) return "(none)";
  return String(value);
}

test("the README's configuration table lists every setting with its variable, flag and default, and nothing else", () => {
  const table = configTable();
  const defaults: Record<string, unknown> = settingsSchema.parse({});
  const names = Object.keys(settingsSchema.shape);
  assert.deepEqual([...table.keys()].sort(), [...names].sort());
  for (const name of names) {
    assert.deepEqual(table.get(name), { env: envNameOf(name), flag: flagNameOf(name), fallback: written(defaults[name]) }, name);
  }
});
