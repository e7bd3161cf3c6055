/**
 * The shell's grammar, pure: splitting a line or script into commands and words (with sh-like
 * quoting), the command table (name, usage, options — defined once, also used by `help` and
 * completion), parsing one command's words into a typed {@link Command}, and parsing the
 * shell's own command line. Every rejection is a {@link UsageError} (exit code 2).
 */
import { DEFAULT_SERVICES_PATH } from '../index.js';
import type { ACL, CreateModeName } from '../index.js';
import { parseAclText } from './acl-text.js';

/** Bad usage: an unknown command or option, a missing argument, unbalanced quotes. */
export class UsageError extends Error {
  override name = 'UsageError';
  constructor(
    message: string,
    /** The command whose usage was wrong, when known (its usage line is shown with the message). */
    readonly command?: string,
  ) {
    super(message);
  }
}

// ---- words and commands ------------------------------------------------------------------------

/** One command of a line or script: its words, and its text as written (for history). */
export interface CommandText {
  words: string[];
  text: string;
}

/**
 * Splits a line or a script into commands and their words. Commands end at `;` or a newline;
 * words are separated by blanks. `'…'` quotes literally; `"…"` quotes with `\\`, `\"`, `\$`
 * and `` \` `` escapes (any other backslash stays); outside quotes `\x` is a literal x; a `#`
 * at the start of a word begins a comment up to the end of the line. Empty commands are dropped.
 * Throws UsageError on an unterminated quote or a trailing backslash.
 */
export function splitCommands(script: string): CommandText[] {
  const commands: CommandText[] = [];
  let words: string[] = [];
  let word: string | null = null;
  let start = 0;
  const endWord = (): void => {
    if (word !== null) words.push(word);
    word = null;
  };
  const endCommand = (end: number): void => {
    endWord();
    if (words.length > 0) commands.push({ words, text: script.slice(start, end).trim() });
    words = [];
    start = end + 1;
  };
  for (let i = 0; i < script.length; i++) {
    const c = script[i] as string;
    if (c === ';' || c === '\n') {
      endCommand(i);
    } else if (c === ' ' || c === '\t' || c === '\r') {
      endWord();
    } else if (c === '#' && word === null) {
      const newline = script.indexOf('\n', i);
      const end = newline < 0 ? script.length : newline;
      // The comment is not part of the command's text.
      endWord();
      if (words.length > 0) commands.push({ words, text: script.slice(start, i).trim() });
      words = [];
      start = end + 1;
      i = end;
    } else if (c === "'") {
      const close = script.indexOf("'", i + 1);
      if (close < 0) throw new UsageError('unterminated single quote');
      word = (word ?? '') + script.slice(i + 1, close);
      i = close;
    } else if (c === '"') {
      let text = '';
      let j = i + 1;
      for (; j < script.length && script[j] !== '"'; j++) {
        const d = script[j] as string;
        const next = script[j + 1];
        if (d === '\\' && next !== undefined && '\\"$`'.includes(next)) {
          text += next;
          j++;
        } else text += d;
      }
      if (j >= script.length) throw new UsageError('unterminated double quote');
      word = (word ?? '') + text;
      i = j;
    } else if (c === '\\') {
      const next = script[i + 1];
      if (next === undefined) throw new UsageError('a backslash at the end of the input escapes nothing');
      // A backslash-newline joins lines, as in sh.
      if (next !== '\n') word = (word ?? '') + next;
      i++;
    } else {
      word = (word ?? '') + c;
    }
  }
  endCommand(script.length);
  return commands;
}

