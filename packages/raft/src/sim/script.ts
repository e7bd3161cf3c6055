// Scripted scenarios with golden output (STYLE.md 12, after etcd-raft's interaction tests).
// Unlike the randomized cluster, nothing happens by itself here: messages wait in a queue until
// a `deliver` or `stabilize`, writes wait for `persist` when a member's writes are asynchronous,
// and time moves only on `tick`. Each command returns what happened, log lines included.
//
// Commands (ids are member ids; `all` where a list is accepted):
//   cluster voters=1,2,3 [spares=4,5] [preVote=true] [checkQuorum=true] [readOnly=safe|lease]
//           [election=10] [heartbeat=1] [chunk=1048576] [padding=0] [inflight=256] [maxEntries=1024]
//   campaign <id>                      start an election now
//   tick <ids> [n=1]                   advance logical clocks
//   deliver [from=<id>] [to=<id>]      deliver the queued messages that match, in order, once
//   drop [from=<id>] [to=<id>]         discard the queued messages that match
//   stabilize [quiet]                  deliver and persist until nothing is left (quiet: no message lines)
//   propose <id> <amount>              propose a counter write
//   read-index <id> <context>          ask for a read point
//   conf-change <id> add-voter|add-learner|remove <member>
//   transfer <id> <to>                 leadership transfer
//   partition <ids> | <ids>            block links between the two sides; heal lifts all
//   link-lost <id> <peer>              the host of <id> saw its connection to <peer> close
//   crash <id> / restart <id>          lose volatile state and unpersisted writes / start again
//   wipe <id>                          a crashed member loses its storage (restart bootstraps it)
//   probe <id>                         the member's host asks its peers whether the ensemble is new
//                                      (founding-probe.ts); `cluster` does this for every founder
//   async-writes <id> on|off           hold this member's writes until `persist`
//   persist <id>                       complete the member's pending writes
//   snapshot <id> [keep=0]             snapshot at the applied index, compact the log behind it
//   send-commit <from> <to> commit=<i> commitTerm=<t> [term=<t>]
//                                      queue a commit notice as if <from> sent it (term: its
//                                      current term) — what a follower does with one no honest
//                                      leader would send
//   status [ids] / log <id> / progress <id>

import { assert } from '../assert.js';
import { decodeConfChange, formatConfState } from '../conf-change.js';
import { formatLogLine, type LogFields, type Logger, type LogLine } from '../logger.js';
import { SeededRandom } from '../random.js';
import type { ConfChangeType, Entry, Message, NodeId } from '../types.js';
import { foundingProbe } from './founding-probe.js';
import { SimMember, type MemberHooks, type RaftTuning } from './member.js';
import { decodeWrite } from './state-machine.js';

export class ScriptError extends Error {
  override name = 'ScriptError';
}

interface Args {
  readonly positional: string[];
  readonly named: Map<string, string>;
}

function parseArgs(words: readonly string[]): Args {
  const positional: string[] = [];
  const named = new Map<string, string>();
  for (const w of words) {
    const eq = w.indexOf('=');
    if (eq > 0) named.set(w.slice(0, eq), w.slice(eq + 1));
    else positional.push(w);
  }
  return { positional, named };
}

export class ScriptEnv {
  private readonly members = new Map<NodeId, SimMember>();
  private voters: NodeId[] = [];
  private queue: Message[] = [];
  private readonly blocked = new Set<string>();
  private out: string[] = [];
  private showMessages = true;
  private readonly hooks: MemberHooks;

  constructor() {
    this.hooks = {
      send: (m) => this.queue.push(m),
      scheduleFsync: () => {},
      entriesHanded: () => {},
      applied: (member, entry) => this.out.push(`${member.id}: applied ${formatEntry(entry)}`),
      snapshotRestored: (member, meta) =>
        this.out.push(`${member.id}: restored snapshot ${meta.index}/${meta.term} ${formatConfState(meta.confState)}`),
      readReady: (member, read) =>
        this.out.push(`${member.id}: read ${asciiOf(read.context)} at index ${read.index} (counter ${member.sm?.counter})`),
      softState: () => {},
    };
  }

