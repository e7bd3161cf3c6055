/** Recipes built on the public client API: see docs/recipes.md. */
export * from './mutex/index.js';
export * from './leader-latch/index.js';
export { ContenderGoneError, RecipeTimeoutError, sequenceOf } from './queue.js';
export type { Contender, Participant } from './queue.js';
