export { Semaphore, SemaphoreLease } from './semaphore.js';
export type { SemaphoreOptions, SemaphoreParticipants } from './semaphore.js';