  /** Runs one command line; returns its output (possibly empty). */
  run(line: string): string {
    this.out = [];
    const [command, ...rest] = line.trim().split(/\s+/);
    const args = parseArgs(rest);
    switch (command) {
      case 'cluster':
        this.cluster(args);
        break;
      case 'campaign':
        this.node(this.id(args, 0)).campaign();
        this.processAll();
        break;
      case 'tick':
        this.tick(args);
        break;
      case 'deliver':
        this.deliver(args, false);
        break;
      case 'drop':
        this.deliver(args, true);
        break;
      case 'stabilize':
        this.stabilize(args.positional.includes('quiet'));
        break;
      case 'propose':
        this.propose(args);
        break;
      case 'read-index':
        this.result(this.node(this.id(args, 0)).readIndex(asciiBytes(this.word(args, 1))));
        break;
      case 'conf-change':
        this.confChange(args);
        break;
      case 'transfer':
        this.result(this.node(this.id(args, 0)).transferLeadership(this.id(args, 1)));
        break;
      case 'partition':
        this.partition(rest);
        break;
      case 'heal':
        this.blocked.clear();
        break;
      case 'link-lost':
        this.node(this.id(args, 0)).peerDisconnected(this.id(args, 1));
        this.processAll();
        break;
      case 'crash':
        this.member(this.id(args, 0)).crash();
        break;
      case 'wipe':
        this.member(this.id(args, 0)).wipe(this.voters);
        break;
      case 'probe':
        this.probe(this.id(args, 0));
        break;
      case 'restart':
        this.member(this.id(args, 0)).start(this.id(args, 0));
        this.processAll();
        break;
      case 'async-writes':
        this.member(this.id(args, 0)).asyncWrites = this.word(args, 1) === 'on';
        break;
      case 'persist':
        this.persist(this.id(args, 0));
        break;
      case 'send-commit':
        this.sendCommit(args);
        break;
      case 'snapshot': {
        const meta = this.member(this.id(args, 0)).snapshotNow(Number(args.named.get('keep') ?? 0));
        this.out.push(`snapshot ${meta.index}/${meta.term} ${formatConfState(meta.confState)}`);
        break;
      }
      case 'status':
        this.status(args);
        break;
      case 'log':
        this.printLog(this.id(args, 0));
        break;
      case 'progress':
        this.progress(this.id(args, 0));
        break;
      default:
        throw new ScriptError(`unknown command ${command}`);
    }
    return this.out.join('\n');
  }

  // --- setup ---

  private cluster(args: Args): void {
    const ids = (key: string): NodeId[] =>
      (args.named.get(key) ?? '')
        .split(',')
        .filter((s) => s !== '')
        .map(Number);
    const bool = (key: string, fallback: boolean): boolean => (args.named.has(key) ? args.named.get(key) === 'true' : fallback);
    const num = (key: string, fallback: number): number => Number(args.named.get(key) ?? fallback);
    const voters = ids('voters');
    this.voters = voters;
    const tuning: RaftTuning = {
      electionTimeoutTicks: num('election', 10),
      heartbeatIntervalTicks: num('heartbeat', 1),
      preVote: bool('preVote', true),
      checkQuorum: bool('checkQuorum', true),
      readOnlyMode: args.named.get('readOnly') === 'lease' ? 'lease' : 'safe',
      snapshotChunkBytes: num('chunk', 1024 * 1024),
      maxInflightAppends: num('inflight', 256),
      maxEntriesPerAppend: num('maxEntries', 1024),
    };
    for (const id of [...voters, ...ids('spares')]) {
      const member = new SimMember(
        {
          id,
          tuning,
          asyncWrites: false,
          fsyncMinMs: 0,
          fsyncMaxMs: 0,
          snapshotEveryEntries: 0,
          compactKeepEntries: 0,
          snapshotPaddingBytes: num('padding', 0),
        },
        new ScriptLogger(id, (line) => this.out.push(line)),
        new SeededRandom(id),
      );
      this.members.set(id, member);
      if (voters.includes(id)) member.bootstrap(voters);
      // Spares start too, with empty storage, as a server would when told to join.
      member.start(id);
    }
    // The founders' hosts find each other fresh at start-up, as the server's do.
    for (const id of voters) this.probe(id);
    this.processAll();
  }

