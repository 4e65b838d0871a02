/**
 * Goals checked by the benchmarks themselves: each figure printed next to its goal with a
 * verdict, and a summary line; `BENCH_STRICT=1` makes a missed goal exit non-zero.
 */
export interface Goal {
  what: string;
  value: number;
  unit: string;
  /** `<=` the value must not exceed the goal; `>=` it must reach it. */
  op: '<=' | '>=';
  goal: number;
}

const goals: Goal[] = [];

export function goal(what: string, value: number, op: Goal['op'], target: number, unit: string): Goal {
  const g = { what, value, op, goal: target, unit };
  goals.push(g);
  return g;
}

export function met(g: Goal): boolean {
  return g.op === '<=' ? g.value <= g.goal : g.value >= g.goal;
}

function show(n: number): string {
  return Number.isInteger(n) ? String(n) : n >= 100 ? n.toFixed(0) : n.toFixed(2);
}

/** The goals as table rows: what, figure, goal, verdict. */
export function goalRows(): string[][] {
  return goals.map((g) => [
    g.what,
    `${show(g.value)} ${g.unit}`,
    `${g.op === '<=' ? '≤' : '≥'} ${show(g.goal)} ${g.unit}`,
    met(g) ? 'met' : 'MISSED',
  ]);
}

/** Prints the verdict line; with BENCH_STRICT=1 a missed goal sets a failing exit code. */
export function verdict(): void {
  const missed = goals.filter((g) => !met(g));
  console.log(
    `\nverdict: ${goals.length - missed.length}/${goals.length} goals met${missed.length > 0 ? `; missed: ${missed.map((g) => g.what).join('; ')}` : ''}`,
  );
  if (missed.length > 0 && process.env.BENCH_STRICT === '1') process.exitCode = 1;
}
