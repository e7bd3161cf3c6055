/**
 * Runs a parsed command against a client, through its public API only, handing what it
 * produces to `emit` as {@link Result}s (format.ts turns them into text or JSON). A failure is
 * thrown: the client's own error, which names the operation and the path.
 */
import { ErrorCode, NoNodeError, NotEmptyError, errorFor, parseInstance, participantsOf } from '../index.js';
import type { ArborClient, CallOptions, ParticipantView, RecipeKind } from '../index.js';
import type { ElectionEntry, InstanceEntry, LockEntry, Result } from './format.js';
import type { Command } from './parse.js';

export interface RunContext {
  client: ArborClient;
  /** The command's output, in order. */
  emit(result: Result): void;
  /** Output that comes later, after the command finished (a `get -w` watch firing). */
  notify(result: Result): void;
  /** Ctrl-C: aborts the request in flight, or ends a `watch`. */
  signal?: AbortSignal;
  /** The commands run so far (for `history`). */
  history: readonly string[];
  /** Called once a `watch` is registered on the member, before its first event. */
  onWatching?(path: string, recursive: boolean): void;
  /** "Now" in ms since the epoch, for how long participants have waited. Default Date.now. */
  now?(): number;
}

/** Children fetched per request by ls -R and deleteall. */
const PAGE_SIZE = 1000;
/** Siblings deleted at once by deleteall. */
const DELETE_CONCURRENCY = 32;
/** How often deleteall relists a node that gained children while it was being emptied. */
const NOT_EMPTY_ATTEMPTS = 3;

type Runner<C extends Command> = (command: C, ctx: RunContext, call: CallOptions) => Promise<void>;
type Runners = { [N in Exclude<Command['name'], 'quit'>]: Runner<Extract<Command, { name: N }>> };

/** The path of `child` under `parent`. */
export function childPath(parent: string, child: string): string {
  return parent === '/' ? `/${child}` : `${parent}/${child}`;
}

async function allChildren(client: ArborClient, path: string, call: CallOptions): Promise<string[]> {
  const names: string[] = [];
  for await (const page of client.childrenPages(path, { ...call, pageSize: PAGE_SIZE })) names.push(...page);
  return names;
}

/** Every path in the subtree of `path` (itself first), breadth first, children in name order. */
async function subtree(client: ArborClient, path: string, call: CallOptions): Promise<string[]> {
  const paths = [path];
  for (let i = 0; i < paths.length; i++) {
    const parent = paths[i] as string;
    try {
      for (const name of await allChildren(client, parent, call)) paths.push(childPath(parent, name));
    } catch (error) {
      // A descendant deleted meanwhile is simply absent; the root must exist.
      if (!(error instanceof NoNodeError) || i === 0) throw error;
    }
  }
  return paths;
}

/**
 * Deletes `path` and its subtree, children first; returns how many nodes it deleted. Nodes that
 * vanish meanwhile are skipped; a node that gains children meanwhile is emptied again (a few
 * times). The root '/' itself is kept: only its children go.
 */
async function deleteSubtree(client: ArborClient, path: string, call: CallOptions, isTop = true): Promise<number> {
  let deleted = 0;
  for (let attempt = 1; ; attempt++) {
    let children: string[];
    try {
      children = await allChildren(client, path, call);
    } catch (error) {
      if (error instanceof NoNodeError && !isTop) return deleted;
      throw error;
    }
    for (let i = 0; i < children.length; i += DELETE_CONCURRENCY) {
      const batch = children.slice(i, i + DELETE_CONCURRENCY);
      const counts = await Promise.all(batch.map((name) => deleteSubtree(client, childPath(path, name), call, false)));
      deleted += counts.reduce((a, b) => a + b, 0);
    }
    if (path === '/') return deleted;
    try {
      await client.delete(path, call);
      return deleted + 1;
    } catch (error) {
      if (error instanceof NoNodeError && !isTop) return deleted;
      if (!(error instanceof NotEmptyError) || attempt >= NOT_EMPTY_ATTEMPTS) throw error;
    }
  }
}