  private probe(id: NodeId): void {
    const member = this.member(id);
    const confirmed = foundingProbe(member, this.members, (peer) => !this.blocked.has(`${id}>${peer}`));
    this.out.push(`${id}: founding probe ${confirmed ? 'confirms a new ensemble' : 'does not confirm'}`);
    if (confirmed) member.node?.confirmNewEnsemble();
    member.process(0, this.hooks);
  }

  // --- running ---

  private processAll(): void {
    for (const m of this.members.values()) m.process(0, this.hooks);
  }

  private tick(args: Args): void {
    const n = Number(args.named.get('n') ?? 1);
    const ids = this.ids(args.positional);
    for (let i = 0; i < n; i++) {
      for (const id of ids) {
        this.node(id).tick();
        this.member(id).process(0, this.hooks);
      }
    }
  }

  private sendCommit(args: Args): void {
    const from = this.id(args, 0);
    const to = this.id(args, 1);
    const number = (name: string): number => {
      const value = args.named.get(name);
      if (value === undefined) throw new ScriptError(`send-commit needs ${name}=`);
      return Number(value);
    };
    const term = args.named.has('term') ? number('term') : this.node(from).status().term;
    this.queue.push({ type: 'commit', from, to, term, commit: number('commit'), commitTerm: number('commitTerm') });
  }

  private deliver(args: Args, drop: boolean): number {
    const from = args.named.has('from') ? Number(args.named.get('from')) : null;
    const to = args.named.has('to') ? Number(args.named.get('to')) : null;
    const matches = (m: Message): boolean => (from === null || m.from === from) && (to === null || m.to === to);
    const batch = this.queue.filter(matches);
    this.queue = this.queue.filter((m) => !matches(m));
    for (const m of batch) {
      const target = this.members.get(m.to);
      if (drop) {
        continue;
      } else if (this.blocked.has(`${m.from}>${m.to}`)) {
        if (this.showMessages) this.out.push(`${formatMessage(m)} (partitioned)`);
      } else if (target === undefined || !target.running) {
        if (this.showMessages) this.out.push(`${formatMessage(m)} (member down)`);
      } else {
        if (this.showMessages) this.out.push(formatMessage(m));
        (target.node as NonNullable<SimMember['node']>).step(m);
        target.process(0, this.hooks);
      }
    }
    if (drop) this.out.push(`dropped ${batch.length} message${batch.length === 1 ? '' : 's'}`);
    return batch.length;
  }

  private stabilize(quiet: boolean): void {
    this.showMessages = !quiet;
    try {
      for (let round = 0; round < 1000; round++) {
        let progressed = false;
        for (const m of this.members.values()) {
          if (m.running && m.pendingWriteCount() > 0 && !m.asyncWrites) {
            m.completeWrites(Number.POSITIVE_INFINITY, this.hooks);
            progressed = true;
          }
        }
        this.processAll();
        if (this.deliver({ positional: [], named: new Map() }, false) > 0) progressed = true;
        if (!progressed) return;
      }
      throw new ScriptError('stabilize did not settle in 1000 rounds');
    } finally {
      this.showMessages = true;
    }
  }

  private persist(id: NodeId): void {
    const m = this.member(id);
    const n = m.pendingWriteCount();
    m.completeWrites(Number.POSITIVE_INFINITY, this.hooks);
    this.out.push(`${id}: persisted ${n} write${n === 1 ? '' : 's'}`);
  }

  private propose(args: Args): void {
    const amount = Number(this.word(args, 1));
    const data = new Uint8Array(8);
    new DataView(data.buffer).setUint32(0, amount);
    const result = this.node(this.id(args, 0)).propose(data);
    this.result(result.ok ? { ok: true, text: `proposed ${result.index}/${result.term}` } : result);
  }

  private confChange(args: Args): void {
    const kinds: Record<string, ConfChangeType> = { 'add-voter': 'addVoter', 'add-learner': 'addLearner', remove: 'removeMember' };
    const type = kinds[this.word(args, 1)];
    if (type === undefined) throw new ScriptError(`unknown change ${this.word(args, 1)}`);
    const result = this.node(this.id(args, 0)).proposeConfChange({ type, memberId: this.id(args, 2), context: new Uint8Array(0) });
    this.result(result.ok ? { ok: true, text: `proposed ${result.index}/${result.term}` } : result);
  }

