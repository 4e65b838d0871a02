/**
 * The Kubernetes manifests of deploy/k8s: every file parses, and the fields that must agree do —
 * ports and their names, labels and selectors, the Secret the aggregator reads, the arguments
 * the commands accept and the environment variables they read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { metricsOptions } from '../../src/aggregator/options.ts';
import { loadOptions, type Option, type OptionTable } from '../../src/config/schema.ts';
import { mockWorkerOptions } from '../../src/mock/options.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const K8S = join(ROOT, 'deploy', 'k8s');

interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  ports?: { name: string; containerPort: number }[];
  readinessProbe?: { httpGet?: { path: string; port: string } };
  livenessProbe?: { httpGet?: { path: string; port: string }; tcpSocket?: { port: string } };
}
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec: Record<string, unknown> & {
    replicas?: number;
    selector?: { matchLabels?: Record<string, string> } & Record<string, string>;
    template?: { metadata: { labels: Record<string, string> }; spec: { containers: Container[] } };
    ports?: { name: string; port: number; targetPort: string }[];
    endpoints?: { port: string; path: string }[];
    podMetricsEndpoints?: { port: string; path: string }[];
  };
  stringData?: Record<string, string>;
}

function load(file: string): Manifest[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).map((d) => {
    assert.deepEqual(d.errors, [], file);
    return d.toJS() as Manifest;
  });
}

const files = [
  ...readdirSync(K8S)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => join(K8S, f)),
  ...readdirSync(join(K8S, 'demo')).map((f) => join(K8S, 'demo', f)),
];
const all = files.flatMap(load);
const byKind = (kind: string): Manifest[] => all.filter((m) => m.kind === kind);
const matches = (selector: Record<string, string>, labels: Record<string, string>): boolean =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);
/** Environment variables a process reads besides its option table (runtime connection settings). */
const RUNTIME_ENV = [
  'NATS_SERVER',
  'ETCD_ENDPOINTS',
  'DYN_SYSTEM_ENABLED',
  'DYN_SYSTEM_HOST',
  'DYN_SYSTEM_PORT',
  'DYN_LOG',
  'DYN_LOGGING_JSONL',
  'NATS_AUTH_USERNAME',
  'NATS_AUTH_PASSWORD',
  'NATS_AUTH_TOKEN',
  'ETCD_AUTH_USERNAME',
  'ETCD_AUTH_PASSWORD',
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_HEADERS',
  'OTEL_SERVICE_NAME',
  'OTEL_METRICS_EXPORTER',
];

function envNames(table: OptionTable): Set<string> {
  return new Set([...RUNTIME_ENV, ...(Object.values(table) as Option<unknown>[]).flatMap((o) => (o.env ?? []).map((e) => e.name))]);
}

test('every manifest parses; the kustomization lists the files beside it', () => {
  assert.ok(all.length >= 6, `${all.length} manifests`);
  for (const m of all)
    if (m.kind !== 'Kustomization') assert.ok(m.apiVersion && m.kind && m.metadata?.name, JSON.stringify(m).slice(0, 80));
  const kust = all.find((m) => m.kind === 'Kustomization') as unknown as { resources: string[] };
  for (const r of kust.resources) assert.ok(files.includes(join(K8S, r)), r);
  assert.ok(!kust.resources.includes('secret.example.yaml'), 'the example Secret is not applied');
});