const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** A word written so that {@link splitCommands} reads it back unchanged (single-quoted unless plain). */
export function quoteWord(word: string): string {
  if (SAFE_WORD.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

// ---- the command table ---------------------------------------------------------------------

/** An option: a flag (boolean) or one that takes a value, with its kind. */
interface OptionSpec {
  /** The key in the parsed options. */
  key: string;
  value?: 'int' | 'string';
  /** For 'int' values: the smallest allowed. */
  min?: number;
  /** What `help NAME` calls the value (default N). */
  valueName?: string;
  help: string;
}

export interface CommandSpec {
  name: string;
  /** Other names it answers to (all names match case-insensitively). */
  aliases?: string[];
  /** The synopsis, e.g. `ls [-R] [-s] path`. */
  usage: string;
  summary: string;
  /** An example for the docs and `help NAME`. */
  example: string;
  options: Record<string, OptionSpec>;
  /** Positional arguments: names, and how many are required. */
  args: string[];
  required: number;
}

const VERSION: OptionSpec = { key: 'version', value: 'int', min: -1, help: 'expected version; -1 (default) matches any' };

/** Every command, in the order `help` lists them. */
export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'ls',
    usage: 'ls [-R] [-s] path',
    summary: "list a node's children (-R: every descendant's path, -s: also the node's stat)",
    example: 'ls -R /app',
    options: { '-R': { key: 'recursive', help: 'recursive' }, '-s': { key: 'stat', help: 'print the stat' } },
    args: ['path'],
    required: 1,
  },
  {
    name: 'get',
    usage: 'get [-s] [-w] path',
    summary: "print a node's data (-s: also its stat, -w: leave a watch, printed when it fires)",
    example: 'get -s /app/config',
    options: { '-s': { key: 'stat', help: 'print the stat' }, '-w': { key: 'watch', help: 'set a one-shot watch' } },
    args: ['path'],
    required: 1,
  },
  {
    name: 'stat',
    usage: 'stat path',
    summary: "print a node's stat",
    example: 'stat /app',
    options: {},
    args: ['path'],
    required: 1,
  },
  {
    name: 'set',
    usage: 'set [-v version] path data',
    summary: "replace a node's data (with -v only if its version matches)",
    example: 'set -v 0 /app/config \'{"debug":true}\'',
    options: { '-v': VERSION },
    args: ['path', 'data'],
    required: 2,
  },
  {
    name: 'create',
    usage: 'create [-e] [-s] [-c] [-t ttlMs] path [data] [acl]',
    summary: 'create a node: -e ephemeral, -s sequential, -c container, -t TTL in ms (persistent only)',
    example: "create -e -s /app/workers/w- 'host-1'",
    options: {
      '-e': { key: 'ephemeral', help: 'ephemeral' },
      '-s': { key: 'sequential', help: 'sequential' },
      '-c': { key: 'container', help: 'container' },
      '-t': { key: 'ttlMs', value: 'int', min: 1, help: 'TTL in ms' },
    },
    args: ['path', 'data', 'acl'],
    required: 1,
  },
  {
    name: 'delete',
    usage: 'delete [-v version] path',
    summary: 'delete a node that has no children (with -v only if its version matches)',
    example: 'delete -v 3 /app/config',
    options: { '-v': VERSION },
    args: ['path'],
    required: 1,
  },
  {
    name: 'deleteall',
    aliases: ['rmr'],
    usage: 'deleteall path',
    summary: 'delete a node and everything below it',
    example: 'deleteall /app/tmp',
    options: {},
    args: ['path'],
    required: 1,
  },
  {
    name: 'sync',
    usage: 'sync path',
    summary: 'wait until the member has applied every committed write',
    example: 'sync /',
    options: {},
    args: ['path'],
    required: 1,
  },
  {
    name: 'watch',
    usage: 'watch [-R] [--count N] path',
    summary: 'print changes to a node (-R: its whole subtree) until Ctrl-C, or until N events',
    example: 'watch -R --count 10 /app',
    options: {
      '-R': { key: 'recursive', help: 'recursive' },
      '--count': { key: 'count', value: 'int', min: 1, help: 'stop after N events' },
    },
    args: ['path'],
    required: 1,
  },
  {
    name: 'getAcl',
    usage: 'getAcl path',
    summary: "print a node's ACL, one scheme:id:perms entry a line",
    example: 'getAcl /app',
    options: {},
    args: ['path'],
    required: 1,
  },
  {
    name: 'setAcl',
    usage: 'setAcl [-v version] path acl',
    summary: "replace a node's ACL, e.g. world:anyone:r,digest:user:hash:cdrwa (-v: expected aversion)",
    example: 'setAcl /app world:anyone:r,auth::cdrwa',
    options: { '-v': { ...VERSION, help: 'expected ACL version (aversion); -1 (default) matches any' } },
    args: ['path', 'acl'],
    required: 2,
  },
  {
    name: 'addauth',
    usage: 'addauth scheme credentials',
    summary: 'add credentials to the session, e.g. addauth digest user:password',
    example: 'addauth digest alice:secret',
    options: {},
    args: ['scheme', 'credentials'],
    required: 2,
  },
  {
    name: 'whoami',
    usage: 'whoami',
    summary: 'print the identities the session is authenticated as',
    example: 'whoami',
    options: {},
    args: [],
    required: 0,
  },
  {
    name: 'lock',
    usage: 'lock path',
    summary: 'print who holds and who waits for a mutex, read-write lock or semaphore (sessions, waits, fencing tokens)',
    example: 'lock /app/locks/db',
    options: {},
    args: ['path'],
    required: 1,
  },
  {
    name: 'election',
    usage: 'election path',
    summary: "print an election's leader (id, payload, session) and the candidates queued behind it",
    example: 'election /app/election',
    options: {},
    args: ['path'],
    required: 1,
  },
  {
    name: 'services',
    usage: 'services [--root path] [name]',
    summary: `list the services under the discovery root (default ${DEFAULT_SERVICES_PATH}), or one service's instances`,
    example: 'services api',
    options: {
      '--root': { key: 'root', value: 'string', valueName: 'PATH', help: `the discovery root (default ${DEFAULT_SERVICES_PATH})` },
    },
    args: ['name'],
    required: 0,
  },
  {
    name: 'history',
    usage: 'history',
    summary: 'print the commands run so far',
    example: 'history',
    options: {},
    args: [],
    required: 0,
  },
  {
    name: 'help',
    usage: 'help [command]',
    summary: 'list the commands, or show one',
    example: 'help create',
    options: {},
    args: ['command'],
    required: 0,
  },
  {
    name: 'quit',
    aliases: ['exit'],
    usage: 'quit',
    summary: 'leave the shell',
    example: 'quit',
    options: {},
    args: [],
    required: 0,
  },
];