  private result(r: { ok: true; text?: string } | { ok: false; reason: string; message: string }): void {
    if (r.ok) {
      if (r.text) this.out.push(r.text);
    } else {
      this.out.push(`refused: ${r.reason} (${r.message})`);
    }
    this.processAll();
  }

  private partition(words: readonly string[]): void {
    const bar = words.indexOf('|');
    if (bar < 0) throw new ScriptError('partition needs two sides separated by |');
    const left = words.slice(0, bar).map(Number);
    const right = words.slice(bar + 1).map(Number);
    for (const a of left) {
      for (const b of right) {
        this.blocked.add(`${a}>${b}`);
        this.blocked.add(`${b}>${a}`);
      }
    }
  }

  // --- inspection ---

  private status(args: Args): void {
    for (const id of args.positional.length > 0 ? this.ids(args.positional) : [...this.members.keys()]) {
      const m = this.member(id);
      if (m.node === null) {
        this.out.push(`${id}: down`);
        continue;
      }
      const s = m.node.status();
      this.out.push(
        `${id}: ${s.role} term=${s.term} leader=${s.leader ?? '-'} commit=${s.commit} applied=${s.applied} ` +
          `last=${s.lastIndex} durable=${s.durableIndex} ${formatConfState(s.confState)}`,
      );
    }
  }

  private printLog(id: NodeId): void {
    const node = this.node(id);
    const s = node.status();
    if (s.firstIndex > 1) this.out.push(`(compacted through ${s.firstIndex - 1}/${node.logTerm(s.firstIndex - 1)})`);
    for (const e of node.logEntries(s.firstIndex, s.lastIndex + 1)) this.out.push(formatEntry(e));
    if (s.lastIndex < s.firstIndex) this.out.push('(empty)');
  }

  private progress(id: NodeId): void {
    const progress = this.node(id).progress();
    if (progress === null) {
      this.out.push(`${id}: not leader`);
      return;
    }
    for (const [peer, p] of [...progress].sort((a, b) => a[0] - b[0])) {
      this.out.push(`${peer}: ${p.state} match=${p.match} next=${p.next}${p.recentActive ? ' active' : ''}`);
    }
  }

  // --- helpers ---

  private member(id: NodeId): SimMember {
    const m = this.members.get(id);
    if (m === undefined) throw new ScriptError(`no member ${id}`);
    return m;
  }

  private node(id: NodeId): NonNullable<SimMember['node']> {
    const node = this.member(id).node;
    if (node === null) throw new ScriptError(`member ${id} is down`);
    return node;
  }

  private word(args: Args, i: number): string {
    const w = args.positional[i];
    if (w === undefined) throw new ScriptError(`missing argument ${i + 1}`);
    return w;
  }

  private id(args: Args, i: number): NodeId {
    const id = Number(this.word(args, i));
    if (!Number.isSafeInteger(id) || id <= 0) throw new ScriptError(`bad member id ${this.word(args, i)}`);
    return id;
  }

  private ids(words: readonly string[]): NodeId[] {
    if (words.length === 0 || words[0] === 'all') return [...this.members.keys()].filter((id) => this.member(id).running);
    return words.map(Number);
  }
}

class ScriptLogger implements Logger {
  constructor(
    private readonly member: NodeId,
    private readonly sink: (line: string) => void,
  ) {}
  debug(fields: LogFields, message: string): void {
    this.push({ level: 'debug', message, fields });
  }
  info(fields: LogFields, message: string): void {
    this.push({ level: 'info', message, fields });
  }
  warn(fields: LogFields, message: string): void {
    this.push({ level: 'warn', message, fields });
  }
  private push(line: LogLine): void {
    this.sink(`${this.member}> ${formatLogLine(line)}`);
  }
}

