// The shared vocabulary against ZooKeeper's own values, transcribed from its sources
// (KeeperException.Code, ZooDefs.OpCode/Perms, CreateMode.toFlag, Watcher.Event.EventType), so
// that a typo in one of Arbor's tables cannot pass because it is repeated here.
import { describe, expect, it } from 'vitest';
import {
  ArborError,
  CreateMode,
  ErrorCode,
  EventType,
  OP_NAMES,
  Ops,
  Perms,
  TTL_MS_MAX,
  errorName,
  isCreateMode,
  isErrorCode,
  opByCode,
  validateAcl,
  validateTtl,
} from '@arbor/protocol';
import type { ACL, CreateMode as Mode } from '@arbor/protocol';

describe('error codes', () => {
  // KeeperException.Code in ZooKeeper 3.9 (THROTTLED is its THROTTLEDOP).
  const zookeeper: Record<string, number> = {
    OK: 0,
    SYSTEMERROR: -1,
    RUNTIMEINCONSISTENCY: -2,
    DATAINCONSISTENCY: -3,
    CONNECTIONLOSS: -4,
    MARSHALLINGERROR: -5,
    UNIMPLEMENTED: -6,
    OPERATIONTIMEOUT: -7,
    BADARGUMENTS: -8,
    NEWCONFIGNOQUORUM: -13,
    RECONFIGINPROGRESS: -14,
    APIERROR: -100,
    NONODE: -101,
    NOAUTH: -102,
    BADVERSION: -103,
    NOCHILDRENFOREPHEMERALS: -108,
    NODEEXISTS: -110,
    NOTEMPTY: -111,
    SESSIONEXPIRED: -112,
    INVALIDCALLBACK: -113,
    INVALIDACL: -114,
    AUTHFAILED: -115,
    SESSIONMOVED: -118,
    NOTREADONLY: -119,
    EPHEMERALONLOCALSESSION: -120,
    NOWATCHER: -121,
    REQUESTTIMEOUT: -122,
    RECONFIGDISABLED: -123,
    SESSIONCLOSEDREQUIRESASLAUTH: -124,
    QUOTAEXCEEDED: -125,
    THROTTLED: -127,
  };
  it("have ZooKeeper's names and values", () => expect({ ...ErrorCode }).toEqual(zookeeper));
  it('map back to their names', () => {
    for (const [name, code] of Object.entries(zookeeper)) {
      expect(errorName(code)).toBe(name);
      expect(isErrorCode(code)).toBe(true);
    }
    expect(errorName(-9)).toBeUndefined();
    expect(isErrorCode('-101')).toBe(false);
  });
  it('every code SEMANTICS.md lists exists', () => {
    const listed =
      'OK SYSTEMERROR RUNTIMEINCONSISTENCY DATAINCONSISTENCY CONNECTIONLOSS MARSHALLINGERROR UNIMPLEMENTED OPERATIONTIMEOUT BADARGUMENTS NONODE NOAUTH BADVERSION NOCHILDRENFOREPHEMERALS NODEEXISTS NOTEMPTY SESSIONEXPIRED INVALIDCALLBACK INVALIDACL AUTHFAILED SESSIONMOVED NOTREADONLY NOWATCHER RECONFIGINPROGRESS THROTTLED QUOTAEXCEEDED';
    for (const name of listed.split(' ')) expect(Object.keys(ErrorCode)).toContain(name);
  });
});

describe('op codes', () => {
  // ZooDefs.OpCode.
  const zookeeper: Record<string, number> = {
    create: 1,
    delete: 2,
    exists: 3,
    getData: 4,
    setData: 5,
    getACL: 6,
    setACL: 7,
    getChildren: 8,
    sync: 9,
    ping: 11,
    getChildren2: 12,
    multi: 14,
    create2: 15,
    checkWatches: 17,
    removeWatches: 18,
    multiRead: 22,
    addAuth: 100, // ZooKeeper's `auth`
    setWatches: 101,
    getEphemerals: 103,
    getAllChildrenNumber: 104,
    addWatch: 106,
    whoAmI: 107,
    closeSession: -11,
  };
  it("are ZooKeeper's, one descriptor per op, found by code", () => {
    expect(Object.fromEntries(OP_NAMES.map((name) => [name, Ops[name].code]))).toEqual(zookeeper);
    for (const name of OP_NAMES) {
      expect(Ops[name].name).toBe(name);
      expect(opByCode(Ops[name].code)).toBe(Ops[name]);
    }
    expect(opByCode(13)).toBeUndefined(); // check exists only inside multi
  });
  it('writes are exactly the ops that change the tree through the log', () => {
    expect(OP_NAMES.filter((n) => Ops[n].writes).sort()).toEqual(['create', 'create2', 'delete', 'multi', 'setACL', 'setData']);
    expect(OP_NAMES.filter((n) => Ops[n].watch !== null).map((n) => [n, Ops[n].watch])).toEqual([
      ['exists', 'exist'],
      ['getData', 'data'],
      ['getChildren', 'child'],
      ['getChildren2', 'child'],
    ]);
  });
});

