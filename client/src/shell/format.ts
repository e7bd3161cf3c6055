/**
 * What commands produce ({@link Result}) and how it is shown, pure: text for people, or one
 * JSON document per result for scripts. Errors become one line naming the command and the path.
 */
import { ArborClientError, ErrorCode } from '../index.js';
import type { ACL, Id, LockMode, RecipeKind, Stat, WatchEvent } from '../index.js';
import { formatAclEntry, formatAclText, formatPerms } from './acl-text.js';
import { COMMANDS, UsageError, findCommand } from './parse.js';
import type { CommandName } from './parse.js';

/** One holder or waiter of a lock or semaphore path (a {@link ParticipantView} without its raw data). */
export interface LockEntry {
  role: 'holder' | 'waiter';
  /** A read-write lock's side. */
  mode?: LockMode;
  /** The contender node's name and path. */
  name: string;
  path: string;
  /** The node's sequence number: its place in the queue. */
  sequence: number;
  /**
   * The fencing token it holds (or, for a mutex or read-write lock waiter, will hold): the
   * sequence number. Absent for a semaphore waiter, whose lease node does not exist yet.
   */
  fencingToken?: number;
  sessionId: number;
  /** The node's ctime (the ensemble's clock). */
  createdAtMs: number;
  /** Now minus ctime: a waiter's wait; a holder's wait plus its hold. */
  waitedMs: number;
  /** A semaphore acquirer's payload. */
  payload?: unknown;
}

/** One participant of an election path. */
export interface ElectionEntry {
  id: string;
  payload: unknown;
  name: string;
  path: string;
  sequence: number;
  sessionId: number;
  createdAtMs: number;
  waitedMs: number;
}

/** One registered instance of a service, with the session that owns its ephemeral node. */
export interface InstanceEntry {
  id: string;
  name: string;
  address: string;
  port: number;
  metadata: unknown;
  registeredAt: number;
  path: string;
  sessionId: number;
}

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
  | { command: 'lock'; path: string; kind: RecipeKind; maxLeases?: number; holders: LockEntry[]; waiters: LockEntry[] }
  | { command: 'election'; path: string; leader: ElectionEntry | null; candidates: ElectionEntry[] }
  | { command: 'services'; root: string; services: { name: string; instances: number }[] }
  /** One service's instances; `ignored` names the children that are not well-formed instances. */
  | { command: 'services'; root: string; service: string; path: string; instances: InstanceEntry[]; ignored: string[] }
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
    const options = Object.entries(spec.options).map(
      ([flag, o]) => `  ${flag}${o.value !== undefined ? ` ${o.valueName ?? 'N'}` : ''}  ${o.help}`,
    );
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

/** A duration for people: `850ms`, `12.3s`, `4m05s`, `2h07m`, `3d04h` (rounded down). */
export function formatDuration(ms: number): string {
  const t = Math.max(0, Math.floor(ms));
  if (t < 1000) return `${t}ms`;
  if (t < 60_000) return `${(Math.floor(t / 100) / 10).toFixed(1)}s`;
  const two = (n: number): string => String(n).padStart(2, '0');
  if (t < 3_600_000) return `${Math.floor(t / 60_000)}m${two(Math.floor(t / 1000) % 60)}s`;
  if (t < 86_400_000) return `${Math.floor(t / 3_600_000)}h${two(Math.floor(t / 60_000) % 60)}m`;
  return `${Math.floor(t / 86_400_000)}d${two(Math.floor(t / 3_600_000) % 24)}h`;
}

/** Columns padded to their widest cell, two blanks apart; the last column is not padded. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd();
  return [header, ...rows].map(line).join('\n');
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** A JSON value on one line, or '-' for none. */
const shown = (value: unknown): string => (value === undefined || value === null ? '-' : (JSON.stringify(value) ?? String(value)));

const KIND_NAMES: Record<RecipeKind, string> = {
  mutex: 'mutex',
  readWriteLock: 'read-write lock',
  semaphore: 'semaphore',
  election: 'election',
  empty: 'no participants',
  unknown: 'a queue of unknown kind (its head shown as the holder)',
};

