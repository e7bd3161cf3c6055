import { ArborError, ErrorCode } from './errors.js';

/** Creation modes, with ZooKeeper's numeric flags (CreateMode.toFlag). */
export const CreateMode = {
  PERSISTENT: 0,
  EPHEMERAL: 1,
  PERSISTENT_SEQUENTIAL: 2,
  EPHEMERAL_SEQUENTIAL: 3,
  CONTAINER: 4,
  PERSISTENT_WITH_TTL: 5,
  PERSISTENT_SEQUENTIAL_WITH_TTL: 6,
} as const;
export type CreateModeName = keyof typeof CreateMode;
export type CreateMode = (typeof CreateMode)[CreateModeName];

export function isEphemeralMode(mode: CreateMode): boolean {
  return mode === CreateMode.EPHEMERAL || mode === CreateMode.EPHEMERAL_SEQUENTIAL;
}
export function isSequentialMode(mode: CreateMode): boolean {
  return (
    mode === CreateMode.PERSISTENT_SEQUENTIAL ||
    mode === CreateMode.EPHEMERAL_SEQUENTIAL ||
    mode === CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL
  );
}
export function isTtlMode(mode: CreateMode): boolean {
  return mode === CreateMode.PERSISTENT_WITH_TTL || mode === CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL;
}
export function isCreateMode(value: unknown): value is CreateMode {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 6;
}

/** Largest TTL ZooKeeper accepts: the TTL is packed into 40 bits of ephemeralOwner there. */
export const TTL_MS_MAX = 2 ** 40 - 1;

/**
 * Checks that a TTL fits the mode: TTL modes need 1..2^40-1 ms, other modes take none
 * (undefined or 0). Throws BADARGUMENTS with a message that says which.
 */
export function validateTtl(mode: CreateMode, ttlMs: number | undefined): void {
  const ttl = ttlMs ?? 0;
  if (isTtlMode(mode)) {
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > TTL_MS_MAX) {
      throw new ArborError(ErrorCode.BADARGUMENTS, `ttl ${ttl} is out of range: a TTL node needs 1..${TTL_MS_MAX} ms`);
    }
  } else if (ttl !== 0) {
    throw new ArborError(ErrorCode.BADARGUMENTS, `ttl ${ttl} given for mode ${modeName(mode)}, which has no TTL`);
  }
}

export function modeName(mode: CreateMode): CreateModeName {
  const name = (Object.keys(CreateMode) as CreateModeName[]).find((key) => CreateMode[key] === mode);
  if (name === undefined) throw new ArborError(ErrorCode.BADARGUMENTS, `unknown create mode ${String(mode)}`);
  return name;
}

/** Width of the counter appended to sequential names. */
export const SEQUENCE_DIGITS = 10;

/** `'/q/job-'` and 7 → `'/q/job-0000000007'`. */
export function sequentialName(requestedPath: string, counter: number): string {
  return requestedPath + String(counter).padStart(SEQUENCE_DIGITS, '0');
}
