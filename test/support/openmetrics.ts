/** OpenMetrics checks shared by the tests: what Prometheus asks for, and an independent parser. */
import { execFileSync } from 'node:child_process';

/** What Prometheus 2.x sends by default. */
export const PROMETHEUS_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

export type Family = [name: string, type: string, samples: [string, Record<string, string>, number][]];

/** Parses with prometheus_client (OpenMetrics or 0.0.4 parser) in Debian's Python. */
export function parseWithPython(text: string, openMetrics: boolean): Family[] {
  const parser = openMetrics ? 'prometheus_client.openmetrics.parser' : 'prometheus_client.parser';
  const script = `import sys, json\nfrom ${parser} import text_string_to_metric_families as p\nprint(json.dumps([[f.name, f.type, [[s.name, s.labels, s.value] for s in f.samples]] for f in p(sys.stdin.read())]))`;
  return JSON.parse(execFileSync('/usr/bin/python3', ['-c', script], { input: text, encoding: 'utf8' })) as Family[];
}