describe('perms, create modes, event types', () => {
  it("have ZooKeeper's values", () => {
    expect({ ...Perms }).toEqual({ READ: 1, WRITE: 2, CREATE: 4, DELETE: 8, ADMIN: 16, ALL: 31 });
    expect({ ...CreateMode }).toEqual({
      PERSISTENT: 0,
      EPHEMERAL: 1,
      PERSISTENT_SEQUENTIAL: 2,
      EPHEMERAL_SEQUENTIAL: 3,
      CONTAINER: 4,
      PERSISTENT_WITH_TTL: 5,
      PERSISTENT_SEQUENTIAL_WITH_TTL: 6,
    });
    expect({ ...EventType }).toEqual({
      None: -1,
      NodeCreated: 1,
      NodeDeleted: 2,
      NodeDataChanged: 3,
      NodeChildrenChanged: 4,
      DataWatchRemoved: 5,
      ChildWatchRemoved: 6,
      PersistentWatchRemoved: 7,
    });
  });
  it('isCreateMode accepts exactly the seven modes', () => {
    for (const v of [0, 1, 2, 3, 4, 5, 6]) expect(isCreateMode(v)).toBe(true);
    for (const v of [-1, 7, 1.5, '0', null, undefined]) expect(isCreateMode(v)).toBe(false);
  });
});

describe('validateTtl', () => {
  const ttlModes: Mode[] = [CreateMode.PERSISTENT_WITH_TTL, CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL];
  const plainModes: Mode[] = [
    CreateMode.PERSISTENT,
    CreateMode.EPHEMERAL,
    CreateMode.PERSISTENT_SEQUENTIAL,
    CreateMode.EPHEMERAL_SEQUENTIAL,
    CreateMode.CONTAINER,
  ];
  it('a TTL mode needs 1 .. 2^40-1 ms', () => {
    for (const mode of ttlModes) {
      for (const ttl of [1, 1000, TTL_MS_MAX]) expect(() => validateTtl(mode, ttl)).not.toThrow();
      for (const ttl of [undefined, 0, -1, TTL_MS_MAX + 1, 1.5, Number.NaN]) {
        let error: unknown;
        try {
          validateTtl(mode, ttl);
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(ArborError);
        expect((error as ArborError).code).toBe(ErrorCode.BADARGUMENTS);
      }
    }
  });
  it('other modes take none', () => {
    for (const mode of plainModes) {
      expect(() => validateTtl(mode, undefined)).not.toThrow();
      expect(() => validateTtl(mode, 0)).not.toThrow();
      expect(() => validateTtl(mode, 100)).toThrow(/which has no TTL/);
    }
  });
});

describe('validateAcl', () => {
  const entry = (perms: number, scheme: string, id: string): ACL => ({ perms, id: { scheme, id } });
  it.each<[string, ACL[]]>([
    ['world anyone', [entry(Perms.ALL, 'world', 'anyone')]],
    ['auth', [entry(Perms.READ | Perms.WRITE, 'auth', '')]],
    ['digest', [entry(Perms.ADMIN, 'digest', 'super:D/InIHSb7yEEbrWz8b9l71RjZJU=')]],
    ['ip address', [entry(Perms.READ, 'ip', '10.0.0.1')]],
    ['ip range', [entry(Perms.READ, 'ip', '192.168.0.0/16')]],
    ['no perms at all', [entry(0, 'world', 'anyone')]],
    ['several entries', [entry(1, 'world', 'anyone'), entry(31, 'ip', '127.0.0.1/32')]],
  ])('accepts %s', (_name, acl) => expect(() => validateAcl(acl)).not.toThrow());
  it.each<[string, unknown, RegExp]>([
    ['an empty list', [], /at least one entry/],
    ['not a list', 'world', /at least one entry/],
    ['perms beyond ALL', [entry(32, 'world', 'anyone')], /perms 32/],
    ['negative perms', [entry(-1, 'world', 'anyone')], /perms -1/],
    ['fractional perms', [entry(1.5, 'world', 'anyone')], /perms 1.5/],
    ['world with another id', [entry(1, 'world', 'everyone')], /only the id 'anyone'/],
    ['digest without a hash', [entry(1, 'digest', 'bob:secret')], /a digest id is/],
    ['digest without a user', [entry(1, 'digest', ':D/InIHSb7yEEbrWz8b9l71RjZJU=')], /a digest id is/],
    ['ip octet too large', [entry(1, 'ip', '256.0.0.1')], /not an IPv4 address/],
    ['ip prefix too long', [entry(1, 'ip', '10.0.0.0/33')], /not an IPv4 address/],
    ['unknown scheme', [entry(1, 'x509', 'CN=a')], /unknown scheme 'x509'/],
    ['an entry that is not a map', [5], /ACL entry 0 is not/],
    ['a non-string id', [{ perms: 1, id: { scheme: 'world', id: 1 } }], /scheme and id must be strings/],
  ])('refuses %s with INVALIDACL', (_name, acl, why) => {
    let error: unknown;
    try {
      validateAcl(acl as ACL[]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ArborError);
    expect((error as ArborError).code).toBe(ErrorCode.INVALIDACL);
    expect((error as ArborError).message).toMatch(why);
  });
});
