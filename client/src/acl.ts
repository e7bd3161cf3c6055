import { ArborError, CREATOR_ALL_ACL, ErrorCode, OPEN_ACL_UNSAFE, Perms, READ_ACL_UNSAFE } from '@arbor/protocol';
import type { ACL } from '@arbor/protocol';
import { utf8 } from './data.js';

export { CREATOR_ALL_ACL, OPEN_ACL_UNSAFE, Perms, READ_ACL_UNSAFE };
export type { ACL };

interface WebCrypto {
  subtle: { digest(algorithm: string, data: Uint8Array): Promise<ArrayBuffer> };
}

/**
 * The id a digest ACL names for a user and password: `user:base64(sha1(user:password))`, as
 * ZooKeeper's DigestAuthenticationProvider computes it. Uses WebCrypto, so it is asynchronous
 * and runs in browsers and Node alike.
 */
export async function digestId(user: string, password: string): Promise<string> {
  if (user.includes(':')) throw new ArborError(ErrorCode.BADARGUMENTS, `a digest user name cannot contain ':' ('${user}')`);
  const crypto = (globalThis as { crypto?: WebCrypto }).crypto;
  if (crypto?.subtle === undefined) throw new ArborError(ErrorCode.SYSTEMERROR, 'WebCrypto (crypto.subtle) is not available');
  const hash = new Uint8Array(await crypto.subtle.digest('SHA-1', utf8(`${user}:${password}`)));
  return `${user}:${base64(hash)}`;
}

/** An ACL entry granting `perms` to the digest identity `user`/`password`. */
export async function digestAcl(user: string, password: string, perms: number = Perms.ALL): Promise<ACL> {
  return { perms, id: { scheme: 'digest', id: await digestId(user, password) } };
}

/** An ACL entry granting `perms` to everyone. */
export function worldAcl(perms: number = Perms.ALL): ACL {
  return { perms, id: { scheme: 'world', id: 'anyone' } };
}

/** An ACL entry granting `perms` to whoever the creating connection has authenticated as. */
export function authAcl(perms: number = Perms.ALL): ACL {
  return { perms, id: { scheme: 'auth', id: '' } };
}

/** An ACL entry granting `perms` to an IPv4 address or CIDR range (`10.0.0.0/8`). */
export function ipAcl(addressOrCidr: string, perms: number = Perms.ALL): ACL {
  return { perms, id: { scheme: 'ip', id: addressOrCidr } };
}

/** The credentials addAuth('digest', …) takes: UTF-8 `user:password`. */
export function digestCredentials(user: string, password: string): Uint8Array {
  return utf8(`${user}:${password}`);
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Standard base64 with padding (btoa needs a binary string; this avoids it). */
function base64(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i] as number;
    const b = bytes[i + 1];
    const c = bytes[i + 2];
    const n = (a << 16) | ((b ?? 0) << 8) | (c ?? 0);
    out += ALPHABET[(n >> 18) & 63]! + ALPHABET[(n >> 12) & 63]!;
    out += b === undefined ? '=' : ALPHABET[(n >> 6) & 63]!;
    out += c === undefined ? '=' : ALPHABET[n & 63]!;
  }
  return out;
}