test('the aggregator: two replicas, its arguments and environment are what metrics accepts, its Secret exists', () => {
  const dep = byKind('Deployment').find((d) => d.metadata.name === 'dynamo-metrics')!;
  assert.equal(dep.spec.replicas, 2, 'a leader and a hot standby');
  const podLabels = dep.spec.template!.metadata.labels;
  assert.ok(matches(dep.spec.selector!.matchLabels!, podLabels));
  const c = dep.spec.template!.spec.containers[0]!;
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  assert.equal(c.image, `dynamo-otel-metrics:${pkg.version}`);
  const env = Object.fromEntries((c.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
  const loaded = loadOptions(metricsOptions(), { argv: c.args!, env });
  assert.deepEqual(loaded.values.exporters, ['prometheus', 'otlp']);
  const known = envNames(metricsOptions());
  for (const e of c.env ?? []) assert.ok(known.has(e.name), `metrics reads ${e.name}`);
  const secretRef = c.env!.find((e) => e.valueFrom?.secretKeyRef)!.valueFrom!.secretKeyRef!;
  const secret = byKind('Secret').find((s) => s.metadata.name === secretRef.name);
  assert.ok(secret?.stringData?.[secretRef.key] !== undefined, `the example Secret has ${secretRef.name}/${secretRef.key}`);
  const port = c.ports!.find((p) => p.name === 'metrics')!;
  assert.equal(port.containerPort, loaded.values.port);
  assert.equal(c.readinessProbe!.httpGet!.port, 'metrics');
  assert.equal(c.readinessProbe!.httpGet!.path, '/health', 'readiness never renders /metrics');
  assert.equal(c.livenessProbe!.httpGet!.path, '/live');
  assert.equal(c.livenessProbe!.httpGet!.port, 'metrics');
});

/**
 * Pod Security Standards, "restricted" profile (kubernetes.io/docs/concepts/security/pod-security-standards),
 * the controls that a pod template can break, checked the way the admission controller checks
 * them: baseline (host namespaces, privileged, capabilities, hostPath, host ports, seccomp not
 * Unconfined, /proc mount, sysctls) and restricted (volume types, no privilege escalation,
 * non-root, RuntimeDefault or Localhost seccomp, ALL capabilities dropped).
 */
interface SecurityContext {
  privileged?: boolean;
  allowPrivilegeEscalation?: boolean;
  runAsNonRoot?: boolean;
  runAsUser?: number;
  seccompProfile?: { type: string };
  capabilities?: { add?: string[]; drop?: string[] };
  procMount?: string;
  windowsOptions?: { hostProcess?: boolean };
}
interface PodSpec {
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  securityContext?: SecurityContext & { sysctls?: { name: string }[] };
  volumes?: Record<string, unknown>[];
  containers: (Container & { securityContext?: SecurityContext; ports?: { hostPort?: number }[] })[];
  initContainers?: PodSpec['containers'];
}
const RESTRICTED_VOLUMES = new Set([
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'persistentVolumeClaim',
  'projected',
  'secret',
]);
const SAFE_SYSCTLS = new Set([
  'kernel.shm_rmid_forced',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range',
  'net.ipv4.ip_local_reserved_ports',
  'net.ipv4.tcp_keepalive_time',
  'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl',
  'net.ipv4.tcp_keepalive_probes',
]);

function restrictedViolations(spec: PodSpec): string[] {
  const v: string[] = [];
  const pod = spec.securityContext ?? {};
  if (spec.hostNetwork || spec.hostPID || spec.hostIPC) v.push('host namespaces');
  for (const s of pod.sysctls ?? []) if (!SAFE_SYSCTLS.has(s.name)) v.push(`sysctl ${s.name}`);
  for (const vol of spec.volumes ?? []) {
    const type = Object.keys(vol).find((k) => k !== 'name');
    if (type === undefined || !RESTRICTED_VOLUMES.has(type)) v.push(`volume type ${type}`);
  }
  if (pod.runAsUser === 0) v.push('pod runAsUser 0');
  if (pod.seccompProfile !== undefined && !['RuntimeDefault', 'Localhost'].includes(pod.seccompProfile.type))
    v.push(`pod seccomp ${pod.seccompProfile.type}`);
  for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
    const sc = c.securityContext ?? {};
    const name = c.name;
    if (sc.privileged) v.push(`${name}: privileged`);
    if (sc.windowsOptions?.hostProcess || pod.windowsOptions?.hostProcess) v.push(`${name}: hostProcess`);
    if (sc.procMount !== undefined && sc.procMount !== 'Default') v.push(`${name}: procMount`);
    for (const p of c.ports ?? []) if (p.hostPort !== undefined && p.hostPort !== 0) v.push(`${name}: hostPort`);
    if (sc.allowPrivilegeEscalation !== false) v.push(`${name}: allowPrivilegeEscalation must be false`);
    if (!(sc.runAsNonRoot ?? pod.runAsNonRoot)) v.push(`${name}: runAsNonRoot must be true`);
    if (sc.runAsUser === 0) v.push(`${name}: runAsUser 0`);
    const seccomp = sc.seccompProfile?.type ?? pod.seccompProfile?.type;
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') v.push(`${name}: seccompProfile must be RuntimeDefault or Localhost`);
    if (!(sc.capabilities?.drop ?? []).includes('ALL')) v.push(`${name}: capabilities must drop ALL`);
    for (const cap of sc.capabilities?.add ?? []) if (cap !== 'NET_BIND_SERVICE') v.push(`${name}: adds ${cap}`);
  }
  return v;
}

test('every pod template passes Pod Security "restricted"', () => {
  const templates = all.filter((m) => m.spec?.template !== undefined);
  assert.ok(templates.length >= 2);
  for (const m of templates) assert.deepEqual(restrictedViolations(m.spec.template!.spec as unknown as PodSpec), [], m.metadata.name);
  // the checker itself finds what the old manifests had: no seccomp, no container securityContext
  assert.deepEqual(
    restrictedViolations({ securityContext: { runAsNonRoot: true, runAsUser: 1000 }, containers: [{ name: 'w', image: 'x' }] }),
    ['w: allowPrivilegeEscalation must be false', 'w: seccompProfile must be RuntimeDefault or Localhost', 'w: capabilities must drop ALL'],
  );
  assert.deepEqual(
    restrictedViolations({
      hostNetwork: true,
      volumes: [{ name: 'h', hostPath: { path: '/' } }],
      containers: [
        {
          name: 'c',
          image: 'x',
          securityContext: {
            privileged: true,
            allowPrivilegeEscalation: false,
            runAsNonRoot: true,
            seccompProfile: { type: 'Unconfined' },
            capabilities: { drop: ['ALL'], add: ['SYS_ADMIN'] },
          },
        },
      ],
    }),
    [
      'host namespaces',
      'volume type hostPath',
      'c: privileged',
      'c: seccompProfile must be RuntimeDefault or Localhost',
      'c: adds SYS_ADMIN',
    ],
  );
});

test('the aggregator pair: a PodDisruptionBudget keeps one, anti-affinity spreads them over nodes', () => {
  const dep = byKind('Deployment').find((d) => d.metadata.name === 'dynamo-metrics')!;
  const podLabels = dep.spec.template!.metadata.labels;
  const pdb = byKind('PodDisruptionBudget').find((p) =>
    matches((p.spec.selector as { matchLabels: Record<string, string> }).matchLabels, podLabels),
  );
  assert.ok(pdb, 'a PodDisruptionBudget selects the aggregator pods');
  assert.equal(pdb.apiVersion, 'policy/v1');
  assert.equal(pdb.spec.minAvailable, 1);
  const spec = dep.spec.template!.spec as unknown as {
    affinity: {
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: {
          podAffinityTerm: { topologyKey: string; labelSelector: { matchLabels: Record<string, string> } };
        }[];
      };
    };
  };
  const terms = spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution;
  assert.ok(
    terms.some(
      (t) => t.podAffinityTerm.topologyKey === 'kubernetes.io/hostname' && matches(t.podAffinityTerm.labelSelector.matchLabels, podLabels),
    ),
  );
});

