// @arbor/raft/sim — the deterministic whole-cluster simulator and the scenario-script runner.
export { SimCluster, type ClusterOptions, type ClusterStats } from './cluster.js';
export { SafetyChecker, SafetyViolation, type ReadRecord } from './checker.js';
export { SimMember, type MemberOptions, type MemberHooks, type RaftTuning } from './member.js';
export { SimNetwork, CALM_NETWORK, type NetworkFaults } from './network.js';
export { CounterStateMachine, encodeWrite, decodeWrite } from './state-machine.js';
export { runSimulation, type SimulationOptions, type SimulationResult } from './workload.js';
export { ScriptEnv, ScriptError, formatEntry, formatMessage, parseScript, runScript, type ScriptBlock } from './script.js';
