/**
 * Credentials work and never show: the /metrics server behind TLS and basic auth from a web
 * config file (exporter-toolkit format) scraped by a real Prometheus; a real PushGateway behind
 * basic auth pushed to with credentials in the URL and with a username and password file; and
 * no secret of a URL, header or file in any output line of the processes, at debug level.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { cleanups, freePort, tempDir, waitUntil } from '../support/process.ts';
import { PrometheusServer, startCluster, startPushGateway } from '../support/servers.ts';
import { startMetrics } from '../support/aggregator.ts';
import { clusterEnv, startScript, waitForLine } from '../support/workers.ts';

const SECRETS = { scrape: 'SCRAPESECRET7', push: 'PGSECRET4', otlp: 'OTLPSECRET3', header: 'HEADERSECRET5', nats: 'WRONGSECRET1' };

function selfSignedCert(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'server.crt');
  const key = join(dir, 'server.key');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '2',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'pipe' },
  );
  return { cert, key };
}

function httpsStatus(url: string, ca: string, auth?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { ca: execFileSync('cat', [ca]), headers: auth ? { Authorization: `Basic ${Buffer.from(auth).toString('base64')}` } : {} },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** The body of a GET over https (trusting `ca`, with basic auth). */
function httpsBody(url: string, ca: string, auth: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { ca: execFileSync('cat', [ca]), headers: { Authorization: `Basic ${Buffer.from(auth).toString('base64')}` } },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve(body));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function assertNoSecret(output: string): void {
  for (const [what, s] of Object.entries(SECRETS))
    assert.ok(
      !output.includes(s),
      `the ${what} secret was printed: …${output.slice(Math.max(0, output.indexOf(s) - 200), output.indexOf(s) + 50)}…`,
    );
}

test('/metrics behind TLS and basic auth from a web config file, scraped by a real Prometheus', async (t) => {
  const defer = cleanups(t);
  const dir = tempDir('dyn-web-');
  const { cert } = selfSignedCert(dir);
  const web = join(dir, 'web.yml');
  writeFileSync(
    web,
    `tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  prom: ${bcrypt.hashSync(SECRETS.scrape, 4)}\n`,
  );
  const cluster = await startCluster();
  defer(() => cluster.stop());
  // ready when its status API, behind the same TLS and auth, says it started
  const m = await startMetrics(
    cluster,
    ['--web.config.file', web],
    { DYN_LOG: 'debug' },
    {
      ready: async (port) =>
        /"started":true/.test(await httpsBody(`https://127.0.0.1:${port}/api/status`, cert, `prom:${SECRETS.scrape}`).catch(() => '')),
    },
  );
  defer(() => m.proc.stop());
  const url = `https://127.0.0.1:${m.port}/metrics`;
  assert.equal(await httpsStatus(url, cert), 401, 'no credentials');
  assert.equal(await httpsStatus(url, cert, 'prom:wrong'), 401, 'wrong password');
  assert.equal(await httpsStatus(url, cert, `prom:${SECRETS.scrape}`), 200);

  const promCfg = join(dir, 'prometheus.yml');
  writeFileSync(
    promCfg,
    [
      'global: { scrape_interval: 1s, scrape_timeout: 1s }',
      'scrape_configs:',
      '  - job_name: secured',
      '    scheme: https',
      `    tls_config: { ca_file: ${cert} }`,
      `    basic_auth: { username: prom, password: ${SECRETS.scrape} }`,
      `    static_configs: [{ targets: ["127.0.0.1:${m.port}"] }]`,
    ].join('\n'),
  );
  const prom = await new PrometheusServer(await freePort(), [], '1s', promCfg).start();
  defer(() => prom.stop());
  await waitUntil(
    'Prometheus scrapes the secured target',
    async () => ((await prom.query('up{job="secured"} == 1')).length === 1 ? true : undefined),
    30_000,
  );
  assert.ok((await prom.query('dynamo_metrics_scrape_cycles_total{job="secured"}')).length === 1);
  assertNoSecret(m.proc.output());
});

