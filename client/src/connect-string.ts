import { ArborError, ErrorCode, normalizeChroot } from '@arbor/protocol';

/** The port a member listens on for clients when the connect string names none (ZooKeeper's). */
export const DEFAULT_CLIENT_PORT = 2181;

/** One ensemble member as named in the connect string. */
export interface Member {
  /** Host name or address; an IPv6 address without brackets. */
  host: string;
  port: number;
}

/** A parsed connect string. */
export interface ConnectTarget {
  /** In the order written; the client shuffles them. At least one. */
  members: Member[];
  /** Normalised chroot ('/app'), or '' for none. */
  chroot: string;
}

/**
 * Parses `host:port[,host:port…][/chroot]`, as ZooKeeper does: the chroot starts at the first
 * '/'. A host without a port gets {@link DEFAULT_CLIENT_PORT}; an IPv6 address is written in
 * brackets (`[::1]:2181`). Throws BADARGUMENTS naming what is wrong.
 */
export function parseConnectString(text: string): ConnectTarget {
  if (typeof text !== 'string' || text.trim() === '') throw bad(`empty connect string`);
  const slash = text.indexOf('/');
  const hostsPart = slash < 0 ? text : text.slice(0, slash);
  const chroot = slash < 0 ? '' : normalizeChroot(text.slice(slash));
  const members = hostsPart.split(',').map((entry) => parseMember(entry.trim(), text));
  return { members, chroot };
}

function parseMember(entry: string, text: string): Member {
  if (entry === '') throw bad(`empty member in connect string '${text}'`);
  let host: string;
  let portText: string | undefined;
  if (entry.startsWith('[')) {
    const close = entry.indexOf(']');
    if (close < 0) throw bad(`unclosed '[' in member '${entry}'`);
    host = entry.slice(1, close);
    const rest = entry.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':')) throw bad(`unexpected '${rest}' after ']' in member '${entry}'`);
    portText = rest === '' ? undefined : rest.slice(1);
  } else {
    const colon = entry.lastIndexOf(':');
    if (colon >= 0 && entry.indexOf(':') !== colon) throw bad(`IPv6 address '${entry}' must be written in brackets: [addr]:port`);
    host = colon < 0 ? entry : entry.slice(0, colon);
    portText = colon < 0 ? undefined : entry.slice(colon + 1);
  }
  if (host === '' || /[\s/]/.test(host)) throw bad(`invalid host in member '${entry}'`);
  const port = portText === undefined ? DEFAULT_CLIENT_PORT : Number(portText);
  if (portText === '' || !Number.isInteger(port) || port < 1 || port > 65535) throw bad(`invalid port in member '${entry}'`);
  return { host, port };
}

/** The default WebSocket URL of a member: `ws://host:port/` (IPv6 in brackets). */
export function defaultMemberUrl(member: Member): string {
  const host = member.host.includes(':') ? `[${member.host}]` : member.host;
  return `ws://${host}:${member.port}/`;
}

function bad(message: string): ArborError {
  return new ArborError(ErrorCode.BADARGUMENTS, message);
}