const BY_NAME = new Map<string, CommandSpec>(
  COMMANDS.flatMap((spec) => [spec.name, ...(spec.aliases ?? [])].map((name) => [name.toLowerCase(), spec] as const)),
);

/** The command a name means (case-insensitive, aliases included), or undefined. */
export function findCommand(name: string): CommandSpec | undefined {
  return BY_NAME.get(name.toLowerCase());
}

// ---- parsed commands -------------------------------------------------------------------------

export type Command =
  | { name: 'ls'; path: string; recursive: boolean; stat: boolean }
  | { name: 'get'; path: string; stat: boolean; watch: boolean }
  | { name: 'stat'; path: string }
  | { name: 'set'; path: string; data: string; version: number }
  | { name: 'create'; path: string; data: string | null; mode: CreateModeName; ttlMs?: number; acl?: ACL[] }
  | { name: 'delete'; path: string; version: number }
  | { name: 'deleteall'; path: string }
  | { name: 'sync'; path: string }
  | { name: 'watch'; path: string; recursive: boolean; count?: number }
  | { name: 'getAcl'; path: string }
  | { name: 'setAcl'; path: string; acl: ACL[]; version: number }
  | { name: 'addauth'; scheme: string; credentials: string }
  | { name: 'whoami' }
  | { name: 'lock'; path: string }
  | { name: 'election'; path: string }
  /** `path` is the node read: the root, or the service's node under it. */
  | { name: 'services'; root: string; service?: string; path: string }
  | { name: 'history' }
  | { name: 'help'; command?: string }
  | { name: 'quit' };

export type CommandName = Command['name'];

interface Parsed {
  flags: Record<string, boolean>;
  values: Record<string, number | string>;
  args: string[];
}

