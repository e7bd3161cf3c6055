#!/usr/bin/env node
// Checks the dependency rules of shared/ARCHITECTURE.md against the imports in each package's src/.
// Usage: node check-layers.mjs [projectRoot]   (exit 1 when a rule is broken)
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

const root = process.argv[2] ?? process.cwd();
// package dir -> what its src/ may import besides relative paths and node: builtins
// (the longest matching directory wins: server/src/core is stricter than the rest of server)
const rules = {
  'packages/protocol': { allow: ['msgpackr'], builtins: true },
  'packages/raft': { allow: [], builtins: false },
  'packages/tree': { allow: ['@arbor/protocol'], builtins: false },
  client: { allow: ['@arbor/protocol', 'ws'], builtins: true },
  server: { allow: ['@arbor/protocol', '@arbor/raft', '@arbor/tree', 'ws', 'better-sqlite3', 'pino'], builtins: true },
  // the test kit runs the built server as processes and drives clients; nothing imports it back
  'packages/testing': { allow: ['@arbor/client', '@arbor/server'], builtins: true },
  'server/src/core': { allow: ['@arbor/protocol', '@arbor/raft', '@arbor/tree'], builtins: false },
};
// builtins a pure part may still use: none that reach I/O or a clock
const pureBuiltins = new Set([]);
// layers inside one package, reached by relative imports: a directory -> those it must not reach
// (the member's logic knows no I/O; the edges know nothing of the command around them)
const innerLayers = {
  'server/src/core': ['server/src/io', 'server/src/cli'],
  'server/src/io': ['server/src/cli'],
};

function* files(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = statSync(p);
    if (s.isDirectory()) {
      if (name !== 'node_modules' && name !== 'dist') yield* files(p);
    } else if (/\.(ts|mts|js|mjs)$/.test(name) && !/\.(test|spec)\./.test(name)) yield p;
  }
}
const specRe =
  /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|require\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s*['"]([^'"]+)['"]/gm;
let broken = 0,
  checked = 0;
const dirs = Object.keys(rules);
const ruleFor = (file) => dirs.filter((d) => file.startsWith(join(root, d) + '/')).sort((a, b) => b.length - a.length)[0];
for (const [pkg] of Object.entries(rules)) {
  const src = pkg.endsWith('/src/core') ? join(root, pkg) : join(root, pkg, 'src');
  if (!existsSync(src)) continue;
  for (const f of files(src)) {
    const owner = ruleFor(f);
    if (owner !== pkg) continue; // a stricter rule owns this file
    const rule = rules[pkg];
    checked++;
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(specRe)) {
      const spec = m[1] ?? m[2] ?? m[3] ?? m[4];
      if (!spec) continue;
      if (spec.startsWith('.')) {
        const from = relative(root, f);
        const target = relative(root, join(dirname(f), spec));
        const layer = Object.keys(innerLayers).find((d) => from.startsWith(d + '/'));
        const reached = layer && innerLayers[layer].find((d) => target === d || target.startsWith(d + '/'));
        if (reached) {
          broken++;
          console.log(`${from}: imports '${spec}', which reaches ${reached}; ${layer} may not depend on it`);
        }
        continue;
      }
      if (spec.startsWith('/')) continue;
      const isBuiltin =
        spec.startsWith('node:') ||
        [
          'fs',
          'net',
          'http',
          'https',
          'path',
          'os',
          'child_process',
          'events',
          'stream',
          'crypto',
          'util',
          'assert',
          'timers',
          'worker_threads',
          'dgram',
          'tls',
          'url',
          'zlib',
          'readline',
          'perf_hooks',
        ].includes(spec.split('/')[0]);
      const base = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
      const ok = isBuiltin ? rule.builtins || pureBuiltins.has(spec) : rule.allow.includes(base);
      if (!ok) {
        broken++;
        console.log(`${relative(root, f)}: imports '${spec}', which ${pkg} may not use`);
      }
    }
  }
}
if (broken) console.log(`${broken} import(s) break the dependency rules in ARCHITECTURE.md (${checked} files read)`);
process.exit(broken ? 1 : 0);
