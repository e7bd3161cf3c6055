import { describe, expect, it } from 'vitest';
import { ProposalsInFlight } from '../../src/core/in-flight.js';

describe('ProposalsInFlight', () => {
  it('settles a key by the index it was proposed at, whatever entry is applied there', () => {
    const inFlight = new ProposalsInFlight<string>();
    inFlight.add('/a', 10);
    inFlight.add('/b', 11);
    expect(inFlight.has('/a')).toBe(true);
    // Another index (an earlier leader's reap of /a, say) settles nothing.
    expect(inFlight.settle(9)).toBeUndefined();
    expect(inFlight.has('/a')).toBe(true);
    expect(inFlight.settle(10)).toBe('/a');
    expect(inFlight.has('/a')).toBe(false);
    expect(inFlight.settle(10)).toBeUndefined();
    expect(inFlight.size).toBe(1);
    inFlight.clear();
    expect(inFlight.has('/b')).toBe(false);
    expect(inFlight.settle(11)).toBeUndefined();
  });

  it('refuses a second proposal for a key in flight', () => {
    const inFlight = new ProposalsInFlight<number>();
    inFlight.add(7, 3);
    expect(() => inFlight.add(7, 4)).toThrow(/second proposal/);
    expect(() => inFlight.add(8, 3)).toThrow(/index 3/);
  });
});
