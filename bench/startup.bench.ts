/**
 * How long `metrics --help` takes from a cold `node` start: the compiled command (what the bins
 * run since the package is built) against the TypeScript sources run through tsx (how the bins
 * ran before). Goal: ≤ 0.5 s compiled. Runs interleaved, 20 of each, after one warm-up each.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fmt, machine, summarize, table } from './stats.ts';
import { goal, goalRows, verdict } from './goals.ts';

const ROOT = join(import.meta.dirname, '..');
const RUNS = Number(process.env.BENCH_RUNS ?? 20);
if (!existsSync(join(ROOT, 'dist', 'src', 'cli', 'metrics.js'))) execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });

const paths: Record<string, string[]> = {
  'compiled (node bin/metrics.js --help)': [join(ROOT, 'bin', 'metrics.js'), '--help'],
  'sources through tsx (node --import tsx src/cli/metrics.ts --help)': [
    '--import',
    'tsx',
    join(ROOT, 'src', 'cli', 'metrics.ts'),
    '--help',
  ],
  'node itself (node -e 0)': ['-e', '0'],
};
const samples = new Map<string, number[]>(Object.keys(paths).map((k) => [k, []]));

function once(args: string[]): number {
  const t = performance.now();
  const r = spawnSync(process.execPath, args, { cwd: ROOT, stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}`);
  return performance.now() - t;
}

for (const args of Object.values(paths)) once(args);
for (let i = 0; i < RUNS; i++) for (const [name, args] of Object.entries(paths)) samples.get(name)!.push(once(args));

console.log(`## metrics --help start-up (${machine()}, ${RUNS} runs each, interleaved)\n`);
console.log(
  table(
    ['path', 'median ms', 'p90 ms', 'max ms'],
    [...samples].map(([name, s]) => {
      const r = summarize(s);
      return [name, fmt(r.median, 0), fmt(r.p90, 0), fmt(Math.max(...s), 0)];
    }),
  ),
);
const compiled = summarize(samples.get('compiled (node bin/metrics.js --help)')!);
goal('metrics --help, compiled (median)', compiled.median, '<=', 500, 'ms');
console.log('');
console.log(table(['goal', 'figure', 'target', 'verdict'], goalRows()));
verdict();