/** Options anywhere among the arguments; `--` ends them; `-` alone is an argument. */
function parseWords(spec: CommandSpec, words: readonly string[]): Parsed {
  const parsed: Parsed = { flags: {}, values: {}, args: [] };
  let optionsEnded = false;
  for (let i = 0; i < words.length; i++) {
    const word = words[i] as string;
    if (!optionsEnded && word === '--') {
      optionsEnded = true;
      continue;
    }
    if (optionsEnded || !word.startsWith('-') || word === '-') {
      parsed.args.push(word);
      continue;
    }
    const [flag, inline] =
      word.startsWith('--') && word.includes('=')
        ? [word.slice(0, word.indexOf('=')), word.slice(word.indexOf('=') + 1)]
        : [word, undefined];
    const option = spec.options[flag];
    if (option === undefined) throw new UsageError(`unknown option '${flag}' (use -- before an argument that starts with '-')`, spec.name);
    if (option.value === undefined) {
      if (inline !== undefined) throw new UsageError(`option ${flag} takes no value`, spec.name);
      parsed.flags[option.key] = true;
      continue;
    }
    const text = inline ?? words[++i];
    if (text === undefined) throw new UsageError(`option ${flag} needs a value`, spec.name);
    parsed.values[option.key] = option.value === 'int' ? parseInteger(spec.name, flag, text, option.min ?? 0) : text;
  }
  if (parsed.args.length < spec.required) {
    throw new UsageError(`missing ${spec.args.slice(parsed.args.length, spec.required).join(' and ')}`, spec.name);
  }
  if (parsed.args.length > spec.args.length) {
    throw new UsageError(`unexpected argument '${parsed.args[spec.args.length] as string}'`, spec.name);
  }
  return parsed;
}

function parseInteger(command: string, flag: string, text: string, min: number): number {
  const value = /^-?\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new UsageError(`${flag} needs an integer ${min === 1 ? '≥ 1' : `≥ ${min}`}, not '${text}'`, command);
  }
  return value;
}

/** The creation mode the create flags stand for; rejects combinations that have none. */
export function createModeFor(flags: { ephemeral?: boolean; sequential?: boolean; container?: boolean; ttl?: boolean }): CreateModeName {
  const { ephemeral = false, sequential = false, container = false, ttl = false } = flags;
  if (container) {
    if (ephemeral || sequential || ttl) throw new UsageError('-c (container) cannot be combined with -e, -s or -t', 'create');
    return 'CONTAINER';
  }
  if (ttl) {
    if (ephemeral) throw new UsageError('-t (TTL) is for persistent nodes: it cannot be combined with -e', 'create');
    return sequential ? 'PERSISTENT_SEQUENTIAL_WITH_TTL' : 'PERSISTENT_WITH_TTL';
  }
  if (ephemeral) return sequential ? 'EPHEMERAL_SEQUENTIAL' : 'EPHEMERAL';
  return sequential ? 'PERSISTENT_SEQUENTIAL' : 'PERSISTENT';
}

function aclArgument(command: string, text: string): ACL[] {
  try {
    return parseAclText(text);
  } catch (error) {
    throw new UsageError((error as Error).message, command);
  }
}

/** The `services` command: a service name is one path segment under the root. */
function servicesCommand(root: string, service: string | undefined): Command {
  if (root === '') throw new UsageError('--root needs a path', 'services');
  if (service === undefined) return { name: 'services', root, path: root };
  if (service === '' || service === '.' || service === '..' || service.includes('/')) {
    throw new UsageError(`a service name is one path segment, not '${service}'`, 'services');
  }
  return { name: 'services', root, service, path: root === '/' ? `/${service}` : `${root}/${service}` };
}

