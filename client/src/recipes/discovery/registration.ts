import type { ArborClient } from '../../client.js';
import { BadVersionError, NoNodeError, NodeExistsError } from '../../errors.js';
import { isFinalState } from '../../state-machine.js';
import type { ConnectionState } from '../../state-machine.js';
import { encodeInstance } from './instance.js';
import type { ServiceInstance } from './instance.js';

/** A health hook: resolves true while the instance can serve. A rejection or a timeout counts as unhealthy. */
export type HealthCheck = () => Promise<boolean>;

/** Options of {@link ServiceDiscovery.register}. */
export interface RegisterOptions<M> {
  name: string;
  /** Unique within the service. Default: a random UUID. */
  id?: string;
  address: string;
  port: number;
  metadata?: M;
  /**
   * Checked every `healthIntervalMs`: while it says unhealthy the instance is withdrawn (its
   * node deleted), and registered again once it says healthy. Also checked once before the
   * first registration.
   */
  health?: HealthCheck;
  /** Default 10 000 ms. */
  healthIntervalMs?: number;
  /** A check that takes longer counts as unhealthy. Default: healthIntervalMs. */
  healthTimeoutMs?: number;
}

/**
 * Where a registration stands.
 * - `registered`: the node exists, held by the current session.
 * - `suspended`: the connection is down; the node stays unless the session expires.
 * - `withdrawn`: the health hook said unhealthy; the node was deleted.
 * - `lost`: the session was lost and could not be replaced; the node is gone and will not come back.
 * - `unregistered`: unregister() was called.
 */
export type RegistrationState = 'registered' | 'suspended' | 'withdrawn' | 'lost' | 'unregistered';

type RegistrationEvent = 'registered' | 'suspended' | 'withdrawn' | 'lost' | 'error';

/** What the registration needs from its {@link ServiceDiscovery}. */
export interface RegistrationHost {
  /** Whether a lost session will be replaced (the discovery has a `reconnect` function). */
  recovers(): boolean;
  /** Forget a registration that ended. */
  forget(registration: ServiceRegistration<unknown>): void;
}

/** Attempts to replace a stale node of the same id (an old session of ours not yet expired). */
const STALE_REPLACE_ATTEMPTS = 5;

/**
 * One registered instance: an ephemeral node `<basePath>/<name>/<id>` holding the instance as
 * JSON. Made by {@link ServiceDiscovery.register}; see docs/recipes.md ("Service discovery").
 *
 * Session behaviour: on suspension the state is 'suspended' (the node stays while the session
 * lives); on reconnection the node is checked and made again if it is missing. When the session
 * is lost, an ArborClient cannot continue (a lost client is final): if the discovery was given
 * a `reconnect` function, the registration waits in 'suspended' and is re-registered on the new
 * client (replacing the old session's node if it has not expired yet); otherwise it goes to
 * 'lost' and emits 'lost' with an error that says so.
 */
export class ServiceRegistration<M = Record<string, unknown>> implements AsyncDisposable {
  private instanceValue: ServiceInstance<M>;
  private stateValue: RegistrationState = 'suspended';
  private client: ArborClient;
  private offState: (() => void) | undefined;
  private healthy = true;
  private healthTimer: ReturnType<typeof setTimeout> | undefined;
  /** Every change of the node goes through this chain, one at a time. */
  private chain: Promise<void> = Promise.resolve();
  private readonly listeners = new Map<RegistrationEvent, Set<(error?: Error) => void>>();

  /** @internal Made by {@link ServiceDiscovery.register}. */
  constructor(
    client: ArborClient,
    /** The instance's node. */
    readonly path: string,
    instance: ServiceInstance<M>,
    private readonly options: RegisterOptions<M>,
    private readonly host: RegistrationHost,
  ) {
    this.client = client;
    this.instanceValue = instance;
  }

  /** The instance as registered (or as it will be when registered again). */
  get instance(): ServiceInstance<M> {
    return this.instanceValue;
  }

  get state(): RegistrationState {
    return this.stateValue;
  }

