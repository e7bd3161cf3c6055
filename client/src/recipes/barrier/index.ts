export { Barrier } from './barrier.js';
export type { BarrierWaitOptions } from './barrier.js';
