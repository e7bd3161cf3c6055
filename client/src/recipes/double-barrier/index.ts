export { DoubleBarrier } from './double-barrier.js';
export type { DoubleBarrierOptions, DoubleBarrierPhase, DoubleBarrierWaitOptions } from './double-barrier.js';
