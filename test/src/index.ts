// Shared test code: the linearizability checker and the fault proxy (see test/README.md).
export * as linearizability from './linearizability/index.js';
export * as proxy from './proxy/index.js';
