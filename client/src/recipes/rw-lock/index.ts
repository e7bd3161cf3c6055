export { ReadWriteLock, ReadWriteLease, decideReadWrite, lockModeOf, readWriteHolders } from './rw-lock.js';
export type { LockMode, ReadWriteLockOptions, ReadWriteParticipant } from './rw-lock.js';
