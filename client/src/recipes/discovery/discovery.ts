import type { ArborClient } from '../../client.js';
import { NoNodeError } from '../../errors.js';
import type { CallOptions } from '../../requests.js';
import { DEFAULT_SERVICES_PATH, checkSegment, instancePath, parseInstance, servicePath } from './instance.js';
import type { ServiceInstance } from './instance.js';
import { ServiceRegistration } from './registration.js';
import type { RegisterOptions } from './registration.js';
import { ServiceCache } from './service-cache.js';

/** Options of a {@link ServiceDiscovery}. */
export interface ServiceDiscoveryOptions {
  /** Parent of every service. Default '/services'. */
  basePath?: string;
  /**
   * Makes a new connected client after the session is lost (a lost ArborClient is final).
   * With it, registrations are re-registered and caches continue on the new client; without
   * it, registrations end in 'lost' and caches in 'ended'. Retried every `reconnectDelayMs`
   * until it succeeds or the discovery is closed.
   */
  reconnect?: () => Promise<ArborClient>;
  /** Default 1 000 ms. */
  reconnectDelayMs?: number;
}

/**
 * Service discovery on an Arbor ensemble (see docs/recipes.md, "Service discovery"): each
 * instance is an ephemeral node `<basePath>/<name>/<id>` holding {@link ServiceInstance} JSON,
 * so it vanishes when its process closes its session or its session expires.
 *
 * @example
 * const discovery = new ServiceDiscovery(client, { reconnect: () => connect(hosts) });
 * const reg = await discovery.register({ name: 'api', address: '10.0.0.5', port: 8080 });
 * const cache = discovery.cache('api');
 * await cache.start({ timeoutMs: 5000 });
 * const pick = cache.provider('round-robin');
 * const target = pick.get();
 */
export class ServiceDiscovery {
  readonly basePath: string;
  private clientValue: ArborClient;
  private readonly registrations = new Set<ServiceRegistration<unknown>>();
  private readonly caches = new Set<ServiceCache<unknown>>();
  private offState: (() => void) | undefined;
  private closed = false;
  private recovering: Promise<void> | undefined;
  private readonly clientListeners = new Set<(client: ArborClient) => void>();

  constructor(
    client: ArborClient,
    private readonly options: ServiceDiscoveryOptions = {},
  ) {
    this.basePath = options.basePath ?? DEFAULT_SERVICES_PATH;
    this.clientValue = client;
    this.watchClient(client);
  }

  /** The client in use (replaced after a session loss when `reconnect` is given). */
  get client(): ArborClient {
    return this.clientValue;
  }

  /** Listens for the replacement of the client after a session loss; returns an unsubscribe function. */
  onClientReplaced(listener: (client: ArborClient) => void): () => void {
    this.clientListeners.add(listener);
    return () => this.clientListeners.delete(listener);
  }

  /**
   * Registers an instance and resolves once its node exists (or, with a health hook that says
   * unhealthy, once it is known to be withdrawn). Rejects if the node cannot be made.
   */
  async register<M = Record<string, unknown>>(options: RegisterOptions<M>): Promise<ServiceRegistration<M>> {
    if (this.closed) throw new Error('ServiceDiscovery: closed');
    const id = options.id ?? globalThis.crypto.randomUUID();
    checkSegment('service name', options.name);
    const instance: ServiceInstance<M> = {
      id,
      name: options.name,
      address: options.address,
      port: options.port,
      metadata: options.metadata ?? ({} as M),
      registeredAt: Date.now(),
    };
    const registration = new ServiceRegistration<M>(this.clientValue, instancePath(this.basePath, options.name, id), instance, options, {
      recovers: () => this.options.reconnect !== undefined && !this.closed,
      forget: (r) => this.registrations.delete(r),
    });
    this.registrations.add(registration as ServiceRegistration<unknown>);
    try {
      await registration.start();
    } catch (error) {
      await registration.unregister().catch(() => undefined);
      throw error;
    }
    return registration;
  }

  /** The instances of a service now (one read of the list, one per instance), in id order. */
  async instances<M = Record<string, unknown>>(name: string, options: CallOptions = {}): Promise<ServiceInstance<M>[]> {
    const parent = servicePath(this.basePath, name);
    let names: string[];
    try {
      names = (await this.clientValue.getChildren(parent, options)).children;
    } catch (error) {
      if (error instanceof NoNodeError) return [];
      throw error;
    }
    const found = await Promise.all(
      names.map(async (child) => {
        try {
          return parseInstance<M>((await this.clientValue.getData(`${parent}/${child}`, options)).data);
        } catch (error) {
          if (error instanceof NoNodeError) return undefined;
          throw error;
        }
      }),
    );
    return found.filter((i): i is ServiceInstance<M> => i !== undefined).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** The names of the services that have (or had) instances. */
  async services(options: CallOptions = {}): Promise<string[]> {
    try {
      return (await this.clientValue.getChildren(this.basePath, options)).children;
    } catch (error) {
      if (error instanceof NoNodeError) return [];
      throw error;
    }
  }

  /** A live cache of a service's instances (call start()); it follows client replacements. */
  cache<M = Record<string, unknown>>(name: string): ServiceCache<M> {
    if (this.closed) throw new Error('ServiceDiscovery: closed');
    const cache = new ServiceCache<M>(this.clientValue, name, { basePath: this.basePath });
    this.caches.add(cache as ServiceCache<unknown>);
    return cache;
  }

  /** Unregisters every instance registered here and closes every cache made here; the client stays open. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.offState?.();
    await Promise.all([...this.registrations].map((r) => r.unregister().catch(() => undefined)));
    await Promise.all([...this.caches].map((c) => c.close()));
    this.caches.clear();
  }

  private watchClient(client: ArborClient): void {
    this.offState?.();
    this.offState = client.on('state', (state) => {
      if (state === 'lost' && client === this.clientValue && this.options.reconnect !== undefined && !this.closed) void this.recover();
    });
  }

  /** Replaces the lost client, then moves every registration and cache onto the new one. */
  private recover(): Promise<void> {
    if (this.recovering !== undefined) return this.recovering;
    const reconnect = this.options.reconnect as () => Promise<ArborClient>;
    const delayMs = this.options.reconnectDelayMs ?? 1000;
    this.recovering = (async () => {
      // Each failed attempt waits delayMs; the loop ends when one succeeds or the discovery closes.
      while (!this.closed) {
        try {
          const client = await reconnect();
          if (this.closed) return;
          this.clientValue = client;
          this.watchClient(client);
          for (const r of this.registrations) r.rebind(client);
          for (const c of this.caches) if (c.state !== 'closed') c.rebind(client);
          for (const l of [...this.clientListeners]) {
            try {
              l(client);
            } catch {
              // A listener's failure is its own.
            }
          }
          return;
        } catch {
          await new Promise((resolve) => setTimeout(resolve, delayMs));
        }
      }
    })().finally(() => (this.recovering = undefined));
    return this.recovering;
  }
}
