// Walks testdata/*.txt: each file is a scripted scenario with golden output (src/sim/script.ts
// documents the commands). RAFT_UPDATE_GOLDEN=1 rewrites the expectations; commit only diffs
// you can explain.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runScript } from '@arbor/raft/sim';

const dir = fileURLToPath(new URL('../testdata/', import.meta.url));
const update = process.env.RAFT_UPDATE_GOLDEN === '1';
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.txt'))
  .sort();

describe('raft scenarios', () => {
  it('has scenarios', () => {
    expect(files.length).toBeGreaterThanOrEqual(7);
  });

  for (const file of files) {
    it(file, () => {
      const path = join(dir, file);
      const text = readFileSync(path, 'utf8');
      const { blocks, rewritten } = runScript(text);
      if (update) {
        if (rewritten !== text) writeFileSync(path, rewritten);
        return;
      }
      for (const { block, actual } of blocks) {
        expect(actual, `${file}: ${block.command}`).toBe(block.expected);
      }
    });
  }
});
