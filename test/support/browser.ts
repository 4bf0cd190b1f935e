// Browser tests drive the Chromium that @sparticuz/chromium ships inside its npm package, so every
// machine runs the same build with nothing installed beyond `npm install`, and no root.
import { spawnSync } from "node:child_process";
import { createReadStream, createWriteStream, existsSync, readFileSync } from "node:fs";
import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { brotliDecompressSync, createBrotliDecompress } from "node:zlib";
import { type Browser, chromium } from "playwright-core";

const PACKAGE_DIR = fileURLToPath(new URL("../../node_modules/@sparticuz/chromium/", import.meta.url));
const PACKAGE_VERSION: string = JSON.parse(readFileSync(join(PACKAGE_DIR, "package.json"), "utf8")).version;
// Not the package's own unpacking: it reuses whatever /tmp/chromium holds, of any version, half-written
// by a concurrent run or not, and unpacks the libraries below only on AWS Lambda.
const UNPACKED_DIR = join(tmpdir(), `sparticuz-chromium-${PACKAGE_VERSION}`);
// Without the background-networking flags Chromium keeps calling hosts this machine's closed network refuses.
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"];

let unpacked: Promise<void> | undefined;

/**
 * Starts headless Chromium from @sparticuz/chromium under playwright-core. Throws, naming the
 * package and the cause, if it cannot start: there is no fallback to another browser. A second
 * attempt follows a failed first one: Chromium has been seen to crash (SIGSEGV) while starting,
 * once in many runs, before any page of the broker was loaded.
 */
export async function launchChromium(): Promise<Browser> {
  const executablePath = join(UNPACKED_DIR, "chromium");
  unpacked ??= existsSync(UNPACKED_DIR) ? Promise.resolve() : unpackAtomically(UNPACKED_DIR);
  try {
    await unpacked;
    return await launch(executablePath).catch(() => launch(executablePath));
  } catch (error) {
    throw new Error(`Chromium from @sparticuz/chromium ${PACKAGE_VERSION} (${executablePath}) did not start: ${(error as Error).message}`, { cause: error });
  }
}

function launch(executablePath: string): Promise<Browser> {
  return chromium.launch({
    executablePath,
    args: ARGS,
    // The package's NSS, NSPR and expat, so the binary needs nothing from the machine but glibc; and its fonts.
    env: { ...process.env, LD_LIBRARY_PATH: join(UNPACKED_DIR, "lib"), FONTCONFIG_FILE: join(UNPACKED_DIR, "fonts.conf") },
  });
}

/** Unpacks the package's binary, libraries and fonts into `dir` whole or not at all. */
async function unpackAtomically(dir: string): Promise<void> {
  const staging = await mkdtemp(`${dir}.partial-`);
  try {
    const bin = join(PACKAGE_DIR, "bin");
    untar(join(bin, "al2023.tar.br"), staging);
    untar(join(bin, "fonts.tar.br"), staging);
    await pipeline(createReadStream(join(bin, "chromium.br")), createBrotliDecompress(), createWriteStream(join(staging, "chromium"), { mode: 0o755 }));
    // The shipped fonts.conf names /tmp/fonts; point fontconfig at this copy instead.
    await writeFile(join(staging, "fonts.conf"), `<fontconfig><dir>${dir}/fonts</dir><cachedir>${dir}/fonts-cache</cachedir></fontconfig>\n`);
    await rename(staging, dir).catch((error) => {
      if (!existsSync(dir)) throw error; // otherwise a concurrent run got there first
    });
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** Whole in memory (a few MB): Bun 1.4.5 closed a streamed child stdin early when two streamed at once. */
function untar(archive: string, into: string): void {
  const tar = spawnSync("tar", ["-x", "-C", into], { input: brotliDecompressSync(readFileSync(archive)), stdio: ["pipe", "ignore", "pipe"] });
  if (tar.status !== 0) throw new Error(`tar failed on ${archive}: ${tar.error?.message ?? tar.stderr}`);
}
