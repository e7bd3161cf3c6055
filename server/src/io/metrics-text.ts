import type { MemberMetrics, MemberStatus } from './member-runtime.js';

/**
 * Renders a member's metrics in the Prometheus text exposition format (version 0.0.4).
 * Every name starts with `arbor_`; counters end in `_total`, sums of durations in `_seconds`.
 */

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Prometheus spells the infinities +Inf and -Inf. */
function num(n: number): string {
  if (Number.isFinite(n)) return String(n);
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return 'NaN';
}

class Writer {
  private readonly lines: string[] = [];
  metric(name: string, type: 'counter' | 'gauge', help: string, samples: [Record<string, string>, number][]): void {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) {
      const keys = Object.keys(labels);
      const text = keys.length === 0 ? '' : `{${keys.map((k) => `${k}="${escapeLabel(labels[k] ?? '')}"`).join(',')}}`;
      this.lines.push(`${name}${text} ${num(value)}`);
    }
  }
  toString(): string {
    return this.lines.join('\n') + '\n';
  }
}

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export function renderMetrics(metrics: MemberMetrics, status?: MemberStatus): string {
  const w = new Writer();
  const ops = Object.keys(metrics.requests).sort();
  w.metric(
    'arbor_requests_total',
    'counter',
    'Requests answered, by op.',
    ops.map((op) => [{ op }, metrics.requests[op] ?? 0]),
  );
  w.metric(
    'arbor_request_latency_seconds_sum',
    'counter',
    'Sum of request latencies, by op.',
    ops.map((op) => [{ op }, (metrics.latencyMsSum[op] ?? 0) / 1000]),
  );
  w.metric('arbor_fsync_total', 'counter', 'Log fsyncs.', [[{}, metrics.fsyncCount]]);
  w.metric('arbor_fsync_seconds_sum', 'counter', 'Time spent in log fsyncs.', [[{}, metrics.fsyncMsSum / 1000]]);
  w.metric('arbor_commits_total', 'counter', "Writes of this member's clients committed and applied.", [[{}, metrics.commitCount]]);
  w.metric(
    'arbor_commit_seconds_sum',
    'counter',
    'Sum of their times from arrival at this member to apply (forward, replication, fsync on a majority).',
    [[{}, metrics.commitMsSum / 1000]],
  );
  w.metric('arbor_elections_total', 'counter', 'Elections this member started.', [[{}, metrics.elections]]);
  w.metric('arbor_pending_proposals', 'gauge', 'Proposals not yet committed.', [[{}, metrics.pendingProposals]]);
  w.metric('arbor_pending_reads', 'gauge', 'Linearizable reads waiting for a read index.', [[{}, metrics.pendingReads]]);
  w.metric('arbor_connections', 'gauge', 'Open client connections.', [[{}, metrics.connections]]);
  w.metric('arbor_event_loop_lag_seconds', 'gauge', 'Event loop lag.', [[{}, metrics.eventLoopLagMs / 1000]]);
  if (status !== undefined) {
    w.metric('arbor_is_leader', 'gauge', '1 on the leader.', [[{}, status.role === 'leader' ? 1 : 0]]);
    w.metric('arbor_term', 'gauge', 'Current Raft term.', [[{}, status.term]]);
    w.metric('arbor_commit_index', 'gauge', 'Raft commit index.', [[{}, status.commitIndex]]);
    w.metric('arbor_applied_index', 'gauge', 'Last applied log index.', [[{}, status.appliedIndex]]);
    w.metric('arbor_sessions', 'gauge', 'Live sessions.', [[{}, status.sessions]]);
    w.metric('arbor_watches', 'gauge', 'Registered watches.', [[{}, status.watches]]);
    w.metric('arbor_znodes', 'gauge', 'Znodes in the tree.', [[{}, status.znodes]]);
    w.metric(
      'arbor_follower_lag_entries',
      'gauge',
      'On the leader: entries each follower is behind.',
      status.followers.map((f) => [{ follower: String(f.id) }, f.lag]),
    );
  }
  return w.toString();
}
