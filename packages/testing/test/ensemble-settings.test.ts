import { describe, expect, it } from 'vitest';
import { memberSettingsFor } from '../src/ensemble.js';

describe('the settings Ensemble writes into a member config', () => {
  it('are the harness defaults, then the shorthands, then settings, then the member own', () => {
    expect(memberSettingsFor(1, { members: 3 })).toEqual({ logLevel: 'info', tickMs: 50 });
    const options = {
      members: 3,
      tickMs: 20,
      snapshotEveryEntries: 500,
      settings: { changeWindowEntries: 20, snapshotEveryEntries: 1_000, limits: { dataBytesMax: 4096, frameBytesMax: 8192 } },
      memberSettings: { 2: { changeWindowEntries: 5, logLevel: 'debug' as const, limits: { dataBytesMax: 2048 } } },
    };
    expect(memberSettingsFor(1, options)).toEqual({
      logLevel: 'info',
      tickMs: 20,
      snapshotEveryEntries: 1_000,
      changeWindowEntries: 20,
      limits: { dataBytesMax: 4096, frameBytesMax: 8192 },
    });
    expect(memberSettingsFor(2, options)).toEqual({
      logLevel: 'debug',
      tickMs: 20,
      snapshotEveryEntries: 1_000,
      changeWindowEntries: 5,
      limits: { dataBytesMax: 2048, frameBytesMax: 8192 },
    });
  });

  it('refuses settings for a member the ensemble does not have', () => {
    expect(() => memberSettingsFor(1, { members: 3, memberSettings: { 4: { tickMs: 10 } } })).toThrow(/member 4.*1\.\.3/);
    expect(() => memberSettingsFor(1, { members: 3, memberSettings: { 0: { tickMs: 10 } } })).toThrow(/member 0/);
  });
});
