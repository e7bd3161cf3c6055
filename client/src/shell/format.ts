/**
 * What commands produce ({@link Result}) and how it is shown, pure: text for people, or one
 * JSON document per result for scripts. Errors become one line naming the command and the path.
 */
import { ArborClientError, ErrorCode } from '../index.js';
import type { ACL, Id, Stat, WatchEvent } from '../index.js';
import { formatAclEntry, formatAclText, formatPerms } from './acl-text.js';
import { COMMANDS, UsageError, findCommand } from './parse.js';
import type { CommandName } from './parse.js';

export type Result =
  | { command: 'ls'; path: string; children: string[]; stat?: Stat }
  | { command: 'ls'; path: string; paths: string[] }
  | { command: 'get'; path: string; data: Uint8Array | null; stat?: Stat }
  | { command: 'stat'; path: string; stat: Stat }
  | { command: 'set'; path: string; stat: Stat }
  | { command: 'create'; path: string; stat: Stat }
  | { command: 'delete'; path: string }
  | { command: 'deleteall'; path: string; deleted: number }
  | { command: 'sync'; path: string }
  | { command: 'watch'; path: string; event: WatchEvent | { type: 'resync'; path: string; zxid: number } }
  /** A one-shot watch set by `get -w` fired (printed whenever it arrives). */
  | { command: 'get'; path: string; watchEvent: WatchEvent }
  | { command: 'getAcl'; path: string; acl: ACL[]; stat: Stat }
  | { command: 'setAcl'; path: string; stat: Stat }
  | { command: 'addauth'; scheme: string }
  | { command: 'whoami'; identities: Id[] }
  | { command: 'history'; history: string[] }
  | { command: 'help'; topic?: string };

export type OutputFormat = 'text' | 'json';

// ---- people -------------------------------------------------------------------------------

const hex = (n: number): string => `0x${n.toString(16)}`;
const time = (ms: number): string => `${new Date(ms).toISOString()} (${ms})`;