/** Parses one command's words (the first is its name). Throws UsageError. */
export function parseCommand(words: readonly string[]): Command {
  const [name, ...rest] = words;
  if (name === undefined) throw new UsageError('empty command');
  const spec = findCommand(name);
  if (spec === undefined) throw new UsageError(`unknown command '${name}' (try 'help')`);
  const { flags, values, args } = parseWords(spec, rest);
  const path = args[0] as string;
  const version = (values['version'] as number | undefined) ?? -1;
  switch (spec.name) {
    case 'ls':
      return { name: 'ls', path, recursive: flags['recursive'] === true, stat: flags['stat'] === true };
    case 'get':
      return { name: 'get', path, stat: flags['stat'] === true, watch: flags['watch'] === true };
    case 'stat':
    case 'deleteall':
    case 'sync':
    case 'getAcl':
    case 'lock':
    case 'election':
      return { name: spec.name, path };
    case 'services':
      return servicesCommand((values['root'] as string | undefined) ?? DEFAULT_SERVICES_PATH, args[0]);
    case 'set':
      return { name: 'set', path, data: args[1] as string, version };
    case 'create': {
      const ttlMs = values['ttlMs'] as number | undefined;
      const mode = createModeFor({
        ephemeral: flags['ephemeral'] === true,
        sequential: flags['sequential'] === true,
        container: flags['container'] === true,
        ttl: ttlMs !== undefined,
      });
      const command: Command = { name: 'create', path, data: args[1] ?? null, mode };
      if (ttlMs !== undefined) command.ttlMs = ttlMs;
      if (args[2] !== undefined) command.acl = aclArgument('create', args[2]);
      return command;
    }
    case 'delete':
      return { name: 'delete', path, version };
    case 'watch': {
      const count = values['count'] as number | undefined;
      return count === undefined
        ? { name: 'watch', path, recursive: flags['recursive'] === true }
        : { name: 'watch', path, recursive: flags['recursive'] === true, count };
    }
    case 'setAcl':
      return { name: 'setAcl', path, acl: aclArgument('setAcl', args[1] as string), version };
    case 'addauth':
      return { name: 'addauth', scheme: path, credentials: args[1] as string };
    case 'help': {
      if (args[0] === undefined) return { name: 'help' };
      const target = findCommand(args[0]);
      if (target === undefined) throw new UsageError(`no command '${args[0]}' (try 'help')`, 'help');
      return { name: 'help', command: target.name };
    }
    case 'whoami':
    case 'history':
    case 'quit':
      return { name: spec.name };
    default:
      throw new UsageError(`command '${spec.name}' has no parser`);
  }
}

/** Command-name completion for readline: the names that start with the line's first word. */
export function completeCommand(line: string): [string[], string] {
  if (/\s/.test(line.trimStart())) return [[], line];
  const prefix = line.trimStart().toLowerCase();
  const names = COMMANDS.map((c) => c.name).filter((n) => n.toLowerCase().startsWith(prefix));
  return [names, line.trimStart()];
}

// ---- the shell's own command line ---------------------------------------------------------

export interface ShellArgs {
  connectString: string;
  /** `-c`: the commands to run instead of reading them interactively. */
  script?: string;
  json: boolean;
  /** Bound on connecting and on each request. */
  timeoutMs?: number;
  help: boolean;
}

export const DEFAULT_CONNECT_STRING = '127.0.0.1:2181';

export const SHELL_USAGE = `usage: arbor shell [--connect HOST:PORT,...[/chroot]] [--json] [--timeout-ms N] [-c 'COMMANDS']
  --connect CS     the ensemble to connect to (default ${DEFAULT_CONNECT_STRING}); also the first argument
  -c COMMANDS      run these commands (separated by ';' or newlines) and exit:
                   0 all succeeded, 1 one failed (the rest are not run), 2 bad usage
  --json           print one JSON document per command (and per watch event) on stdout
  --timeout-ms N   bound on connecting and on each request (default: connect 15000, request 30000)
Without -c, commands are read from the terminal (or from stdin as a script when it is not one).
Type 'help' in the shell for its commands.
`;

/** Parses the shell's argv (after `arbor shell`). Throws UsageError. */
export function parseShellArgs(argv: readonly string[]): ShellArgs {
  const args: ShellArgs = { connectString: DEFAULT_CONNECT_STRING, json: false, help: false };
  let connectGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const value = (): string => {
      const text = eq > 0 ? arg.slice(eq + 1) : argv[++i];
      if (text === undefined) throw new UsageError(`${flag} needs a value`);
      return text;
    };
    switch (flag) {
      case '--connect':
      case '--server':
      case '-server':
        args.connectString = value();
        connectGiven = true;
        break;
      case '-c':
      case '--command':
        args.script = args.script === undefined ? value() : `${args.script}\n${value()}`;
        break;
      case '--json':
        args.json = true;
        break;
      case '--timeout-ms': {
        const text = value();
        const n = /^\d+$/.test(text) ? Number(text) : NaN;
        if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`--timeout-ms needs a positive integer, not '${text}'`);
        args.timeoutMs = n;
        break;
      }
      case '-h':
      case '--help':
        args.help = true;
        break;
      default:
        if (arg.startsWith('-') || connectGiven) throw new UsageError(`unexpected argument '${arg}'`);
        args.connectString = arg;
        connectGiven = true;
    }
  }
  if (args.connectString === '') throw new UsageError('--connect needs a connect string');
  return args;
}
