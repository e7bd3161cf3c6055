#!/usr/bin/env node
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { ConfigError, loadConfig, type MemberConfig } from './config.js';
import { ENSEMBLE_DEFAULTS, runEnsemble } from './ensemble.js';
import { createRootLogger, type Logger } from '../io/logger.js';
import { MemberServerError, startMemberServer, type MemberServer } from '../io/member-server.js';

/**
 * The `arbor` command. Exit codes: 0 clean stop, 1 runtime failure, 2 bad usage or config.
 * Output meant for people goes to stdout (connect string, usage); member logs go to stderr (JSON).
 */

const USAGE = `usage:
  arbor server --config FILE [--id N] [--members LIST] [--data-dir DIR] [--tick-ms N] …
               [--parent-pid PID]   (stop, as on SIGTERM, once process PID is gone)
  arbor ensemble [--members 1|3|5|7] [--dir DIR] [--host H] [--base-client-port P]
                 [--base-peer-port P] [--base-admin-port P] [--log-level L] [--tick-ms N]
  arbor shell --connect HOST:PORT,...[/chroot] [--json] [-c 'COMMANDS']   (docs/shell.md)
Settings of 'server' come from the JSON file, then ARBOR_* environment variables, then flags
(see docs/operations.md).
`;

export class UsageError extends Error {
  override name = 'UsageError';
}

/** `--name value` pairs; `--name=value` also works. A flag with no value is an error. */
export function parseFlags(args: readonly string[]): Record<string, string> {
  const flags: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (!arg.startsWith('--') || arg === '--') throw new UsageError(`unexpected argument '${arg}'`);
    const eq = arg.indexOf('=');
    if (eq > 0) {
      flags[arg.slice(2, eq)] = arg.slice(eq + 1);
      continue;
    }
    const value = args[i + 1];
    if (value === undefined || value.startsWith('--')) throw new UsageError(`flag ${arg} needs a value`);
    flags[arg.slice(2)] = value;
    i++;
  }
  return flags;
}

/** How often `--parent-pid` looks for its process. */
const PARENT_CHECK_MS = 500;

/** Whether process `pid` still exists (signal 0 checks without signalling). */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

async function runServer(args: readonly string[]): Promise<number> {
  const flags = parseFlags(args);
  const file = flags['config'];
  delete flags['config'];
  // Supervision, not a member setting: a test harness or a local ensemble that is killed (-9)
  // cannot stop its members, so they watch it and stop themselves.
  const parentFlag = flags['parent-pid'];
  delete flags['parent-pid'];
  const parentPid = parentFlag === undefined ? undefined : Number(parentFlag);
  if (parentPid !== undefined && !(Number.isInteger(parentPid) && parentPid > 0))
    throw new UsageError(`--parent-pid must be a process id, not '${parentFlag}'`);
  const config: MemberConfig = loadConfig({ ...(file === undefined ? {} : { file }), env: process.env, flags });
  const logger = createRootLogger({ memberId: config.id, level: config.logLevel });
  if (!config.members.some((m) => m.id === config.id)) throw new ConfigError(`id ${config.id} is not one of the members`);
  let server: MemberServer;
  try {
    server = await startMemberServer(config, logger);
  } catch (err) {
    const listening = err instanceof MemberServerError && err.stage === 'listen';
    process.stderr.write(`arbor: member ${config.id} ${listening ? 'cannot listen' : 'failed to start'}: ${(err as Error).message}\n`);
    return 1;
  }
  return await new Promise<number>((done) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'stopping');
      void shutdown(server, logger).then(done);
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    if (parentPid !== undefined) {
      const watch = setInterval(() => {
        if (processExists(parentPid)) return;
        clearInterval(watch);
        stop(`parent process ${parentPid} is gone`);
      }, PARENT_CHECK_MS);
      watch.unref();
    }
  });
}

async function shutdown(server: MemberServer, logger: Logger): Promise<number> {
  try {
    await server.stop();
    return 0;
  } catch (err) {
    logger.error({ err: (err as Error).message }, 'unclean stop');
    return 1;
  }
}

function intFlag(flags: Record<string, string>, name: string, fallback: number): number {
  const value = flags[name];
  delete flags[name];
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`--${name} must be an integer, not '${value}'`);
  return n;
}

async function runEnsembleCommand(args: readonly string[]): Promise<number> {
  const flags = parseFlags(args);
  const options = {
    members: intFlag(flags, 'members', ENSEMBLE_DEFAULTS.members),
    baseClientPort: intFlag(flags, 'base-client-port', ENSEMBLE_DEFAULTS.baseClientPort),
    basePeerPort: intFlag(flags, 'base-peer-port', ENSEMBLE_DEFAULTS.basePeerPort),
    baseAdminPort: intFlag(flags, 'base-admin-port', ENSEMBLE_DEFAULTS.baseAdminPort),
    tickMs: intFlag(flags, 'tick-ms', 0),
    dir: flags['dir'] ?? '.arbor-data',
    host: flags['host'] ?? ENSEMBLE_DEFAULTS.host,
    logLevel: flags['log-level'] ?? ENSEMBLE_DEFAULTS.logLevel,
  };
  delete flags['dir'];
  delete flags['host'];
  delete flags['log-level'];
  const unknown = Object.keys(flags);
  if (unknown.length > 0) throw new UsageError(`unknown flag --${unknown[0]} for 'arbor ensemble'`);
  const { tickMs, ...rest } = options;
  return runEnsemble(tickMs > 0 ? { ...rest, tickMs } : rest);
}

/** Finds the client package's shell script without importing the client (server must not depend on it). */
function findShell(): string | undefined {
  const require = createRequire(import.meta.url);
  let pkgFile: string;
  try {
    pkgFile = require.resolve('@arbor/client/package.json');
  } catch {
    return undefined;
  }
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { bin?: string | Record<string, string> };
  const bin = typeof pkg.bin === 'string' ? pkg.bin : (pkg.bin?.['arbor-shell'] ?? Object.values(pkg.bin ?? {})[0]);
  return bin === undefined ? undefined : resolve(dirname(pkgFile), bin);
}

function runShell(args: readonly string[]): Promise<number> {
  const script = findShell();
  if (script === undefined) {
    process.stderr.write('arbor: the shell is not available: the @arbor/client package (with a "bin" shell) is not installed\n');
    return Promise.resolve(2);
  }
  return new Promise((done) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: 'inherit' });
    child.once('error', (err) => {
      process.stderr.write(`arbor: cannot start the shell ${script}: ${err.message}\n`);
      done(1);
    });
    child.once('exit', (code) => done(code ?? 1));
  });
}

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'server':
        return await runServer(rest);
      case 'ensemble':
        return await runEnsembleCommand(rest);
      case 'shell':
        return await runShell(rest);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command '${command}'`);
    }
  } catch (err) {
    if (err instanceof ConfigError || err instanceof UsageError) {
      process.stderr.write(`arbor: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    throw err;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`arbor: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