export function formatEntry(e: Entry): string {
  switch (e.type) {
    case 'noop':
      return `${e.index}/${e.term} noop`;
    case 'confChange': {
      const cc = decodeConfChange(e.data);
      return `${e.index}/${e.term} ${cc.type} ${cc.memberId}`;
    }
    case 'normal':
      return `${e.index}/${e.term} +${e.data.length === 8 ? decodeWrite(e.data).amount : `?${e.data.length}b`}`;
  }
}

export function formatMessage(m: Message): string {
  const head = `${m.from}->${m.to} ${m.type} t${m.term}`;
  switch (m.type) {
    case 'preVote':
    case 'vote':
      return `${head} last=${m.lastLogIndex}/${m.lastLogTerm}${m.transfer ? ' transfer' : ''}`;
    case 'preVoteResponse':
    case 'voteResponse':
      return `${head} ${m.reject ? 'rejected' : 'granted'}`;
    case 'append':
      return `${head} prev=${m.prevLogIndex}/${m.prevLogTerm} commit=${m.commit} [${m.entries.map(formatEntry).join(', ')}]`;
    case 'appendResponse':
      return m.reject ? `${head} rejected index=${m.index} hint=${m.hintIndex}/${m.hintTerm}` : `${head} index=${m.index}`;
    case 'commit':
      return `${head} commit=${m.commit}/${m.commitTerm}`;
    case 'heartbeat':
      return `${head} commit=${m.commit}${m.context ? ` ctx=${asciiOf(m.context)}` : ''}`;
    case 'heartbeatResponse':
      return `${head}${m.context ? ` ctx=${asciiOf(m.context)}` : ''}`;
    case 'snapshot':
      return `${head} snap=${m.snapshot.index}/${m.snapshot.term} offset=${m.offset} bytes=${m.data.length}${m.done ? ' done' : ''}`;
    case 'snapshotResponse':
      return `${head} snap=${m.snapshotIndex} next=${m.nextOffset}${m.reject ? ' rejected' : ''}`;
    case 'timeoutNow':
      return head;
    case 'readIndex':
      return `${head} ctx=${asciiOf(m.context)}`;
    case 'readIndexResponse':
      return `${head} ctx=${asciiOf(m.context)} index=${m.index}`;
    case 'transferLeadership':
      return `${head} to=${m.transferee}`;
  }
}

function asciiBytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    assert(code < 128, 'script contexts are ASCII');
    out[i] = code;
  }
  return out;
}

function asciiOf(bytes: Uint8Array): string {
  return String.fromCharCode(...bytes);
}

/** One block of a script file: a command and its expected output. */
export interface ScriptBlock {
  readonly command: string;
  readonly expected: string;
  /** Comment lines preceding the command, kept when rewriting. */
  readonly comments: readonly string[];
}

/**
 * Parses a script: blocks of optional `#` comment lines, a command line, a `----` line, and the
 * expected output up to a blank line.
 */
export function parseScript(text: string): ScriptBlock[] {
  const lines = text.split('\n');
  const blocks: ScriptBlock[] = [];
  let i = 0;
  while (i < lines.length) {
    const comments: string[] = [];
    while (i < lines.length && ((lines[i] as string).trim() === '' || (lines[i] as string).startsWith('#'))) {
      if ((lines[i] as string).startsWith('#')) comments.push(lines[i] as string);
      i++;
    }
    if (i >= lines.length) break;
    const command = lines[i++] as string;
    if (lines[i] !== '----') throw new ScriptError(`line ${i + 1}: expected ---- after "${command}"`);
    i++;
    const expected: string[] = [];
    while (i < lines.length && (lines[i] as string) !== '') expected.push(lines[i++] as string);
    blocks.push({ command, expected: expected.join('\n'), comments });
  }
  return blocks;
}

/** Runs every block; returns the script text with actual outputs (equal to the input when all pass). */
export function runScript(text: string): { blocks: { block: ScriptBlock; actual: string }[]; rewritten: string } {
  const env = new ScriptEnv();
  const results = parseScript(text).map((block) => ({ block, actual: env.run(block.command) }));
  const rewritten = results
    .map(({ block, actual }) => [...block.comments, block.command, '----', ...(actual === '' ? [] : [actual])].join('\n'))
    .join('\n\n');
  return { blocks: results, rewritten: `${rewritten}\n` };
}