async function runWatch(command: Extract<Command, { name: 'watch' }>, ctx: RunContext, call: CallOptions): Promise<void> {
  const { path, recursive, count } = command;
  const watch = ctx.client.watch(path, { ...call, recursive });
  const stop = (): void => void watch.close();
  ctx.signal?.addEventListener('abort', stop, { once: true });
  try {
    await watch.ready;
    if (ctx.signal?.aborted === true) return;
    ctx.onWatching?.(path, recursive);
    let seen = 0;
    for await (const event of watch) {
      ctx.emit({ command: 'watch', path, event });
      if (count !== undefined && ++seen >= count) break;
    }
  } finally {
    ctx.signal?.removeEventListener('abort', stop);
    await watch.close();
  }
}

/** Rejects with the signal's reason once it aborts (for reads that take no signal of their own). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** participantsOf reads a missing path as 'empty'; the shell reports it as NONODE instead. */
async function mustExist(client: ArborClient, path: string, call: CallOptions): Promise<void> {
  if ((await client.exists(path, call)) === null) throw errorFor(ErrorCode.NONODE, undefined, { op: 'exists', path });
}

function lockEntry(view: ParticipantView, kind: RecipeKind): LockEntry {
  // A semaphore waiter queues on the gate; its lease node, and so its token, come later.
  const token = kind === 'semaphore' && view.role === 'waiter' ? {} : { fencingToken: view.sequence };
  return {
    role: view.role,
    ...(view.mode !== undefined ? { mode: view.mode } : {}),
    name: view.name,
    path: view.path,
    sequence: view.sequence,
    ...token,
    sessionId: view.sessionId,
    createdAtMs: view.createdAtMs,
    waitedMs: view.waitedMs,
    ...(view.payload !== undefined ? { payload: view.payload } : {}),
  };
}

function electionEntry(view: ParticipantView): ElectionEntry {
  return {
    id: view.id ?? '',
    payload: view.payload ?? null,
    name: view.name,
    path: view.path,
    sequence: view.sequence,
    sessionId: view.sessionId,
    createdAtMs: view.createdAtMs,
    waitedMs: view.waitedMs,
  };
}

/** Children of a discovery node; a missing one is NONODE with `detail` as its message. */
async function childrenOrNoNode(client: ArborClient, path: string, detail: string, call: CallOptions): Promise<string[]> {
  try {
    return (await allChildren(client, path, call)).sort();
  } catch (error) {
    if (error instanceof NoNodeError) throw errorFor(ErrorCode.NONODE, detail, { op: 'getChildren', path });
    throw error;
  }
}

async function runServices(
  command: Extract<Command, { name: 'services' }>,
  { client, emit }: RunContext,
  call: CallOptions,
): Promise<void> {
  const { root, service, path } = command;
  if (service === undefined) {
    const names = await childrenOrNoNode(client, root, 'the discovery root does not exist (no service has registered under it)', call);
    // A service deleted between the two reads is left out.
    const counted = await Promise.all(names.map(async (name) => ({ name, stat: await client.exists(childPath(root, name), call) })));
    const services = counted.flatMap(({ name, stat }) => (stat === null ? [] : [{ name, instances: stat.numChildren }]));
    emit({ command: 'services', root, services });
    return;
  }
  const names = await childrenOrNoNode(client, path, `no service '${service}' under ${root}`, call);
  const read = await Promise.all(
    names.map(async (name) => {
      try {
        return { name, ...(await client.getData(childPath(path, name), call)) };
      } catch (error) {
        // An instance that unregistered meanwhile is simply absent.
        if (error instanceof NoNodeError) return undefined;
        throw error;
      }
    }),
  );
  const instances: InstanceEntry[] = [];
  const ignored: string[] = [];
  for (const node of read) {
    if (node === undefined) continue;
    const instance = parseInstance(node.data);
    if (instance === undefined) ignored.push(node.name);
    else instances.push({ ...instance, path: childPath(path, node.name), sessionId: node.stat.ephemeralOwner });
  }
  instances.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  emit({ command: 'services', root, service, path, instances, ignored });
}

