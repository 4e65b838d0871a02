/**
 * Leases of one process kept alive: 10,000 leases (TTL 10 s) granted on one etcd client, then
 * 20 s idle, measuring the CPU of this process and of etcd per second and the leases lost.
 * First as the runtime keeps them (src/runtime/LeaseKeepAlive.ts: one timer, shared streams), then,
 * on a fresh etcd, as etcd3 keeps them by itself (a stream and two timers per lease: the way before).
 *
 *   npm run bench -- bench/leases.bench.ts
 */
import { readFileSync } from 'node:fs';
import { Etcd3 } from 'etcd3';
import { PrimaryLease } from '../src/runtime/PrimaryLease.ts';
import { LeaseKeepAlive } from '../src/runtime/LeaseKeepAlive.ts';
import { startEtcd } from '../test/support/servers.ts';
import { fmt, machine, table } from './stats.ts';
import { goal, goalRows, verdict } from './goals.ts';

const LEASES = Number(process.env.BENCH_LEASES ?? 10_000);
const TTL_S = 10;
const IDLE_S = 20;

/** CPU time (user + system) of a process, in ms, from /proc. */
function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

interface Figures {
  grantS: number;
  selfMsPerS: number;
  etcdMsPerS: number;
  lost: number;
  alive: number;
}

async function run(shared: boolean): Promise<Figures> {
  const etcd = await startEtcd();
  const client = new Etcd3({ hosts: etcd.url });
  try {
    let lost = 0;
    const t0 = performance.now();
    let alive: () => Promise<number>;
    if (shared) {
      const leases = await Promise.all(Array.from({ length: LEASES }, () => PrimaryLease.grant(client, TTL_S, 120_000, 'bench')));
      for (const l of leases) l.on('changed', () => lost++);
      alive = async () => LeaseKeepAlive.of(client).stats().leases;
    } else {
      const leases = Array.from({ length: LEASES }, () => client.lease(TTL_S));
      for (const l of leases) l.on('lost', () => lost++);
      await Promise.all(leases.map((l) => l.grant()));
      alive = async () => leases.filter((l) => !l.revoked()).length;
    }
    const grantS = (performance.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, 5_000)); // past the grants' own work
    const self0 = process.cpuUsage();
    const etcd0 = cpuMs(etcd.process.pid);
    await new Promise((r) => setTimeout(r, IDLE_S * 1000));
    const self = process.cpuUsage(self0);
    const etcdMs = cpuMs(etcd.process.pid) - etcd0;
    return { grantS, selfMsPerS: (self.user + self.system) / 1000 / IDLE_S, etcdMsPerS: etcdMs / IDLE_S, lost, alive: await alive() };
  } finally {
    LeaseKeepAlive.of(client).close();
    client.close();
    await etcd.stop();
  }
}

const now = await run(true);
const before = await run(false);
console.log(`# leases kept alive (${machine()}, ${LEASES} leases of TTL ${TTL_S} s on one etcd client, ${IDLE_S} s idle)\n`);
console.log(
  table(
    ['keepalive', 'grants took', 'this process CPU', 'etcd CPU', 'leases lost / alive at the end'],
    [
      [
        'shared (LeaseKeepAlive: one timer, ≤ 64 streams)',
        `${fmt(now.grantS)} s`,
        `${fmt(now.selfMsPerS)} ms/s`,
        `${fmt(now.etcdMsPerS)} ms/s`,
        `${now.lost} / ${now.alive}`,
      ],
      [
        "etcd3's own (a stream and two timers per lease; before)",
        `${fmt(before.grantS)} s`,
        `${fmt(before.selfMsPerS)} ms/s`,
        `${fmt(before.etcdMsPerS)} ms/s`,
        `${before.lost} / ${before.alive}`,
      ],
    ],
  ),
);
goal(`process CPU keeping ${LEASES} leases alive`, now.selfMsPerS, '<=', 150, 'ms/s');
goal(`etcd CPU renewing ${LEASES} leases`, now.etcdMsPerS, '<=', 300, 'ms/s');
goal('leases lost while idle', now.lost, '<=', 0, '');
console.log(`\n${table(['goal', 'figure', 'target', 'verdict'], goalRows())}`);
verdict();
process.exit(0);
