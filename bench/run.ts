/** `npm run bench`: every benchmark in turn; each writes its own section of bench/RESULTS.md. */
import { spawnSync } from 'node:child_process';
import { REPO_ROOT } from '../infra/paths.ts';

for (const bench of ['ingest', 'detect', 'respond', 'sdk']) {
  console.error(`[bench] ${bench}`);
  const run = spawnSync(process.execPath, [`${REPO_ROOT}bench/${bench}.ts`], { stdio: 'inherit' });
  if (run.status !== 0) {
    console.error(`[bench] ${bench} failed (exit ${run.status ?? run.signal})`);
    process.exit(run.status ?? 1);
  }
}