function formatLock(result: Extract<Result, { command: 'lock' }>): string {
  const { path, kind, holders, waiters, maxLeases } = result;
  const what =
    kind === 'semaphore' && maxLeases !== undefined ? `semaphore of ${plural(maxLeases, 'lease')}` : (KIND_NAMES[kind] as string);
  if (holders.length + waiters.length === 0) return `${path}: ${kind === 'empty' ? '' : `${what}, `}no holders, no waiters`;
  const all = [...holders, ...waiters];
  const withMode = all.some((e) => e.mode !== undefined);
  const withPayload = all.some((e) => e.payload !== undefined && e.payload !== null);
  const header = ['ROLE', ...(withMode ? ['MODE'] : []), 'SESSION', 'WAITED', 'TOKEN', ...(withPayload ? ['PAYLOAD'] : []), 'NODE'];
  const rows = all.map((e) => [
    e.role,
    ...(withMode ? [e.mode ?? '-'] : []),
    hex(e.sessionId),
    formatDuration(e.waitedMs),
    e.fencingToken !== undefined ? String(e.fencingToken) : '-',
    ...(withPayload ? [shown(e.payload)] : []),
    e.name,
  ]);
  const summary = `${path}: ${what}, ${plural(holders.length, 'holder')}, ${plural(waiters.length, 'waiter')}`;
  return [summary, formatTable(header, rows)].join('\n');
}

function formatElection(result: Extract<Result, { command: 'election' }>): string {
  const { path, leader, candidates } = result;
  if (leader === null) return `${path}: no leader, no candidates`;
  const summary = `${path}: leader ${leader.id === '' ? '(no id)' : leader.id} (session ${hex(leader.sessionId)}, payload ${shown(leader.payload)}), ${plural(candidates.length, 'candidate')} queued`;
  const rows = [leader, ...candidates].map((e, i) => [
    i === 0 ? 'leader' : 'candidate',
    e.id === '' ? '-' : e.id,
    hex(e.sessionId),
    formatDuration(e.waitedMs),
    String(e.sequence),
    shown(e.payload),
    e.name,
  ]);
  return [summary, formatTable(['ROLE', 'ID', 'SESSION', 'WAITED', 'TOKEN', 'PAYLOAD', 'NODE'], rows)].join('\n');
}

/** `host:port`, with an IPv6 address in brackets. */
export function formatAddress(address: string, port: number): string {
  return `${address.includes(':') ? `[${address}]` : address}:${port}`;
}

function formatServices(result: Extract<Result, { command: 'services' }>): string {
  if (!('service' in result)) {
    if (result.services.length === 0) return `no services under ${result.root}`;
    return formatTable(
      ['SERVICE', 'INSTANCES'],
      result.services.map((s) => [s.name, String(s.instances)]),
    );
  }
  const { service, root, instances, ignored } = result;
  const lines = [`${service} under ${root}: ${instances.length === 0 ? 'no instances' : plural(instances.length, 'instance')}`];
  if (instances.length > 0) {
    const rows = instances.map((i) => [
      i.id,
      formatAddress(i.address, i.port),
      hex(i.sessionId),
      new Date(i.registeredAt).toISOString(),
      shown(i.metadata),
    ]);
    lines.push(formatTable(['ID', 'ADDRESS', 'SESSION', 'REGISTERED', 'METADATA'], rows));
  }
  if (ignored.length > 0) {
    const what = ignored.length === 1 ? 'is not a service instance' : 'are not service instances';
    lines.push(`(ignored ${plural(ignored.length, 'node')} that ${what}: ${ignored.join(', ')})`);
  }
  return lines.join('\n');
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
    case 'lock':
      return formatLock(result);
    case 'election':
      return formatElection(result);
    case 'services':
      return formatServices(result);
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

/** An entry with its session also in hex, as the text shows it. */
function withSession<E extends { sessionId: number }>(entry: E): E & { session: string } {
  return { ...entry, session: hex(entry.sessionId) };
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
    case 'lock':
      doc = { ...result, holders: result.holders.map(withSession), waiters: result.waiters.map(withSession) };
      break;
    case 'election':
      doc = {
        ...result,
        leader: result.leader === null ? null : withSession(result.leader),
        candidates: result.candidates.map(withSession),
      };
      break;
    case 'services':
      doc = 'instances' in result ? { ...result, instances: result.instances.map(withSession) } : { ...result };
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
