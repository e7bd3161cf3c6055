import { ArborError, ErrorCode, Perms, ipMatches, validateAcl } from '@arbor/protocol';
import type { ACL, Id } from '@arbor/protocol';
import { AssertionError } from './assert.js';
import { Hasher } from './hash.js';

/**
 * Interned ACL lists, reference-counted by the nodes that use them (as ZooKeeper's
 * ReferenceCountedACLCache): a million nodes with the default ACL share one frozen list.
 * A node stores the list's numeric id.
 */

interface AclEntry {
  readonly acl: readonly ACL[];
  readonly key: string;
  /** Permissions granted to everybody (world:anyone), checked first. */
  readonly worldPerms: number;
  readonly hashA: number;
  readonly hashB: number;
  refs: number;
}

/** An injective text form of a list: lengths prefix the strings, so no separator can be forged. */
function keyOf(acl: readonly ACL[]): string {
  let key = '';
  for (const e of acl) key += `${e.perms}:${e.id.scheme.length}:${e.id.scheme}${e.id.id.length}:${e.id.id};`;
  return key;
}

function freezeAcl(acl: readonly ACL[]): readonly ACL[] {
  return Object.freeze(acl.map((e) => Object.freeze({ perms: e.perms, id: Object.freeze({ scheme: e.id.scheme, id: e.id.id }) })));
}

export class AclTable {
  private readonly byKey = new Map<string, number>();
  private readonly entries: (AclEntry | null)[] = [];
  private readonly free: number[] = [];
  /** The last single-entry list interned: most nodes share one, and building its key shows in profiles. */
  private last: { perms: number; scheme: string; id: string; aclId: number; entry: AclEntry } | null = null;

  /** The id of an ACL list (validated by the caller), creating the entry with no references. */
  intern(acl: readonly ACL[]): number {
    const last = this.last;
    if (acl.length === 1 && last !== null) {
      const e = acl[0]!;
      // the very entry must still be there: its id may have been freed and reused for another list
      if (e.perms === last.perms && e.id.scheme === last.scheme && e.id.id === last.id && this.entries[last.aclId] === last.entry)
        return last.aclId;
    }
    const aclId = this.internByKey(acl);
    if (acl.length === 1)
      this.last = { perms: acl[0]!.perms, scheme: acl[0]!.id.scheme, id: acl[0]!.id.id, aclId, entry: this.entries[aclId]! };
    return aclId;
  }

  private internByKey(acl: readonly ACL[]): number {
    const key = keyOf(acl);
    const known = this.byKey.get(key);
    if (known !== undefined) return known;
    let worldPerms = 0;
    for (const e of acl) if (e.id.scheme === 'world' && e.id.id === 'anyone') worldPerms |= e.perms;
    const h = new Hasher(0x41434c21).str(key);
    const entry: AclEntry = { acl: freezeAcl(acl), key, worldPerms, hashA: h.finalA(), hashB: h.finalB(), refs: 0 };
    let id = this.free.pop();
    if (id === undefined) {
      id = this.entries.length;
      this.entries.push(entry);
    } else {
      this.entries[id] = entry;
    }
    this.byKey.set(key, id);
    return id;
  }

  ref(id: number): void {
    this.entry(id).refs++;
  }

  /** Drops a reference; the entry goes when nothing uses it. */
  unref(id: number): void {
    const entry = this.entry(id);
    if (entry.refs <= 0) throw new AssertionError(`ACL ${id} unreferenced below zero`);
    if (--entry.refs > 0) return;
    this.byKey.delete(entry.key);
    this.entries[id] = null;
    this.free.push(id);
  }

  acl(id: number): readonly ACL[] {
    return this.entry(id).acl;
  }

  hashA(id: number): number {
    return this.entry(id).hashA;
  }

  hashB(id: number): number {
    return this.entry(id).hashB;
  }

  /** Live entries with their ids, in id order. */
  *list(): IterableIterator<[number, readonly ACL[]]> {
    for (let id = 0; id < this.entries.length; id++) {
      const e = this.entries[id];
      if (e) yield [id, e.acl];
    }
  }

  get size(): number {
    return this.byKey.size;
  }

