/**
 * ACLs as zkCli writes them: `scheme:id:perms` entries separated by commas, perms as letters
 * c(reate) d(elete) r(ead) w(rite) a(dmin). The scheme ends at the first ':' and the perms start
 * after the last, so ids may hold colons (`digest:user:hash:r`, `ip:::1:r`). Pure.
 */
import { Perms } from '../index.js';
import type { ACL } from '../index.js';

const LETTERS: readonly (readonly [string, number])[] = [
  ['c', Perms.CREATE],
  ['d', Perms.DELETE],
  ['r', Perms.READ],
  ['w', Perms.WRITE],
  ['a', Perms.ADMIN],
];

/** `cdrwa` → 31. Throws on an unknown or repeated letter. */
export function parsePerms(text: string): number {
  let perms = 0;
  for (const ch of text) {
    const bit = LETTERS.find(([letter]) => letter === ch.toLowerCase())?.[1];
    if (bit === undefined) throw new Error(`unknown permission '${ch}' in '${text}': use the letters c d r w a`);
    if ((perms & bit) !== 0) throw new Error(`permission '${ch}' repeated in '${text}'`);
    perms |= bit;
  }
  return perms;
}

/** 31 → `cdrwa` (zkCli's order); bits outside ALL are ignored. */
export function formatPerms(perms: number): string {
  return LETTERS.filter(([, bit]) => (perms & bit) !== 0)
    .map(([letter]) => letter)
    .join('');
}

/**
 * `world:anyone:cdrwa,digest:user:hash:r` → ACL entries. Only the text's shape is checked here
 * (the member validates schemes and ids). Throws an Error saying which entry is wrong.
 */
export function parseAclText(text: string): ACL[] {
  if (text.trim() === '') throw new Error('an ACL needs at least one scheme:id:perms entry');
  return text.split(',').map((raw) => {
    const entry = raw.trim();
    const first = entry.indexOf(':');
    const last = entry.lastIndexOf(':');
    if (first < 0 || first === last) throw new Error(`ACL entry '${entry}' is not scheme:id:perms`);
    const scheme = entry.slice(0, first);
    if (scheme === '') throw new Error(`ACL entry '${entry}' has no scheme`);
    return { perms: parsePerms(entry.slice(last + 1)), id: { scheme, id: entry.slice(first + 1, last) } };
  });
}

/** One entry as `scheme:id:perms`. */
export function formatAclEntry(acl: ACL): string {
  return `${acl.id.scheme}:${acl.id.id}:${formatPerms(acl.perms)}`;
}

/** Entries as `parseAclText` reads them back. */
export function formatAclText(acl: readonly ACL[]): string {
  return acl.map(formatAclEntry).join(',');
}
