/**
 * What one `metrics` process follows (pure): its targets, each a `namespace/component/endpoint`,
 * from `--target` (repeatable), the seed's `--namespace/--component/--endpoint` (one target), and
 * `--all-endpoints` (every endpoint of the namespace, as workers register them). All targets of
 * one process are in one namespace: the exported series name a target by its `component` and
 * `endpoint` labels only, as the seed's do, so two namespaces in one process could not be told
 * apart; run one process per namespace.
 */
import { ConfigError } from '../errors.ts';
import { validateName } from '../runtime/names.ts';
import { InvalidNameError } from '../runtime/errors.ts';
import { parseString, ValueError } from '../config/values.ts';

/** The most targets one process follows (given, and found by `--all-endpoints`). */
export const MAX_TARGETS = 1_000;

export interface Target {
  readonly namespace: string;
  readonly component: string;
  readonly endpoint: string;
}

/** `namespace/component/endpoint`. */
export function targetPath(t: Target): string {
  return `${t.namespace}/${t.component}/${t.endpoint}`;
}

/**
 * One `--target` value: `NAMESPACE/COMPONENT/ENDPOINT`, or `COMPONENT/ENDPOINT` in the namespace
 * `--namespace` names (marked by an empty namespace until `resolveTargets` fills it in).
 */
export function parseTarget(v: unknown): Target {
  const s = parseString(v);
  const parts = s.split('/');
  if (parts.length !== 2 && parts.length !== 3) throw new ValueError(`has ${JSON.stringify(s)}, which is not NAMESPACE/COMPONENT/ENDPOINT`);
  const [namespace = '', component = '', endpoint = ''] = parts.length === 3 ? parts : ['', ...parts];
  try {
    return {
      namespace: namespace === '' ? '' : validateName('namespace', namespace),
      component: validateName('component', component),
      endpoint: validateName('endpoint', endpoint),
    };
  } catch (err) {
    if (err instanceof InvalidNameError) throw new ValueError(`has ${JSON.stringify(s)}: ${err.message}`);
    throw err;
  }
}

/** `--target` given once or more (or `target:` in the config file, a list or one value). */
export function parseTargets(v: unknown): Target[] {
  const items = Array.isArray(v) ? v : [v];
  return items.map(parseTarget);
}

export interface TargetFlags {
  namespace: string;
  component: string | undefined;
  endpoint: string | undefined;
  targets: readonly Target[];
  allEndpoints: boolean;
}

export interface ResolvedTargets {
  namespace: string;
  /** The targets named (in the order given, without repeats); more join with `allEndpoints`. */
  targets: Target[];
  allEndpoints: boolean;
}

/** The targets of a process; a `ConfigError` (one line) when they are missing, half given or span namespaces. */
export function resolveTargets(f: TargetFlags): ResolvedTargets {
  if ((f.component === undefined) !== (f.endpoint === undefined)) {
    throw new ConfigError(
      f.component === undefined
        ? '--endpoint needs --component (or give --target NAMESPACE/COMPONENT/ENDPOINT)'
        : '--component needs --endpoint (or give --target NAMESPACE/COMPONENT/ENDPOINT)',
    );
  }
  const all: Target[] = [];
  if (f.component !== undefined && f.endpoint !== undefined)
    all.push({ namespace: f.namespace, component: f.component, endpoint: f.endpoint });
  for (const t of f.targets) all.push(t.namespace === '' ? { ...t, namespace: f.namespace } : t);
  if (all.length === 0 && !f.allEndpoints) {
    throw new ConfigError(
      'no target: give --component and --endpoint, --target NAMESPACE/COMPONENT/ENDPOINT (repeatable), or --all-endpoints (see --help)',
    );
  }
  const namespace = f.allEndpoints ? f.namespace : (all[0]?.namespace ?? f.namespace);
  const other = all.find((t) => t.namespace !== namespace);
  if (other !== undefined) {
    throw new ConfigError(
      `--target ${targetPath(other)} is not in namespace ${namespace}: the targets of one process share a namespace (run one process per namespace)`,
    );
  }
  const seen = new Set<string>();
  const targets = all.filter((t) => {
    const key = targetPath(t);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  if (targets.length > MAX_TARGETS) throw new ConfigError(`${targets.length} targets: at most ${MAX_TARGETS} per process`);
  return { namespace, targets, allEndpoints: f.allEndpoints };
}
