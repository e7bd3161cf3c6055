export { LeaderSelector, decideLeader } from './leader-selector.js';
export type { LeaderSelectorOptions, LeadershipGrant, TakeLeadership } from './leader-selector.js';
