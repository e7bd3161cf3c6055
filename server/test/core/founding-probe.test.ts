import { describe, expect, it } from 'vitest';
import { FoundingProbe, answerFoundingQuestion } from '../../src/core/founding-probe.js';

// The founding rule itself (holdsOnlyFounding, foundingPeersNeeded) is @arbor/raft's: packages/raft/test/rejoin-guard.test.ts.

const founding = { index: 3, term: 1 };

describe('the founding probe', () => {
  it('answers from the log: only the founding entries, or more', () => {
    expect(answerFoundingQuestion({ fresh: founding }, { index: 3, term: 1 })).toEqual({ k: 'foundingA', onlyFounding: true });
    expect(answerFoundingQuestion({ fresh: founding }, { index: 9, term: 4 })).toEqual({ k: 'foundingA', onlyFounding: false });
  });

  it('ignores malformed questions and answers', () => {
    expect(answerFoundingQuestion({ fresh: 'x' }, founding)).toBeNull();
    expect(answerFoundingQuestion({}, founding)).toBeNull();
    const probe = new FoundingProbe(1, founding);
    probe.heard(2, 'yes');
    probe.heard(3, 1);
    expect(probe.confirmsNew([1, 2, 3])).toBe(false);
  });

  it('needs enough peers to meet every majority, which may include the asking member', () => {
    const probe = new FoundingProbe(1, founding);
    probe.heard(2, true);
    expect(probe.confirmsNew([1, 2, 3])).toBe(false); // 1 and 3 might have committed without 2
    probe.heard(3, true);
    expect(probe.confirmsNew([1, 2, 3])).toBe(true);
    expect(new FoundingProbe(1, founding).confirmsNew([1])).toBe(true);
  });

  it('never counts the asking member, and one peer past the founding entries vetoes', () => {
    const probe = new FoundingProbe(1, founding);
    probe.heard(1, true);
    probe.heard(2, true);
    expect(probe.confirmsNew([1, 2, 3])).toBe(false);
    for (const id of [2, 3, 4]) probe.heard(id, true);
    probe.heard(5, false);
    expect(probe.confirmsNew([1, 2, 3, 4, 5])).toBe(false);
    probe.heard(5, true); // its latest answer counts
    expect(probe.confirmsNew([1, 2, 3, 4, 5])).toBe(true);
  });
});
