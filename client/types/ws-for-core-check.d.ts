// Stands in for the `ws` package in tsconfig.core.json only: the real @types/ws pulls in Node's
// types, which would hide any Node-only use in the SDK core from that check.
export declare const WebSocket: unknown;
