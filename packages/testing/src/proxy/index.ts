// Fault proxies for the fault-injection harness: startProxy() in front of one port, and
// createPeerMesh() for a proxy per ordered pair of ensemble members.
export { Mode, canConnect, describeMode, directionModes, validateMode } from './modes.js';
export type { DirectionMode, LinkMode } from './modes.js';
export { PROXY_HOST, startProxy } from './proxy.js';
export type { FaultProxy, ProxyOptions, ProxyStats } from './proxy.js';
export type { PipeCounters } from './pipe.js';
export { createPeerMesh } from './mesh.js';
export type { LinkState, MemberId, MeshMember, PeerAddress, PeerMesh, PeerMeshOptions } from './mesh.js';
