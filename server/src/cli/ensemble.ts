import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, type MemberAddress } from './config.js';

export interface EnsembleOptions {
  members: number;
  dir: string;
  host: string;
  /** Client ports are basePort, basePort+1, …; peer ports basePeerPort+…; admin ports baseAdminPort+…. */
  baseClientPort: number;
  basePeerPort: number;
  baseAdminPort: number;
  logLevel: string;
  tickMs?: number;
}

export const ENSEMBLE_DEFAULTS = {
  members: 3,
  host: '127.0.0.1',
  baseClientPort: 2181,
  basePeerPort: 2888,
  baseAdminPort: 8081,
  logLevel: 'info',
};

/** Writes one config file per member under dir and returns their paths and the connect string. */
export function writeEnsembleConfigs(options: EnsembleOptions): { configFiles: string[]; connectString: string; members: MemberAddress[] } {
  if (![1, 3, 5, 7].includes(options.members)) throw new ConfigError(`--members must be 1, 3, 5 or 7, not ${options.members}`);
  const members: MemberAddress[] = [];
  for (let i = 0; i < options.members; i++) {
    members.push({
      id: i + 1,
      host: options.host,
      clientPort: options.baseClientPort + i,
      peerPort: options.basePeerPort + i,
      adminPort: options.baseAdminPort + i,
    });
  }
  const configFiles = members.map((m) => {
    const dataDir = resolve(options.dir, `member-${m.id}`);
    mkdirSync(dataDir, { recursive: true });
    const file = resolve(options.dir, `member-${m.id}.json`);
    const config: Record<string, unknown> = { id: m.id, members, dataDir, logLevel: options.logLevel };
    if (options.tickMs !== undefined) config.tickMs = options.tickMs;
    writeFileSync(file, JSON.stringify(config, null, 2) + '\n');
    return file;
  });
  return { configFiles, connectString: members.map((m) => `${m.host}:${m.clientPort}`).join(','), members };
}

/**
 * `arbor ensemble`: a local ensemble of separate member processes. Ctrl-C (SIGINT) or SIGTERM
 * stops every member cleanly (each gets SIGTERM, so a leader hands over first) and waits.
 */
export async function runEnsemble(options: EnsembleOptions): Promise<number> {
  const { configFiles, connectString } = writeEnsembleConfigs(options);
  const main = fileURLToPath(new URL('./main.js', import.meta.url));
  const children: ChildProcess[] = configFiles.map((file) =>
    spawn(process.execPath, [main, 'server', '--config', file, '--parent-pid', String(process.pid)], {
      stdio: ['ignore', 'inherit', 'inherit'],
    }),
  );
  let stopping = false;
  const exited = children.map((child) => new Promise<number>((done) => child.once('exit', (code) => done(code ?? 1))));
  const stop = () => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('\nstopping the ensemble…\n');
    for (const child of children) child.kill('SIGTERM');
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.stdout.write(
    `Arbor ensemble of ${options.members} member(s), data in ${resolve(options.dir)}\n` +
      `connect string: ${connectString}\n` +
      `logs: ${join(resolve(options.dir))} (stderr of each member below); Ctrl-C stops it\n`,
  );
  const codes = await Promise.all(
    exited.map(async (p) => {
      const code = await p;
      if (!stopping) {
        process.stdout.write(`a member exited with code ${code}; stopping the others\n`);
        stop();
      }
      return code;
    }),
  );
  return codes.every((c) => c === 0) ? 0 : 1;
}
