// Shared test code: the linearizability checker and the fault runs (see test/README.md). The
// ensemble harness and the fault proxy are @arbor/testing (packages/testing).
export * as linearizability from './linearizability/index.js';
export * as faults from './faults/run.js';
