import { ArborError, ErrorCode } from './errors.js';

/** Permission bits, with ZooKeeper's values (ZooDefs.Perms). */
export const Perms = {
  READ: 1,
  WRITE: 2,
  CREATE: 4,
  DELETE: 8,
  ADMIN: 16,
  ALL: 31,
} as const;

export interface Id {
  /** 'world' | 'auth' | 'digest' | 'ip' */
  scheme: string;
  /** 'anyone' for world; 'user:base64(sha1(user:password))' for digest; an address or CIDR for ip. */
  id: string;
}

export interface ACL {
  perms: number;
  id: Id;
}

export const ACL_SCHEMES = ['world', 'auth', 'digest', 'ip'] as const;

export const OPEN_ACL_UNSAFE: readonly ACL[] = Object.freeze([{ perms: Perms.ALL, id: { scheme: 'world', id: 'anyone' } }]);
export const READ_ACL_UNSAFE: readonly ACL[] = Object.freeze([{ perms: Perms.READ, id: { scheme: 'world', id: 'anyone' } }]);
/** Everything for the identities the creating connection has authenticated as. */
export const CREATOR_ALL_ACL: readonly ACL[] = Object.freeze([{ perms: Perms.ALL, id: { scheme: 'auth', id: '' } }]);

/**
 * Checks the shape of an ACL list that needs no state: non-empty, perms within ALL, known
 * schemes, well-formed ids. Whether `auth` has an identity to expand to is decided where the
 * connection's identities are known. Throws INVALIDACL.
 */
export function validateAcl(acl: readonly ACL[]): void {
  if (!Array.isArray(acl) || acl.length === 0) throw new ArborError(ErrorCode.INVALIDACL, 'an ACL list must have at least one entry');
  for (const [i, entry] of acl.entries()) {
    const where = `ACL entry ${i}`;
    if (typeof entry !== 'object' || entry === null || typeof entry.id !== 'object' || entry.id === null) {
      throw new ArborError(ErrorCode.INVALIDACL, `${where} is not {perms, id: {scheme, id}}`);
    }
    if (!Number.isInteger(entry.perms) || entry.perms < 0 || entry.perms > Perms.ALL) {
      throw new ArborError(
        ErrorCode.INVALIDACL,
        `${where}: perms ${String(entry.perms)} is not a combination of READ|WRITE|CREATE|DELETE|ADMIN`,
      );
    }
    const { scheme, id } = entry.id;
    if (typeof scheme !== 'string' || typeof id !== 'string')
      throw new ArborError(ErrorCode.INVALIDACL, `${where}: scheme and id must be strings`);
    switch (scheme) {
      case 'world':
        if (id !== 'anyone') throw new ArborError(ErrorCode.INVALIDACL, `${where}: the world scheme has only the id 'anyone', not '${id}'`);
        break;
      case 'auth':
        break;
      case 'digest':
        if (!/^[^:]+:[A-Za-z0-9+/]{27}=$/.test(id)) {
          throw new ArborError(ErrorCode.INVALIDACL, `${where}: a digest id is 'user:base64(sha1(user:password))', not '${id}'`);
        }
        break;
      case 'ip':
        if (!isIpPattern(id)) throw new ArborError(ErrorCode.INVALIDACL, `${where}: '${id}' is not an IPv4 address or CIDR range`);
        break;
      default:
        throw new ArborError(ErrorCode.INVALIDACL, `${where}: unknown scheme '${scheme}' (known: ${ACL_SCHEMES.join(', ')})`);
    }
  }
}

function isIpPattern(id: string): boolean {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/.exec(id);
  if (m === null) return false;
  const octets = m.slice(1, 5).map(Number);
  if (octets.some((o) => o > 255)) return false;
  return m[5] === undefined || Number(m[5]) <= 32;
}

/** Does an IPv4 address match an `ip` scheme id (an address or CIDR)? Pure, used by the tree. */
export function ipMatches(pattern: string, address: string): boolean {
  const [base, bitsText] = pattern.split('/');
  const bits = bitsText === undefined ? 32 : Number(bitsText);
  const a = ipv4ToNumber(base ?? '');
  const b = ipv4ToNumber(address.startsWith('::ffff:') ? address.slice(7) : address);
  if (a === undefined || b === undefined) return false;
  if (bits === 0) return true;
  const mask = bits === 32 ? 0xffffffff : ~(0xffffffff >>> bits) >>> 0;
  return (a & mask) >>> 0 === (b & mask) >>> 0;
}

function ipv4ToNumber(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined;
    const v = Number(part);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n;
}
