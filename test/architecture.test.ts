// Architecture rules, checked by code: the core stays free of HTTP and of any runtime.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

const root = new URL("..", import.meta.url).pathname;

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith(".ts") ? [join(dir, entry.name)] : []
  );
}

function importsOf(file: string): string[] {
  const text = readFileSync(join(root, file), "utf8");
  const pattern = /(?:import|export)[^"';]*?from\s*["']([^"']+)["']|import\s*\(?\s*["']([^"']+)["']/g;
  return [...text.matchAll(pattern)].map((m) => m[1] ?? m[2]);
}

/** Source text without comments, so prose may mention runtimes. */
function codeOf(file: string): string {
  return readFileSync(join(root, file), "utf8").replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
}

test("the broker core imports only its own files and zod", () => {
  const files = sourceFiles("src/broker");
  assert.ok(files.length >= 8);
  for (const file of files) {
    for (const specifier of importsOf(file)) {
      assert.ok(specifier.startsWith("./") || specifier === "zod", `${file} imports ${specifier}`);
    }
  }
});

test("the broker core uses no runtime globals", () => {
  for (const file of sourceFiles("src/broker")) {
    const code = codeOf(file);
    for (const global of ["Bun", "Deno", "process", "require", "Buffer", "__dirname", "globalThis"]) {
      assert.doesNotMatch(code, new RegExp(`\\b${global}\\b`), `${file} uses ${global}`);
    }
  }
});

test("only src/bun.ts names Bun and only src/deno.ts names Deno", () => {
  for (const file of [...sourceFiles("src"), ...sourceFiles("routes")]) {
    const code = codeOf(file);
    if (file !== "src/bun.ts") assert.doesNotMatch(code, /\bBun\b/, `${file} names Bun`);
    if (file !== "src/deno.ts") assert.doesNotMatch(code, /\bDeno\b/, `${file} names Deno`);
  }
});

test("routes import the core only through its public surface", () => {
  for (const file of sourceFiles("routes")) {
    for (const specifier of importsOf(file)) {
      if (!specifier.includes("src/broker/")) continue;
      assert.ok(specifier.endsWith("src/broker/mod.ts"), `${file} imports ${specifier}`);
    }
  }
});
