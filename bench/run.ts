import { readdir } from "node:fs/promises";
import { type Benchmark, pendingCleanups } from "./lib.ts";

/** `npm run bench -- <name> [args]` runs bench/<name>.ts; with no name, lists them. */
const DEFAULT_TIME_LIMIT_S = 60;
const NOT_BENCHMARKS = new Set(["run", "lib"]);

const dir = new URL("./", import.meta.url);
const names = (await readdir(dir))
  .filter((file) => file.endsWith(".ts"))
  .map((file) => file.slice(0, -3))
  .filter((name) => !NOT_BENCHMARKS.has(name))
  .sort();

const load = (name: string): Promise<Benchmark> => import(new URL(`${name}.ts`, dir).href);

const [name, ...args] = process.argv.slice(2);
if (!name) {
  console.log("usage: npm run bench -- <name> [args]\n");
  for (const each of names) console.log(`  ${each.padEnd(10)} ${(await load(each)).description ?? ""}`);
} else if (!names.includes(name)) {
  console.error(`unknown benchmark "${name}"; one of: ${names.join(", ")}`);
  process.exitCode = 1;
} else {
  const benchmark = await load(name);
  const limitSeconds = benchmark.timeLimitSeconds ?? DEFAULT_TIME_LIMIT_S;
  // Every run stops by itself: past the limit, clean up what is owed and leave.
  const watchdog = setTimeout(async () => {
    console.error(`\n${name}: stopped after ${limitSeconds} s`);
    await Promise.allSettled([...pendingCleanups].map((cleanup) => cleanup()));
    process.exit(1);
  }, limitSeconds * 1000);
  watchdog.unref();

  const started = performance.now();
  console.log(`${name}: node ${process.version}, pid ${process.pid}`);
  await benchmark.default(args);
  clearTimeout(watchdog);
  console.log(`\n${name}: done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
