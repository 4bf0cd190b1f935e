// Runs the one test suite under Bun and under Deno, then prints the totals of both.
import { spawn } from "node:child_process";

const runs = [
  { name: "bun", command: ["node_modules/.bin/bun", "test", "--timeout", "60000", "test/"], pattern: /^\s*(\d+) pass\s*$[\s\S]*?^\s*(\d+) fail\s*$/m },
  { name: "deno", command: ["node_modules/.bin/deno", "test", "--allow-all", "--no-lock", "test/"], pattern: /\|\s*(\d+) passed[^|]*\|\s*(\d+) failed/ },
];

function run({ name, command, pattern }) {
  return new Promise((resolve) => {
    console.log(`\n=== ${name}: ${command.join(" ")}`);
    const child = spawn(command[0], command.slice(1), { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
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
      resolve({ passed, failed: code !== 0 && failed === 0 ? 1 : failed });
    });
  });
}

let passed = 0;
let failed = 0;
for (const runner of runs) {
  const result = await run(runner);
  console.log(`=== ${runner.name}: ${result.passed} passed, ${result.failed} failed`);
  passed += result.passed;
  failed += result.failed;
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
