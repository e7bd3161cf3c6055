// Shared test code: the linearizability checker, the fault proxy and the ensemble harness (see test/README.md).
export * as linearizability from './linearizability/index.js';
export * as proxy from './proxy/index.js';
export * as harness from './harness/ensemble.js';
