/** `promtool check metrics` (from the prometheus Debian package) on an exposition text. */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './process.ts';

export function promtool(text: string): void {
  const file = join(tempDir(), 'metrics.prom');
  writeFileSync(file, text);
  try {
    execFileSync('sh', ['-c', `promtool check metrics < ${file} 2>&1`], { encoding: 'utf8' });
  } catch (err) {
    throw new Error(`promtool check metrics failed: ${(err as { stdout?: string }).stdout ?? String(err)}`);
  }
}
