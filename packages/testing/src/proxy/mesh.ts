// Link-level faults between ensemble members. Members reach each other by dialling peer ports,
// so a proxy per ordered pair (from → to) stands between them: member `from` is configured to
// reach `to` at that proxy's port, and the proxy forwards to `to`'s real peer port. The link
// from → to is therefore the TCP connection `from` dials; its mode applies to both directions of
// that connection. partition() and isolate() cut both links of a pair, which cuts a pair off
// whichever connection its traffic uses; setMode() on one link makes asymmetric faults (when the
// transport sends each message on the sender's own connection, cutting from → to loses exactly
// from's messages to `to`).
import { Mode, describeMode } from './modes.js';
import type { LinkMode } from './modes.js';
import { startProxy } from './proxy.js';
import type { FaultProxy } from './proxy.js';

export type MemberId = string | number;

export interface MeshMember {
  readonly id: MemberId;
  /** The member's real peer port. */
  readonly peerPort: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
}

export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

export interface PeerMeshOptions {
  /** The mode partition() and isolate() give cut links unless told otherwise. Default blackhole. */
  readonly cutMode?: LinkMode;
  /** Seeds the proxies' jitter (each link gets seed + its index). Default 1. */
  readonly seed?: number;
}

export interface LinkState {
  readonly from: MemberId;
  readonly to: MemberId;
  readonly mode: LinkMode;
}

export interface PeerMesh {
  readonly members: readonly MemberId[];
  /** Where `from` must dial to reach `to` (a proxy). */
  addressOf(from: MemberId, to: MemberId): PeerAddress;
  /** Every other member's address as `from` must dial it: write these into `from`'s configuration. */
  peersOf(from: MemberId): ReadonlyMap<MemberId, PeerAddress>;
  /** The proxy of one link, for stats or finer control. */
  link(from: MemberId, to: MemberId): FaultProxy;
  setMode(from: MemberId, to: MemberId, mode: LinkMode): void;
  /**
   * Every member must appear in exactly one group. Links within a group pass; links between
   * groups (both directions) get `mode`, by default the mesh's cutMode.
   */
  partition(groups: readonly (readonly MemberId[])[], mode?: LinkMode): void;
  /** Cuts every link to and from `id`; other links keep their modes. */
  isolate(id: MemberId, mode?: LinkMode): void;
  /** Every link back to pass. */
  heal(): void;
  links(): LinkState[];
  /** One line per link that is not pass, or `all links pass`. */
  describe(): string;
  /** Closes every proxy; resolves when all their sockets are closed. */
  close(): Promise<void>;
}

export async function createPeerMesh(members: readonly MeshMember[], options: PeerMeshOptions = {}): Promise<PeerMesh> {
  const ids = members.map((m) => m.id);
  if (new Set(ids).size !== ids.length) throw new Error(`mesh: duplicate member ids in ${JSON.stringify(ids)}`);
  const proxies = new Map<string, FaultProxy>();
  const started: Promise<void>[] = [];
  let index = 0;
  for (const from of members) {
    for (const to of members) {
      if (from.id === to.id) continue;
      const seed = (options.seed ?? 1) + index++;
      const name = `link ${String(from.id)}→${String(to.id)}`;
      started.push(
        startProxy({ targetHost: to.host ?? '127.0.0.1', targetPort: to.peerPort, seed, name }).then((p) => {
          proxies.set(linkKey(from.id, to.id), p);
        }),
      );
    }
  }
  const results = await Promise.allSettled(started);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) {
    await Promise.all([...proxies.values()].map((p) => p.close()));
    throw failed.reason;
  }
  return new ProxyMesh(ids, proxies, options.cutMode ?? Mode.blackhole);
}

function linkKey(from: MemberId, to: MemberId): string {
  return JSON.stringify([from, to]);
}

class ProxyMesh implements PeerMesh {
  constructor(
    readonly members: readonly MemberId[],
    private readonly proxies: ReadonlyMap<string, FaultProxy>,
    private readonly cutMode: LinkMode,
  ) {}

  addressOf(from: MemberId, to: MemberId): PeerAddress {
    const p = this.link(from, to);
    return { host: p.host, port: p.port };
  }

  peersOf(from: MemberId): ReadonlyMap<MemberId, PeerAddress> {
    this.assertMember(from);
    return new Map(this.members.filter((to) => to !== from).map((to) => [to, this.addressOf(from, to)] as const));
  }

  link(from: MemberId, to: MemberId): FaultProxy {
    this.assertMember(from);
    this.assertMember(to);
    const p = this.proxies.get(linkKey(from, to));
    if (p === undefined) throw new Error(`mesh: no link from ${String(from)} to itself`);
    return p;
  }

  setMode(from: MemberId, to: MemberId, mode: LinkMode): void {
    this.link(from, to).setMode(mode);
  }

  partition(groups: readonly (readonly MemberId[])[], mode: LinkMode = this.cutMode): void {
    const groupOf = new Map<MemberId, number>();
    groups.forEach((group, g) =>
      group.forEach((id) => {
        this.assertMember(id);
        if (groupOf.has(id)) throw new Error(`mesh: member ${String(id)} is in more than one group`);
        groupOf.set(id, g);
      }),
    );
    const missing = this.members.filter((id) => !groupOf.has(id));
    if (missing.length > 0) throw new Error(`mesh: partition leaves out ${missing.map(String).join(', ')}`);
    this.forEachLink((from, to, p) => p.setMode(groupOf.get(from) === groupOf.get(to) ? Mode.pass : mode));
  }

  isolate(id: MemberId, mode: LinkMode = this.cutMode): void {
    this.assertMember(id);
    this.forEachLink((from, to, p) => {
      if (from === id || to === id) p.setMode(mode);
    });
  }

  heal(): void {
    this.forEachLink((_from, _to, p) => p.setMode(Mode.pass));
  }

  links(): LinkState[] {
    const out: LinkState[] = [];
    this.forEachLink((from, to, p) => out.push({ from, to, mode: p.mode }));
    return out;
  }

  describe(): string {
    const cut = this.links().filter((l) => l.mode.kind !== 'pass');
    if (cut.length === 0) return 'all links pass';
    return cut.map((l) => `${String(l.from)}→${String(l.to)} ${describeMode(l.mode)}`).join('\n');
  }

  async close(): Promise<void> {
    await Promise.all([...this.proxies.values()].map((p) => p.close()));
  }

  private forEachLink(f: (from: MemberId, to: MemberId, p: FaultProxy) => void): void {
    for (const from of this.members) for (const to of this.members) if (from !== to) f(from, to, this.link(from, to));
  }

  private assertMember(id: MemberId): void {
    if (!this.members.includes(id)) throw new Error(`mesh: unknown member ${JSON.stringify(id)}`);
  }
}
