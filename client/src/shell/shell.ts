/**
 * The shell without its terminal: takes a line or a script, parses every command in it first
 * (a usage error runs nothing), then runs them in order and stops at the first failure. Output
 * goes to an injected {@link ShellOutput}, so tests drive it with strings and a fake ensemble;
 * main.ts adds readline, signals and the process.
 */
import type { ArborClient } from '../index.js';
import { runCommand } from './commands.js';
import { describeFailure, formatResult } from './format.js';
import type { OutputFormat, Result } from './format.js';
import { parseCommand, splitCommands } from './parse.js';
import type { Command } from './parse.js';

/** How a line or script ended. */
export type Status = 'ok' | 'failed' | 'usage' | 'quit' | 'interrupted';

/** The exit code a script's status maps to (see docs/shell.md). */
export function exitCode(status: Status): number {
  switch (status) {
    case 'ok':
    case 'quit':
      return 0;
    case 'failed':
      return 1;
    case 'usage':
      return 2;
    case 'interrupted':
      return 130;
  }
}

export interface ShellOutput {
  /** A command's output (stdout): text without the final newline. */
  out(text: string): void;
  /** An error line (stderr), without the final newline. */
  err(text: string): void;
  /** Output that arrives between commands (a `get -w` watch firing); default {@link out}. */
  notice?(text: string): void;
}

export interface ShellOptions {
  format: OutputFormat;
  output: ShellOutput;
  /** Told when a `watch` is registered (main prints a note on stderr). */
  onWatching?(path: string, recursive: boolean): void;
  /** "Now" in ms since the epoch, for `lock` and `election` wait times. Default Date.now. */
  now?(): number;
}

/** A function, so that TypeScript does not narrow `aborted` across awaits. */
function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

interface Planned {
  command: Command;
  text: string;
}

/** Parses a whole line or script; the first usage error, if any. */
export function planScript(script: string): { planned: Planned[] } | { error: unknown; text: string; word?: string } {
  let commands;
  try {
    commands = splitCommands(script);
  } catch (error) {
    return { error, text: script.trim() };
  }
  const planned: Planned[] = [];
  for (const { words, text } of commands) {
    try {
      planned.push({ command: parseCommand(words), text });
    } catch (error) {
      return words[0] !== undefined ? { error, text, word: words[0] } : { error, text };
    }
  }
  return { planned };
}

export class Shell {
  /** Every command run (or attempted), as typed. Kept in memory only. */
  readonly history: string[] = [];

  constructor(
    private readonly client: ArborClient,
    private readonly options: ShellOptions,
  ) {}

  /**
   * Runs the commands of a line or script in order. Stops at the first that fails ('failed'),
   * at `quit`, or when `signal` aborts ('interrupted'); a usage error anywhere runs nothing.
   */
  async run(script: string, signal?: AbortSignal): Promise<Status> {
    const plan = planScript(script);
    if ('error' in plan) {
      if (plan.text !== '') this.history.push(plan.text);
      this.fail(plan.error, plan.word !== undefined ? { command: plan.word } : {});
      return 'usage';
    }
    for (const { command, text } of plan.planned) {
      if (isAborted(signal)) return 'interrupted';
      this.history.push(text);
      if (command.name === 'quit') return 'quit';
      try {
        await runCommand(command, {
          client: this.client,
          emit: (result) => this.print(result),
          notify: (result) => this.print(result, true),
          history: this.history,
          ...(signal !== undefined ? { signal } : {}),
          ...(this.options.onWatching !== undefined ? { onWatching: this.options.onWatching } : {}),
          ...(this.options.now !== undefined ? { now: this.options.now } : {}),
        });
      } catch (error) {
        if (isAborted(signal)) return 'interrupted';
        this.fail(error, {
          command: command.name,
          ...('path' in command ? { path: command.path } : {}),
          ...(command.name === 'addauth' ? { path: command.scheme } : {}),
        });
        return 'failed';
      }
      if (isAborted(signal)) return 'interrupted';
    }
    return 'ok';
  }

  private print(result: Result, later = false): void {
    const text = formatResult(result, this.options.format);
    if (text === '') return;
    const { output } = this.options;
    if (later) (output.notice ?? output.out).call(output, text);
    else output.out(text);
  }

  private fail(error: unknown, context: { command?: string; path?: string }): void {
    const failure = describeFailure(error, context);
    this.options.output.err(failure.line);
    if (this.options.format === 'json') this.options.output.out(failure.json);
  }
}
