/**
 * The aggregator's `/health` (readiness) and `/live` (liveness), for Kubernetes probes and the
 * image's HEALTHCHECK: cheap answers that never render `/metrics`. Ready means the aggregator
 * does its job now: leading with a current view, or standing by able to take over.
 */

/** What readiness is judged from. */
export interface ReadinessState {
  started: boolean;
  stopping: boolean;
  leader: boolean;
  natsConnected: boolean;
  etcdReachable: boolean;
  /** The leader has completed a scrape cycle. */
  hasView: boolean;
  /** Why the leader's view is not exported now (NATS down, latest cycle too old), if it is not. */
  viewProblem: string | undefined;
}

export interface Readiness {
  ready: boolean;
  /** Why not ready; empty when ready. */
  reasons: string[];
}

export function readinessOf(s: ReadinessState): Readiness {
  const reasons: string[] = [];
  if (s.stopping) reasons.push('shutting down');
  else if (!s.started) reasons.push('starting');
  if (!s.natsConnected) reasons.push('NATS is disconnected');
  if (s.leader) {
    if (s.viewProblem !== undefined) {
      if (s.natsConnected) reasons.push(s.viewProblem);
    } else if (!s.hasView && s.started) reasons.push('no scrape cycle completed yet');
  } else if (!s.etcdReachable) reasons.push('etcd is unreachable: this standby cannot take over');
  return { ready: reasons.length === 0, reasons };
}

/** Several targets' readiness as one: ready when every target is (and with none yet); each reason names its target. */
export function mergeReadiness(targets: readonly (readonly [string, Readiness])[]): Readiness {
  const [only] = targets;
  if (targets.length === 1 && only !== undefined) return only[1];
  const reasons: string[] = [];
  for (const [path, r] of targets) for (const why of r.reasons) reasons.push(`${path}: ${why}`);
  return { ready: reasons.length === 0, reasons };
}

/** The JSON body of `/health`: `{"status":"ready"|"notready","role",…}`, as a worker's status server answers. */
export function healthBody(
  r: Readiness,
  role: 'leader' | 'standby',
  uptimeSeconds: number,
): { status: 'ready' | 'notready'; role: string; reasons: string[]; uptime_seconds: number } {
  return { status: r.ready ? 'ready' : 'notready', role, reasons: r.reasons, uptime_seconds: uptimeSeconds };
}
