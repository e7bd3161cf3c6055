import { decodeJSON, encodeJSON } from '../../data.js';

/**
 * A registered instance of a service, as stored (JSON) in its ephemeral node
 * `<basePath>/<name>/<id>`.
 */
export interface ServiceInstance<M = Record<string, unknown>> {
  /** Unique within the service; the node's name. */
  id: string;
  /** The service's name; the parent node's name. */
  name: string;
  address: string;
  port: number;
  /** Anything else a client needs (zone, version, weight…), as JSON. */
  metadata: M;
  /** When this instance was first registered (ms since the epoch, the registering process's clock). */
  registeredAt: number;
}

/** The default parent of every service. */
export const DEFAULT_SERVICES_PATH = '/services';

/** Throws a TypeError unless `segment` can be one path segment (a service name or an instance id). */
export function checkSegment(what: string, segment: string): void {
  const control = [...segment].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f);
  if (typeof segment !== 'string' || segment === '' || segment === '.' || segment === '..' || segment.includes('/') || control)
    throw new TypeError(`${what} must be a non-empty path segment without '/' or control characters, not ${JSON.stringify(segment)}`);
}

/** The node of a service (its instances are its children). */
export function servicePath(basePath: string, name: string): string {
  checkSegment('service name', name);
  return basePath === '/' ? `/${name}` : `${basePath}/${name}`;
}

/** The node of one instance. */
export function instancePath(basePath: string, name: string, id: string): string {
  checkSegment('instance id', id);
  return `${servicePath(basePath, name)}/${id}`;
}

export function encodeInstance(instance: ServiceInstance<unknown>): Uint8Array {
  return encodeJSON(instance);
}

/**
 * Parses an instance node's data; undefined when it is not a well-formed instance (a foreign or
 * half-written node is left out of discovery rather than failing it).
 */
export function parseInstance<M = Record<string, unknown>>(bytes: Uint8Array | null): ServiceInstance<M> | undefined {
  if (bytes === null) return undefined;
  let value: unknown;
  try {
    value = decodeJSON(bytes);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v['id'] !== 'string' || typeof v['name'] !== 'string' || typeof v['address'] !== 'string') return undefined;
  if (typeof v['port'] !== 'number' || typeof v['registeredAt'] !== 'number') return undefined;
  return {
    id: v['id'],
    name: v['name'],
    address: v['address'],
    port: v['port'],
    metadata: (v['metadata'] ?? {}) as M,
    registeredAt: v['registeredAt'],
  };
}
