/** Recipes built on the public client API: see docs/recipes.md. */
export * from './mutex/index.js';
export * from './leader-latch/index.js';
export { ContenderGoneError, RecipeTimeoutError, sequenceOf } from './queue.js';
export type { Contender, Participant } from './queue.js';
export { HeldNode } from './held-node.js';
export type { QueueDecision } from './held-node.js';
export * from './rw-lock/index.js';
export * from './semaphore/index.js';
export * from './leader-selector/index.js';
export * from './introspect/index.js';
export * from './cache/index.js';
export * from './discovery/index.js';
export * from './barrier/index.js';
export * from './double-barrier/index.js';
export * from './distributed-queue/index.js';
export * from './counter/index.js';
