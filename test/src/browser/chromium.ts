// Headless Chromium for the browser test: one process group per launch, a throwaway profile
// directory, and a stop() that kills the group by PID and removes the directory.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CHROMIUM = '/usr/bin/chromium';
const STOP_WAIT_MS = 5_000;

export interface Chromium {
  pid: number;
  /** The last lines Chromium wrote to stderr, for failure messages. */
  stderr(): string;
  stop(): Promise<void>;
}

/** Fails (never skips) when the browser is missing: the test is part of CI, which installs it. */
export function requireChromium(): void {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: the browser test needs Chromium (apt-get update && apt-get install -y chromium)`);
  }
}

export function launchChromium(url: string): Chromium {
  requireChromium();
  const profile = mkdtempSync(join(tmpdir(), 'arbor-chromium-'));
  // detached: its own process group, so that stop() also reaches the renderer and GPU helpers.
  const child: ChildProcess = spawn(
    CHROMIUM,
    ['--headless=new', '--no-sandbox', '--disable-gpu', `--user-data-dir=${profile}`, '--no-first-run', '--no-default-browser-check', url],
    { detached: true, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  if (child.pid === undefined) {
    rmSync(profile, { recursive: true, force: true });
    throw new Error(`could not start ${CHROMIUM}`);
  }
  const pid = child.pid;
  const log: string[] = [];
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    log.push(chunk);
    if (log.length > 200) log.splice(0, 100);
  });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  let stopped: Promise<void> | undefined;
  return {
    pid,
    stderr: () => log.join('').split('\n').slice(-40).join('\n'),
    stop: () =>
      (stopped ??= (async () => {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
        }
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, STOP_WAIT_MS).unref())]);
        rmSync(profile, { recursive: true, force: true, maxRetries: 3, retryDelay: 100 });
      })()),
  };
}
