// `node test/dist/linearizability/cli.js <history.json> [--timeout-ms N] [--max-steps N]`
// Checks a history saved by HistoryRecorder.save() — typically the one a failed fault run left
// behind — and prints the verdict with the failure report. Exit status: 0 ok, 1 violation,
// 2 unknown (a budget ran out), 3 the file could not be read or is not a history.
import { pathToFileURL } from 'node:url';
import { checkHistoryFile } from './check.js';
import type { CheckOptions } from './check.js';
import { formatCheckResult } from './report.js';

export const EXIT = { ok: 0, violation: 1, unknown: 2, badInput: 3 } as const;

const USAGE = 'usage: cli.js <history.json> [--timeout-ms N] [--max-steps N]';

export async function runCheckCli(args: readonly string[], write: (text: string) => void): Promise<number> {
  const files: string[] = [];
  const options: CheckOptions = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--timeout-ms' || arg === '--max-steps') {
      const n = Number(args[++i]);
      if (!Number.isSafeInteger(n) || n <= 0) {
        write(`${arg} needs a positive integer\n${USAGE}\n`);
        return EXIT.badInput;
      }
      if (arg === '--timeout-ms') options.timeoutMs = n;
      else options.maxStepsPerKey = n;
    } else if (arg.startsWith('-')) {
      write(`unknown option ${arg}\n${USAGE}\n`);
      return EXIT.badInput;
    } else {
      files.push(arg);
    }
  }
  if (files.length !== 1) {
    write(`${USAGE}\n`);
    return EXIT.badInput;
  }
  try {
    const result = await checkHistoryFile(files[0]!, options);
    write(`${formatCheckResult(result)}\n`);
    return EXIT[result.verdict];
  } catch (e) {
    write(`${files[0]!}: ${e instanceof Error ? e.message : String(e)}\n`);
    return EXIT.badInput;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await runCheckCli(process.argv.slice(2), (text) => process.stdout.write(text));
}
