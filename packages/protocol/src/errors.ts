/**
 * Error codes, with ZooKeeper's names and numeric values (KeeperException.Code), so that
 * people and tools that know one system know the other. Arbor adds no codes of its own:
 * conditions ZooKeeper lacks map onto the nearest code and say what happened in the message.
 */
export const ErrorCode = {
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
} as const;

export type ErrorName = keyof typeof ErrorCode;
export type ErrorCode = (typeof ErrorCode)[ErrorName];

const namesByCode = new Map<number, ErrorName>((Object.keys(ErrorCode) as ErrorName[]).map((name) => [ErrorCode[name], name]));

/** The name of a code (`-101` → `'NONODE'`), or undefined for a number that is not a code. */
export function errorName(code: number): ErrorName | undefined {
  return namesByCode.get(code);
}

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'number' && namesByCode.has(code);
}

/**
 * An error that carries a code. Thrown by validation helpers shared by both sides
 * (paths, ACLs, limits) and by the tree for state-dependent failures.
 */
export class ArborError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = `ArborError(${errorName(code) ?? code})`;
    this.code = code;
  }
}