  /**
   * 'registered' (again), 'suspended', 'withdrawn' (unhealthy), 'lost' (with the error: the
   * registration is over), 'error' (a re-registration or health step failed; it is retried at
   * the next health check or reconnection). Returns an unsubscribe function.
   */
  on(event: RegistrationEvent, listener: (error?: Error) => void): () => void {
    let set = this.listeners.get(event);
    if (set === undefined) this.listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  /** @internal First registration: the health check (if any), then the node. */
  async start(): Promise<void> {
    this.attach(this.client);
    if (this.options.health !== undefined) this.healthy = await this.checkHealth();
    await this.enqueue(() => this.reconcile(true));
    this.scheduleHealth();
  }

  /**
   * Changes the address, port or metadata. Written at once when registered; otherwise kept for
   * the next registration.
   */
  update(patch: Partial<Pick<ServiceInstance<M>, 'address' | 'port' | 'metadata'>>): Promise<void> {
    if (this.stateValue === 'unregistered' || this.stateValue === 'lost')
      return Promise.reject(new Error(`registration ${this.path}: ${this.stateValue}`));
    this.instanceValue = { ...this.instanceValue, ...patch };
    return this.enqueue(async () => {
      if (this.stateValue !== 'registered') return;
      try {
        await this.client.setData(this.path, encodeInstance(this.instanceValue));
      } catch (error) {
        if (!(error instanceof NoNodeError)) throw error;
        await this.reconcile(true);
      }
    });
  }

  /** Deletes the node and stops the health checks. Idempotent. */
  async unregister(): Promise<void> {
    if (this.stateValue === 'unregistered') return;
    this.finish('unregistered');
    await this.enqueue(async () => {
      if (isFinalState(this.client.state)) return;
      await this.client.delete(this.path).catch((error: unknown) => {
        if (!(error instanceof NoNodeError)) throw error;
      });
    });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.unregister();
  }

  /** @internal The discovery replaced a lost client: register on the new one. */
  rebind(client: ArborClient): void {
    if (this.stateValue === 'unregistered' || this.stateValue === 'lost') return;
    this.client = client;
    this.attach(client);
    void this.enqueue(() => this.reconcile(true)).catch((error: unknown) => this.emit('error', asError(error)));
  }

  /** @internal The discovery is closing or gave up on recovery. */
  markLost(error: Error): void {
    if (this.stateValue === 'unregistered' || this.stateValue === 'lost') return;
    this.finish('lost');
    this.emit('lost', error);
  }

  // ---- internals ----------------------------------------------------------------------------

  private attach(client: ArborClient): void {
    this.offState?.();
    this.offState = client.on('state', (state) => {
      if (this.client === client) this.onState(state);
    });
  }

  private onState(state: ConnectionState): void {
    if (this.stateValue === 'unregistered' || this.stateValue === 'lost') return;
    if (state === 'suspended') {
      if (this.stateValue === 'registered') this.setState('suspended');
    } else if (state === 'reconnected') {
      void this.enqueue(() => this.reconcile(false)).catch((error: unknown) => this.emit('error', asError(error)));
    } else if (isFinalState(state)) {
      if (this.host.recovers() && state === 'lost') {
        if (this.stateValue === 'registered') this.setState('suspended');
        return;
      }
      this.markLost(
        new Error(
          state === 'lost'
            ? `instance ${this.path} is no longer registered: the session was lost, and an ArborClient cannot make a new session ` +
                `(a lost client is final). Give ServiceDiscovery a 'reconnect' function to re-register on a new client, or register again.`
            : `instance ${this.path} is no longer registered: the client is ${state}`,
        ),
      );
    }
  }

  /**
   * Makes the node match what is wanted: present (ours, current payload) while healthy,
   * absent while withdrawn. `force` also rewrites a present node of ours.
   */
  private async reconcile(force: boolean): Promise<void> {
    if (this.stateValue === 'unregistered' || this.stateValue === 'lost') return;
    const client = this.client;
    if (!this.healthy) {
      await client.delete(this.path).catch((error: unknown) => {
        if (!(error instanceof NoNodeError)) throw error;
      });
      if (this.stateValue !== 'withdrawn') this.setState('withdrawn');
      return;
    }
    const stat = await client.exists(this.path);
    if (stat === null || stat.ephemeralOwner !== client.sessionId) await this.createNode(client);
    else if (force) await client.setData(this.path, encodeInstance(this.instanceValue));
    if (
      this.client === client &&
      (this.stateValue as RegistrationState) !== 'unregistered' &&
      (this.stateValue as RegistrationState) !== 'lost'
    )
      this.setState('registered');
  }

  /** Creates the ephemeral node; a node of the same id held by another session (a stale one of ours) is replaced. */
  private async createNode(client: ArborClient): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await client.create(this.path, encodeInstance(this.instanceValue), { mode: 'EPHEMERAL', createParents: true });
        return;
      } catch (error) {
        if (!(error instanceof NodeExistsError) || attempt >= STALE_REPLACE_ATTEMPTS) throw error;
      }
      const stat = await client.exists(this.path);
      if (stat !== null && stat.ephemeralOwner === client.sessionId) return;
      if (stat !== null)
        await client.delete(this.path, { version: stat.version }).catch((error: unknown) => {
          if (!(error instanceof NoNodeError) && !(error instanceof BadVersionError)) throw error;
        });
    }
  }

  private scheduleHealth(): void {
    if (this.options.health === undefined || this.stateValue === 'unregistered' || this.stateValue === 'lost') return;
    this.healthTimer = setTimeout(() => void this.healthRound(), this.options.healthIntervalMs ?? 10_000);
  }

  private async healthRound(): Promise<void> {
    const healthy = await this.checkHealth();
    if (this.stateValue === 'unregistered' || this.stateValue === 'lost') return;
    const changed = healthy !== this.healthy;
    this.healthy = healthy;
    // An unchanged verdict still retries a registration that failed or is not in place.
    if (changed || (healthy && this.stateValue === 'withdrawn')) {
      await this.enqueue(() => this.reconcile(false)).catch((error: unknown) => this.emit('error', asError(error)));
    }
    this.scheduleHealth();
  }

  private async checkHealth(): Promise<boolean> {
    const check = this.options.health;
    if (check === undefined) return true;
    const timeoutMs = this.options.healthTimeoutMs ?? this.options.healthIntervalMs ?? 10_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      return await Promise.race([
        check().then((ok) => ok === true),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
      ]);
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    const run = this.chain.then(step);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private setState(state: RegistrationState): void {
    if (state === this.stateValue) return;
    this.stateValue = state;
    if (state === 'registered' || state === 'suspended' || state === 'withdrawn') this.emit(state);
  }

  private finish(state: 'unregistered' | 'lost'): void {
    this.stateValue = state;
    clearTimeout(this.healthTimer);
    this.offState?.();
    this.host.forget(this as ServiceRegistration<unknown>);
  }

  private emit(event: RegistrationEvent, error?: Error): void {
    for (const listener of [...(this.listeners.get(event) ?? [])]) {
      try {
        listener(error);
      } catch {
        // A listener's failure is its own.
      }
    }
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
