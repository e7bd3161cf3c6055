import { describe, expect, it } from 'vitest';
import { foundingPeersNeeded, holdsOnlyFounding } from '@arbor/raft';

// The rule behind the rejoin guard's founding probe (rejoin-guard.ts); the probe's messages and
// counting are the server's (server/test/core/founding-probe.test.ts).
const founding = { index: 3, term: 1 };

describe('the founding rule', () => {
  it('a log holds only the founding entries when it ends at them', () => {
    expect(holdsOnlyFounding({ index: 3, term: 1 }, founding)).toBe(true);
    expect(holdsOnlyFounding({ index: 4, term: 2 }, founding)).toBe(false);
    expect(holdsOnlyFounding({ index: 4, term: 1 }, founding)).toBe(false);
  });

  it('needs enough peers to meet every majority, which may include the asking member', () => {
    expect([1, 2, 3, 4, 5, 7].map(foundingPeersNeeded)).toEqual([0, 1, 2, 2, 3, 4]);
  });
});