/** A stat, one `field = value` a line, in ZooKeeper's order. */
export function formatStat(stat: Stat): string {
  return [
    `czxid = ${stat.czxid}`,
    `mzxid = ${stat.mzxid}`,
    `pzxid = ${stat.pzxid}`,
    `ctime = ${time(stat.ctime)}`,
    `mtime = ${time(stat.mtime)}`,
    `version = ${stat.version}`,
    `cversion = ${stat.cversion}`,
    `aversion = ${stat.aversion}`,
    `ephemeralOwner = ${hex(stat.ephemeralOwner)}`,
    `dataLength = ${stat.dataLength}`,
    `numChildren = ${stat.numChildren}`,
  ].join('\n');
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** The data as text if it is UTF-8, else undefined. */
export function utf8Text(data: Uint8Array): string | undefined {
  try {
    return decoder.decode(data);
  } catch {
    return undefined;
  }
}

/** Data for people: its text; `null` for no data; a hex dump note for bytes that are not UTF-8. */
export function formatData(data: Uint8Array | null): string {
  if (data === null) return 'null';
  const text = utf8Text(data);
  if (text !== undefined) return text;
  const shown = [...data.subarray(0, 64)].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `<${data.byteLength} bytes, not UTF-8: ${shown}${data.byteLength > 64 ? '…' : ''}>`;
}

function formatEvent(event: { type: string; path: string; zxid: number }): string {
  return `${event.type} ${event.path} (zxid ${event.zxid})`;
}

/** The help text: every command, or one in detail. */
export function formatHelp(name?: string): string {
  if (name !== undefined) {
    const spec = findCommand(name);
    if (spec === undefined) return `no command '${name}'`;
    const options = Object.entries(spec.options).map(([flag, o]) => `  ${flag}${o.value !== undefined ? ' N' : ''}  ${o.help}`);
    const aliases = spec.aliases !== undefined ? [`aliases: ${spec.aliases.join(', ')}`] : [];
    return [`usage: ${spec.usage}`, spec.summary, ...options, ...aliases, `example: ${spec.example}`].join('\n');
  }
  const width = Math.max(...COMMANDS.map((c) => c.usage.length));
  return [
    'commands:',
    ...COMMANDS.map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`),
    "Separate commands with ';'. Quote data with '…' or \"…\". 'help NAME' shows one command.",
  ].join('\n');
}

/** A result as text for people; '' when there is nothing to show (set, delete, …). */
export function formatText(result: Result): string {
  switch (result.command) {
    case 'ls':
      if ('paths' in result) return result.paths.join('\n');
      return [result.children.join('\n'), ...(result.stat !== undefined ? [formatStat(result.stat)] : [])]
        .filter((s) => s !== '')
        .join('\n');
    case 'get':
      if ('watchEvent' in result) return `WATCHER:: ${formatEvent(result.watchEvent)}`;
      return [formatData(result.data), ...(result.stat !== undefined ? [formatStat(result.stat)] : [])].join('\n');
    case 'stat':
      return formatStat(result.stat);
    case 'create':
      return `Created ${result.path}`;
    case 'watch':
      return formatEvent(result.event);
    case 'getAcl':
      return result.acl.map(formatAclEntry).join('\n');
    case 'whoami':
      return result.identities.map((id) => `${id.scheme}:${id.id}`).join('\n');
    case 'history':
      return result.history.map((line, i) => `${String(i + 1).padStart(4)}  ${line}`).join('\n');
    case 'help':
      return formatHelp(result.topic);
    case 'set':
    case 'delete':
    case 'deleteall':
    case 'sync':
    case 'setAcl':
    case 'addauth':
      return '';
  }
}

// ---- scripts ------------------------------------------------------------------------------

/** Data in JSON: the text when it is UTF-8, else base64 (with `encoding` saying which). */
function jsonData(data: Uint8Array | null): { data: string | null; encoding?: 'utf8' | 'base64' } {
  if (data === null) return { data: null };
  const text = utf8Text(data);
  return text !== undefined ? { data: text, encoding: 'utf8' } : { data: Buffer.from(data).toString('base64'), encoding: 'base64' };
}

function jsonAcl(acl: readonly ACL[]): { scheme: string; id: string; perms: string }[] {
  return acl.map((a) => ({ scheme: a.id.scheme, id: a.id.id, perms: formatPerms(a.perms) }));
}

/** A result as one line of JSON. */
export function formatJson(result: Result): string {
  let doc: Record<string, unknown>;
  switch (result.command) {
    case 'get':
      doc =
        'watchEvent' in result
          ? { ...result }
          : { command: 'get', path: result.path, ...jsonData(result.data), ...(result.stat !== undefined ? { stat: result.stat } : {}) };
      break;
    case 'getAcl':
      doc = { command: 'getAcl', path: result.path, acl: jsonAcl(result.acl), aclText: formatAclText(result.acl), stat: result.stat };
      break;
    case 'help':
      doc = {
        command: 'help',
        commands: COMMANDS.filter((c) => result.topic === undefined || c.name === result.topic).map((c) => ({
          name: c.name,
          usage: c.usage,
          summary: c.summary,
        })),
      };
      break;
    default:
      doc = { ...result };
  }
  return JSON.stringify(doc);
}

/** A result in the chosen format ('' when there is nothing to show). */
export function formatResult(result: Result, format: OutputFormat): string {
  return format === 'json' ? formatJson(result) : formatText(result);
}

// ---- errors -------------------------------------------------------------------------------

const CODE_NAMES = new Map<number, string>(Object.entries(ErrorCode).map(([name, code]) => [code, name]));

/** What a failed command reports: one line for stderr, and the JSON document for stdout. */
export interface Failure {
  kind: 'usage' | 'error';
  line: string;
  json: string;
}

/** Where a command failed, for the message. */
export interface FailureContext {
  /** The command as typed (its canonical name when it parsed). */
  command?: CommandName | string;
  path?: string;
}

/**
 * One line for a failed command: `COMMAND PATH: what went wrong (CODE)`. For the client's
 * errors the message's own `op path:` prefix is dropped when it names the same path, and kept
 * when it names another node (`deleteall /a: delete /a/b: …`). Never a stack trace.
 */
export function describeFailure(error: unknown, context: FailureContext = {}): Failure {
  const where = [context.command, context.path].filter((s) => s !== undefined && s !== '').join(' ');
  const prefixed = (text: string): string => (where === '' ? text : `${where}: ${text}`);
  if (error instanceof UsageError) {
    const spec = error.command !== undefined ? findCommand(error.command) : undefined;
    const line = spec !== undefined ? `${spec.name}: ${error.message} (usage: ${spec.usage})` : error.message;
    return { kind: 'usage', line, json: JSON.stringify({ command: context.command ?? null, error: { name: 'USAGE', message: line } }) };
  }
  let message: string;
  let code: number | undefined;
  if (error instanceof ArborClientError) {
    code = error.code;
    const own = [error.op, error.path].filter((s) => s !== undefined && s !== '').join(' ');
    message = error.message;
    // The member's text may repeat the client's `op path:` prefix; drop every copy (bounded by the length).
    if (error.path === context.path && own !== '') while (message.startsWith(`${own}: `)) message = message.slice(own.length + 2);
  } else if (error instanceof Error) {
    message = error.message;
  } else {
    message = String(error);
  }
  const name = code !== undefined ? CODE_NAMES.get(code) : undefined;
  const line = prefixed(`${oneLine(message)}${name !== undefined ? ` (${name})` : ''}`);
  const json = JSON.stringify({
    command: context.command ?? null,
    ...(context.path !== undefined ? { path: context.path } : {}),
    error: { ...(code !== undefined ? { code } : {}), name: name ?? 'ERROR', message: oneLine(message) },
  });
  return { kind: 'error', line, json };
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}
