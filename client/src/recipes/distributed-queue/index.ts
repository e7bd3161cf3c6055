export { DistributedQueue, TakeInDoubtError } from './distributed-queue.js';
export type { QueueItem, TakeOptions } from './distributed-queue.js';
