// `npm run bench [-- name ...]`: runs every benchmark script in this folder (or the named ones),
// one after another in its own process so that one workload's heap and JIT state do not colour
// the next. Each script prints its own table and JSON; docs/benchmarks.md records the figures.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const available = readdirSync(here)
  .filter((f) => f.endsWith('.js') && f !== 'run.js' && !f.startsWith('_'))
  .map((f) => f.replace(/\.js$/, ''))
  .sort();
// Arguments that name a script choose it; every other one (flags and their values, such as
// `--compare zookeeper`) goes to each script run.
const args = process.argv.slice(2);
const wanted = args.filter((a) => available.includes(a));
const passThrough = args.filter((a) => !available.includes(a));
const scripts = available.filter((name) => wanted.length === 0 || wanted.includes(name)).map((name) => `${name}.js`);
let failures = 0;
for (const script of scripts) {
  console.log(`\n=== bench: ${script.replace(/\.js$/, '')} ===`);
  const result = spawnSync(process.execPath, ['--expose-gc', join(here, script), ...passThrough], { stdio: 'inherit' });
  if (result.status !== 0) failures++;
}
process.exit(failures === 0 ? 0 : 1);
