/** Load statistics across workers (docs/wire-protocol.md §7). Pure. */

export interface LoadStatistics {
  avg: number;
  /** Population standard deviation. */
  std: number;
}

/** Mean and population standard deviation; undefined for no workers (never NaN). */
export function loadStatistics(loads: readonly number[]): LoadStatistics | undefined {
  if (loads.length === 0) return undefined;
  let sum = 0;
  for (const l of loads) sum += l;
  const avg = sum / loads.length;
  let sq = 0;
  for (const l of loads) sq += (l - avg) * (l - avg);
  return { avg, std: Math.sqrt(sq / loads.length) };
}
