/**
 * @arbor/testing — start an Arbor ensemble in a test and inject the failures that coordination
 * code must survive: kill, freeze or wipe a member, force a leader change, partition members,
 * partition one client, lose replies after the commit, expire a session. See docs/testing.md.
 */
export { Ensemble, waitFor } from './ensemble.js';
export { ephemeralPortRange, freePorts } from './ports.js';
export type { EnsembleOptions, MemberSettings, MemberSlot, StatusView, UnexpectedExit } from './ensemble.js';
export { InProcessEnsemble } from './in-process-ensemble.js';
export type { InProcessEnsembleOptions, InProcessMemberSlot } from './in-process-ensemble.js';
export { connectFaulty } from './client-faults.js';
export type { FaultyClient } from './client-faults.js';
export * from './proxy/index.js';