  /** Does any entry of ACL `id` grant `perm` to one of the caller's identities? */
  allows(id: number, perm: number, identities: readonly Id[]): boolean {
    const entry = this.entry(id);
    if ((entry.worldPerms & perm) !== 0) return true;
    for (const e of entry.acl) {
      if ((e.perms & perm) === 0) continue;
      for (const who of identities) if (idMatches(e.id, who)) return true;
    }
    return false;
  }

  private entry(id: number): AclEntry {
    const e = this.entries[id];
    if (e === undefined || e === null) throw new AssertionError(`ACL id ${id} is not interned`);
    return e;
  }
}

/** Does an ACL entry's id admit an authenticated identity? */
function idMatches(aclId: Id, who: Id): boolean {
  switch (aclId.scheme) {
    case 'world':
      return aclId.id === 'anyone';
    case 'ip':
      return who.scheme === 'ip' && ipMatches(aclId.id, who.id);
    default:
      return who.scheme === aclId.scheme && who.id === aclId.id;
  }
}

/** Identities the `auth` scheme expands to: what the caller authenticated as (not ip, not world). */
function authIdentities(identities: readonly Id[]): Id[] {
  return identities.filter((who) => who.scheme !== 'ip' && who.scheme !== 'world');
}

/**
 * The ACL list a node gets: shape-checked, `auth` entries replaced by one entry per identity
 * the caller authenticated as (ZooKeeper's fixupACL), duplicates dropped. Throws INVALIDACL.
 * May return `acl` itself: the table copies what it keeps. `what` and `path` name the op in a message.
 */
export function resolveAcl(acl: readonly ACL[], identities: readonly Id[], what: string, path: string): readonly ACL[] {
  if (isPlainWorldAcl(acl)) return acl;
  try {
    validateAcl(acl);
  } catch (e) {
    if (e instanceof ArborError) throw new ArborError(e.code, `${what} ${path}: ${e.message}`);
    throw e;
  }
  if (acl.length === 1 && acl[0]!.id.scheme !== 'auth') return acl;
  const out: ACL[] = [];
  const seen = new Set<string>();
  const add = (perms: number, id: Id): void => {
    const key = `${perms}\u0000${id.scheme}\u0000${id.id}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push({ perms, id: { scheme: id.scheme, id: id.id } });
  };
  for (const entry of acl) {
    if (entry.id.scheme !== 'auth') {
      add(entry.perms, entry.id);
      continue;
    }
    const mine = authIdentities(identities);
    if (mine.length === 0) {
      throw new ArborError(
        ErrorCode.INVALIDACL,
        `${what} ${path}: the 'auth' scheme needs an authenticated identity and the caller has none`,
      );
    }
    for (const who of mine) add(entry.perms, who);
  }
  return out;
}

/**
 * Is the list one world:anyone entry with valid perms, as most nodes have? Such a list passes
 * validateAcl, which need not walk it.
 */
export function isPlainWorldAcl(acl: unknown): boolean {
  if (!Array.isArray(acl) || acl.length !== 1) return false;
  const entry = acl[0] as { perms?: unknown; id?: { scheme?: unknown; id?: unknown } | null } | null;
  if (typeof entry !== 'object' || entry === null) return false;
  const id = entry.id;
  if (typeof id !== 'object' || id === null || id.scheme !== 'world' || id.id !== 'anyone') return false;
  const perms = entry.perms;
  return typeof perms === 'number' && Number.isInteger(perms) && perms >= 0 && perms <= Perms.ALL;
}

/** getACL for a caller without ADMIN: digest ids show only their user (`user:x`), as ZooKeeper does. */
export function hideDigests(acl: readonly ACL[]): ACL[] {
  return acl.map((e) => {
    if (e.id.scheme !== 'digest') return { perms: e.perms, id: { scheme: e.id.scheme, id: e.id.id } };
    const colon = e.id.id.indexOf(':');
    return { perms: e.perms, id: { scheme: 'digest', id: `${colon < 0 ? e.id.id : e.id.id.slice(0, colon)}:x` } };
  });
}

export function permName(perm: number): string {
  const names = (Object.keys(Perms) as (keyof typeof Perms)[]).filter((k) => k !== 'ALL' && (Perms[k] & perm) !== 0);
  return names.join('|') || 'no';
}
