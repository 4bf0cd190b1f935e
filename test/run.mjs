// Runs the whole test suite under Bun and under Deno (its route tests on the in-memory
// engine), then the route tests again on each other way to keep state (a SQLite journal;
// two instances sharing one Redis) under both runtimes, and prints the totals of all runs.
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

const runtimes = [
  { runtime: "bun", command: ["node_modules/.bin/bun", "test", "--timeout", "60000"], pattern: /^\s*(\d+) pass\s*$[\s\S]*?^\s*(\d+) fail\s*$/m, notRun: /^\s*(\d+) (?:skip|todo)\s*$/gm },
  { runtime: "deno", command: ["node_modules/.bin/deno", "test", "--allow-all", "--no-lock"], pattern: /\|\s*(\d+) passed[^|]*\|\s*(\d+) failed/, notRun: /\|\s*(\d+) ignored/g },
];

/** The route tests on the test app, which runs on the engine BROKER_TEST_ENGINE names. */
const ROUTE_TESTS = readdirSync("test/routes")
  .filter((file) => file.endsWith(".test.ts") && readFileSync(`test/routes/${file}`, "utf8").includes("support/app.ts"))
  .map((file) => `./test/routes/${file}`);

const runs = [
  ...runtimes.map((runtime) => ({ ...runtime, engine: "memory", paths: ["test/"] })),
  ...["sqlite", "redis"].flatMap((engine) => runtimes.map((runtime) => ({ ...runtime, engine, paths: ROUTE_TESTS }))),
];

function run({ runtime, command, pattern, notRun, engine, paths }) {
  return new Promise((resolve) => {
    const name = `${runtime}, ${engine}`;
    const started = Date.now();
    console.log(`\n=== ${name}: BROKER_TEST_ENGINE=${engine} ${[...command, ...paths].join(" ")}`);
    const env = { ...process.env, NO_COLOR: "1", BROKER_TEST_ENGINE: engine };
    const child = spawn(command[0], [...command.slice(1), ...paths], { stdio: ["ignore", "pipe", "pipe"], env });
    let output = "";
    const tee = (target) => (chunk) => {
      output += chunk;
      target.write(chunk);
    };
    child.stdout.on("data", tee(process.stdout));
    child.stderr.on("data", tee(process.stderr));
    child.on("close", (code) => {
      const match = pattern.exec(output);
      const passed = match ? Number(match[1]) : 0;
      // A runner that crashed before counting still counts as a failure.
      const failed = match ? Number(match[2]) : 1;
      const skipped = [...output.matchAll(notRun)].reduce((sum, found) => sum + Number(found[1]), 0);
      resolve({ name, passed, failed: code !== 0 && failed === 0 ? 1 : failed, skipped, seconds: Math.round((Date.now() - started) / 1_000) });
    });
  });
}

const started = Date.now();
const totals = { passed: 0, failed: 0, skipped: 0 };
for (const each of runs) {
  const result = await run(each);
  console.log(`=== ${result.name}: ${result.passed} passed, ${result.failed} failed, ${result.skipped} not run (${result.seconds} s)`);
  for (const key of Object.keys(totals)) totals[key] += result[key];
}
console.log(`\n${totals.skipped} not run: tests of what their engine cannot show; ${Math.round((Date.now() - started) / 1_000)} s in all`);
console.log(`${totals.passed} passed, ${totals.failed} failed`);
process.exit(totals.failed === 0 ? 0 : 1);