const RUNNERS: Runners = {
  async ls({ path, recursive, stat }, { client, emit }, call) {
    if (recursive) {
      emit({ command: 'ls', path, paths: await subtree(client, path, call) });
      return;
    }
    // One request when it fits a page (it carries the stat); more pages only for big nodes.
    const first = await client.getChildren(path, { ...call, limit: PAGE_SIZE });
    const children = first.more ? await allChildren(client, path, call) : first.children;
    emit(stat ? { command: 'ls', path, children, stat: first.stat } : { command: 'ls', path, children });
  },

  async get({ path, stat, watch }, { client, emit, notify }, call) {
    if (watch) {
      const result = await client.getData(path, { ...call, watch: true });
      // Rejects only when the session ends (closing the shell included): nothing to report.
      result.changed.then((event) => notify({ command: 'get', path, watchEvent: event })).catch(() => undefined);
      emit(stat ? { command: 'get', path, data: result.data, stat: result.stat } : { command: 'get', path, data: result.data });
      return;
    }
    const result = await client.getData(path, call);
    emit(stat ? { command: 'get', path, data: result.data, stat: result.stat } : { command: 'get', path, data: result.data });
  },

  async stat({ path }, { client, emit }, call) {
    const stat = await client.exists(path, call);
    if (stat === null) throw errorFor(ErrorCode.NONODE, undefined, { op: 'exists', path });
    emit({ command: 'stat', path, stat });
  },

  async set({ path, data, version }, { client, emit }, call) {
    emit({ command: 'set', path, stat: await client.setData(path, data, { ...call, version }) });
  },

  async create({ path, data, mode, ttlMs, acl }, { client, emit }, call) {
    const created = await client.create2(path, data, {
      ...call,
      mode,
      ...(ttlMs !== undefined ? { ttlMs } : {}),
      ...(acl !== undefined ? { acl } : {}),
    });
    emit({ command: 'create', path: created.path, stat: created.stat });
  },

  async delete({ path, version }, { client, emit }, call) {
    await client.delete(path, { ...call, version });
    emit({ command: 'delete', path });
  },

  async deleteall({ path }, { client, emit }, call) {
    emit({ command: 'deleteall', path, deleted: await deleteSubtree(client, path, call) });
  },

  async sync({ path }, { client, emit }, call) {
    await client.sync(path, call);
    emit({ command: 'sync', path });
  },

  watch: runWatch,

  async getAcl({ path }, { client, emit }, call) {
    const { acl, stat } = await client.getACL(path, call);
    emit({ command: 'getAcl', path, acl, stat });
  },

  async setAcl({ path, acl, version }, { client, emit }, call) {
    emit({ command: 'setAcl', path, stat: await client.setACL(path, acl, { ...call, version }) });
  },

  async addauth({ scheme, credentials }, { client, emit }, call) {
    await client.addAuth(scheme, credentials, call);
    emit({ command: 'addauth', scheme });
  },

  async whoami(_command, { client, emit }, call) {
    emit({ command: 'whoami', identities: await client.whoAmI(call) });
  },

  async lock({ path }, { client, emit, signal, now }, call) {
    await mustExist(client, path, call);
    const view = await abortable(participantsOf(client, path, { nowMs: now?.() ?? Date.now() }), signal);
    emit({
      command: 'lock',
      path,
      kind: view.kind,
      ...(view.maxLeases !== undefined ? { maxLeases: view.maxLeases } : {}),
      holders: view.holders.map((v) => lockEntry(v, view.kind)),
      waiters: view.waiters.map((v) => lockEntry(v, view.kind)),
    });
  },

  async election({ path }, { client, emit, signal, now }, call) {
    await mustExist(client, path, call);
    const view = await abortable(participantsOf(client, path, { nowMs: now?.() ?? Date.now() }), signal);
    if (view.kind !== 'election' && view.kind !== 'empty') {
      const what =
        view.kind === 'unknown'
          ? 'sequential nodes of no known recipe'
          : `a ${view.kind === 'readWriteLock' ? 'read-write lock' : view.kind}`;
      throw new Error(`not an election: the path holds ${what} (try 'lock ${path}')`);
    }
    const [leader] = view.holders;
    emit({
      command: 'election',
      path,
      leader: leader === undefined ? null : electionEntry(leader),
      candidates: view.waiters.map(electionEntry),
    });
  },

  services: runServices,

  async history(_command, { emit, history }) {
    emit({ command: 'history', history: [...history] });
  },

  async help({ command }, { emit }) {
    emit(command === undefined ? { command: 'help' } : { command: 'help', topic: command });
  },
};

/** Runs one command (not `quit`, which the shell loop handles). Throws the client's error on failure. */
export async function runCommand(command: Exclude<Command, { name: 'quit' }>, ctx: RunContext): Promise<void> {
  const call: CallOptions = ctx.signal !== undefined ? { signal: ctx.signal } : {};
  const runner = RUNNERS[command.name] as Runner<typeof command>;
  await runner(command, ctx, call);
}