test('a PushGateway behind basic auth: credentials in the URL or a password file; no secret in any output', async (t) => {
  const defer = cleanups(t);
  const dir = tempDir('dyn-pgw-auth-');
  const web = join(dir, 'web.yml');
  writeFileSync(web, `basic_auth_users:\n  pg: ${bcrypt.hashSync(SECRETS.push, 4)}\n`);
  const gw = await startPushGateway([`--web.config.file=${web}`]);
  defer(() => gw.stop());
  const groups = async (): Promise<string> =>
    (
      await fetch(`${gw.url}/metrics`, { headers: { Authorization: `Basic ${Buffer.from(`pg:${SECRETS.push}`).toString('base64')}` } })
    ).text();
  assert.equal((await fetch(`${gw.url}/metrics`)).status, 401, 'the gateway refuses anonymous clients');
  const cluster = await startCluster();
  defer(() => cluster.stop());
  const closed = await freePort(); // an OTLP endpoint nobody listens on: every export fails and is logged
  const gwWithCreds = gw.url.replace('http://', `http://pg:${SECRETS.push}@`);
  const common = [
    '--exporters',
    'prometheus,pushgateway,otlp',
    '--push-interval',
    '1s',
    '--otlp-interval',
    '1s',
    '--otlp-timeout',
    '500ms',
  ];
  const otlpEnv = {
    DYN_LOG: 'debug',
    OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `http://o:${SECRETS.otlp}@127.0.0.1:${closed}/v1/metrics`,
    OTEL_EXPORTER_OTLP_HEADERS: `api-key=${SECRETS.header}`,
  };
  const a = await startMetrics(cluster, [...common, '--pushgateway-url', gwWithCreds, '--pushgateway-instance', 'url-creds'], otlpEnv);
  defer(() => a.proc.stop());
  const passwordFile = join(dir, 'pw');
  writeFileSync(passwordFile, `${SECRETS.push}\n`);
  const b = await startMetrics(
    cluster,
    [
      ...common,
      '--pushgateway-url',
      gw.url,
      '--pushgateway-username',
      'pg',
      '--pushgateway-password-file',
      passwordFile,
      '--pushgateway-instance',
      'file-creds',
    ],
    otlpEnv,
  );
  defer(() => b.proc.stop());
  await waitUntil(
    'both groups pushed',
    async () => {
      const text = await groups();
      return text.includes('instance="url-creds"') && text.includes('instance="file-creds"') ? true : undefined;
    },
    30_000,
  );
  await waitForLine(a.proc, /export failed/, 30_000); // the OTLP failure was logged, with its endpoint
  await a.proc.stop();
  await b.proc.stop();
  assert.doesNotMatch(await groups(), /instance="(url|file)-creds"/, 'both groups deleted at shutdown, with credentials');
  assertNoSecret(a.proc.output() + b.proc.output());
  assert.match(a.proc.output(), /pg:\*\*\*@|\*\*\*@127\.0\.0\.1/, 'the URL is shown, redacted');

  // refused NATS credentials and a config error that quotes a URL: one line each, no secret
  const natsBad = startScript(
    'src/cli/metrics.ts',
    ['--component', 'c', '--endpoint', 'e', '--nats-server', `nats://u:${SECRETS.nats}@127.0.0.1:${closed}`],
    clusterEnv(cluster, { DYN_LOG: 'debug' }),
  );
  assert.equal((await natsBad.exited).code, 1);
  const cfgBad = startScript(
    'src/cli/metrics.ts',
    ['--component', 'c', '--endpoint', 'e', '--pushgateway-url', `ftp://pg:${SECRETS.push}@host`],
    clusterEnv(cluster),
  );
  assert.equal((await cfgBad.exited).code, 2);
  assertNoSecret(natsBad.output() + cfgBad.output());
});