test('Service and ServiceMonitor reach the aggregator pods by label and port name', () => {
  const dep = byKind('Deployment').find((d) => d.metadata.name === 'dynamo-metrics')!;
  const svc = byKind('Service').find((s) => s.metadata.name === 'dynamo-metrics')!;
  assert.ok(matches(svc.spec.selector as Record<string, string>, dep.spec.template!.metadata.labels));
  const portNames = dep.spec.template!.spec.containers[0]!.ports!.map((p) => p.name);
  for (const p of svc.spec.ports!) assert.ok(portNames.includes(p.targetPort), p.targetPort);
  const sm = byKind('ServiceMonitor')[0]!;
  assert.ok(matches(sm.spec.selector!.matchLabels!, svc.metadata.labels!));
  for (const e of sm.spec.endpoints!) {
    assert.ok(
      svc.spec.ports!.some((p) => p.name === e.port),
      e.port,
    );
    assert.equal(e.path, '/metrics');
  }
});

test('the PodMonitor selects the demo workers and their status port, whose number is DYN_SYSTEM_PORT', () => {
  const pm = byKind('PodMonitor')[0]!;
  const workers = byKind('Deployment').filter((d) => matches(pm.spec.selector!.matchLabels!, d.spec.template!.metadata.labels));
  assert.ok(workers.length >= 1, 'some worker Deployment is selected');
  for (const w of workers) {
    const c = w.spec.template!.spec.containers[0]!;
    const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value ?? '']));
    assert.equal(env.DYN_SYSTEM_ENABLED, 'true');
    for (const ep of pm.spec.podMetricsEndpoints!) {
      const port = c.ports!.find((p) => p.name === ep.port);
      assert.ok(port, `${w.metadata.name} names a ${ep.port} port`);
      assert.equal(String(port.containerPort), env.DYN_SYSTEM_PORT);
    }
    assert.deepEqual(c.command, ['mock_worker']);
    loadOptions(mockWorkerOptions(), { argv: c.args!, env });
    const known = envNames(mockWorkerOptions());
    for (const e of c.env ?? []) assert.ok(known.has(e.name), `mock_worker reads ${e.name}`);
  }
});
