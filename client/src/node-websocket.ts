import type { WebSocketConstructor } from './transport.js';

/**
 * The only Node-specific module of the client: the `ws` package, for Node versions without a
 * global WebSocket. Loaded with a dynamic import, so browser bundles never need it.
 */
export async function loadNodeWebSocket(): Promise<WebSocketConstructor> {
  const ws = await import('ws');
  return ws.WebSocket as unknown as WebSocketConstructor;
}
