// Entry point of scripts/test-cleanup: sweeps the leftovers of dead test runs
// (recorded in /run/zmesh-test) and prints what it removed.
//   node --import tsx test/harness/cleanup-cli.ts [--dry-run] [--run-dir DIR]
import { DEFAULT_RUN_DIR, sweepStaleRuns } from './runs.js';

function main(argv: string[]): number {
  let runDir = DEFAULT_RUN_DIR;
  let dryRun = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--dry-run') dryRun = true;
    else if (a === '--run-dir' && argv[i + 1]) runDir = argv[++i] as string;
    else if (a === '-h' || a === '--help') {
      console.log('usage: scripts/test-cleanup [--dry-run] [--run-dir DIR]');
      return 0;
    } else {
      console.error(`test-cleanup: unknown argument '${a}' (usage: scripts/test-cleanup [--dry-run] [--run-dir DIR])`);
      return 2;
    }
  }
  const report = sweepStaleRuns({ runDir, dryRun });
  const verb = dryRun ? 'would remove' : 'removed';
  for (const r of report.swept) {
    console.log(
      `${r.prefix} (pid ${r.pid} dead): ${verb} ${r.namespaces.length} namespace(s)` +
        (r.namespaces.length ? ` [${r.namespaces.join(' ')}]` : '') +
        `, ${dryRun ? 'would kill' : 'killed'} ${r.killedPids.length} process(es)` +
        (r.killedPids.length ? ` [${r.killedPids.join(' ')}]` : ''),
    );
  }
  for (const p of report.live) console.log(`${p}: owner alive, left alone`);
  for (const e of report.errors) console.error(`error: ${e}`);
  if (report.swept.length === 0 && report.live.length === 0) console.log(`no recorded test runs in ${runDir}`);
  return report.errors.length > 0 ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
