#!/usr/bin/env node
/**
 * `arbor shell` (bin `arbor-shell`): connects, then runs `-c` commands, a script piped on
 * stdin, or an interactive readline loop. Exit codes: 0 success, 1 a command failed or the
 * connection could not be made, 2 bad usage, 130 interrupted (Ctrl-C). See docs/shell.md.
 */
import { createInterface } from 'node:readline';
import type { Interface } from 'node:readline';
import { connect, isFinalState, parseConnectString } from '../index.js';
import type { ArborClient, ConnectOptions } from '../index.js';
import { describeFailure } from './format.js';
import { SHELL_USAGE, UsageError, completeCommand, parseShellArgs } from './parse.js';
import type { ShellArgs } from './parse.js';
import { Shell, exitCode, planScript } from './shell.js';
import type { ShellOutput } from './shell.js';

const writeOut = (text: string): void => void process.stdout.write(`${text}\n`);
const writeErr = (text: string): void => void process.stderr.write(`${text}\n`);

function usageFailure(message: string): number {
  writeErr(`arbor shell: ${message}`);
  process.stderr.write(SHELL_USAGE);
  return 2;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

async function open(args: ShellArgs): Promise<ArborClient | undefined> {
  const options: ConnectOptions =
    args.timeoutMs !== undefined ? { connectTimeoutMs: args.timeoutMs, requestTimeoutMs: args.timeoutMs } : {};
  try {
    return await connect(args.connectString, options);
  } catch (error) {
    writeErr(`arbor shell: cannot connect to ${args.connectString}: ${describeFailure(error).line}`);
    return undefined;
  }
}

function onWatching(path: string, recursive: boolean): void {
  writeErr(`watching ${path}${recursive ? ' and its subtree' : ''}; Ctrl-C to stop`);
}

/** Runs a whole script (from -c or stdin); Ctrl-C interrupts it (twice: exits at once). */
async function runScript(client: ArborClient, args: ShellArgs, script: string): Promise<number> {
  const controller = new AbortController();
  const onSigint = (): void => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort(new Error('interrupted'));
  };
  process.on('SIGINT', onSigint);
  try {
    const shell = new Shell(client, { format: args.json ? 'json' : 'text', output: { out: writeOut, err: writeErr }, onWatching });
    const status = await shell.run(script, controller.signal);
    if (status === 'interrupted') writeErr('interrupted');
    return exitCode(status);
  } finally {
    process.off('SIGINT', onSigint);
  }
}

function promptFor(client: ArborClient, args: ShellArgs, count: number): string {
  return `[arbor: ${args.connectString}(${client.state}) ${count}] `;
}

/** The interactive loop: a prompt, readline's in-memory history and completion, Ctrl-C to stop a command. */
async function runInteractive(client: ArborClient, args: ShellArgs): Promise<number> {
  const rl: Interface = createInterface({
    input: process.stdin,
    output: process.stdout,
    terminal: true,
    historySize: 1000,
    removeHistoryDuplicates: true,
    completer: completeCommand,
  });
  let running: AbortController | undefined;
  /** Writes above the prompt, keeping what the user has typed so far. */
  const notice = (text: string): void => {
    if (running !== undefined) return writeOut(text);
    process.stdout.write(`\r\x1b[K${text}\n`);
    rl.prompt(true);
  };
  const output: ShellOutput = { out: writeOut, err: writeErr, notice };
  const shell = new Shell(client, { format: args.json ? 'json' : 'text', output, onWatching });
  const offState = client.on('state', (state, change) => {
    if (state === 'connected' || state === 'connecting') return;
    notice(`[${state}] ${change.reason}${isFinalState(state) ? ' — the session is over; quit and start the shell again' : ''}`);
  });
  rl.on('SIGINT', () => {
    if (running !== undefined) {
      running.abort(new Error('interrupted'));
      return;
    }
    // At the prompt: drop the line being typed, as a terminal shell does.
    rl.write(null, { ctrl: true, name: 'e' });
    rl.write(null, { ctrl: true, name: 'u' });
    process.stdout.write('^C\n');
    rl.prompt();
  });
  writeOut(
    `Connected to ${args.connectString} (session 0x${client.sessionId.toString(16)}). Type 'help' for the commands, 'quit' to leave.`,
  );
  rl.setPrompt(promptFor(client, args, 1));
  rl.prompt();
  try {
    for await (const line of rl) {
      if (line.trim() !== '') {
        running = new AbortController();
        const status = await shell.run(line, running.signal);
        running = undefined;
        if (status === 'interrupted') writeErr('interrupted');
        if (status === 'quit') break;
      }
      rl.setPrompt(promptFor(client, args, shell.history.length + 1));
      rl.prompt();
    }
  } finally {
    offState();
    rl.close();
  }
  return 0;
}

export async function main(argv: readonly string[]): Promise<number> {
  let args: ShellArgs;
  try {
    args = parseShellArgs(argv);
    parseConnectString(args.connectString);
  } catch (error) {
    if (error instanceof UsageError) return usageFailure(error.message);
    return usageFailure(`bad connect string: ${(error as Error).message}`);
  }
  if (args.help) {
    process.stdout.write(SHELL_USAGE);
    return 0;
  }
  let script = args.script;
  if (script === undefined && process.stdin.isTTY !== true) script = await readStdin();
  // A script with a usage error runs nothing, so it is rejected before connecting.
  if (script !== undefined) {
    const plan = planScript(script);
    if ('error' in plan) {
      writeErr(describeFailure(plan.error, plan.word !== undefined ? { command: plan.word } : {}).line);
      return 2;
    }
  }
  const client = await open(args);
  if (client === undefined) return 1;
  try {
    return script !== undefined ? await runScript(client, args, script) : await runInteractive(client, args);
  } finally {
    await client.close().catch(() => undefined);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.stdout.write('', () => process.exit(code)),
  (error: unknown) => {
    writeErr(`arbor shell: internal error: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
