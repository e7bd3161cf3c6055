// Soak run of the simulator over many seeds:
//   node packages/raft/dist/sim/soak.js --seeds 10000 [--from 1] [--fault-ms 4000]
// Prints one line per failing seed with the command that replays it, then a summary; exits 1 on
// any failure. This package compiles without Node types, so the few host facilities it needs
// (argv, stdout, exit code, clock) are reached through globalThis.

import { runSimulation } from './workload.js';

interface HostProcess {
  readonly argv: readonly string[];
  exitCode?: number;
  readonly stdout: { write(text: string): void };
  hrtime: { bigint(): bigint };
}

const host = (globalThis as unknown as { process?: HostProcess }).process;

function option(args: readonly string[], name: string, fallback: number): number {
  const at = args.indexOf(name);
  if (at < 0) return fallback;
  const value = Number(args[at + 1]);
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} needs a non-negative integer`);
  return value;
}

function main(): void {
  if (host === undefined) throw new Error('soak.js runs under Node');
  const args = host.argv.slice(2);
  const seeds = option(args, '--seeds', 1000);
  const from = option(args, '--from', 1);
  const faultMs = option(args, '--fault-ms', 0);
  const out = (line: string): void => host.stdout.write(`${line}\n`);
  const started = host.hrtime.bigint();
  let failures = 0;
  let virtualMs = 0;
  for (let seed = from; seed < from + seeds; seed++) {
    const result = runSimulation(seed, faultMs > 0 ? { faultPhaseMs: faultMs } : {});
    virtualMs += result.virtualMs;
    if (!result.ok) {
      failures++;
      out(`FAIL seed=${seed} ${result.description}: ${result.error}`);
      out(`  replay: RAFT_SEED=${seed} npx vitest run packages/raft/test/sim.test.ts`);
    }
    if ((seed - from + 1) % 1000 === 0) out(`.. ${seed - from + 1}/${seeds} seeds, ${failures} failed`);
  }
  const wallMs = Number(host.hrtime.bigint() - started) / 1e6;
  out(
    `${seeds} seeds (${from}..${from + seeds - 1}), ${failures} failed, ${Math.round(wallMs)} ms wall, ${Math.round(virtualMs / 1000)} s virtual`,
  );
  host.exitCode = failures === 0 ? 0 : 1;
}

main();
