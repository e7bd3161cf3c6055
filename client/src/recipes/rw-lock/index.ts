export { ReadWriteLock, ReadWriteLease, decideReadWrite, lockModeOf, readWriteHolders } from './rw-lock.js';
export type { LockMode, ReadWriteLockOptions, ReadWriteParticipant } from './rw-lock.js';
export { HeldNode } from './held-node.js';
export type { QueueDecision } from './held-node.js';
