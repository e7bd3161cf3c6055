export { LeaderLatch } from './leader-latch.js';
export type { LeaderInfo, LeaderLatchOptions } from './leader-latch.js';
