/**
 * The load side of bench/soak.bench.ts, in its own process so that the measured process is only
 * the product: streamed requests at a bounded rate through the instrumented endpoint, and a
 * scrape of /metrics every second. Prints one JSON line per window, then stops by itself.
 *
 *   node --import tsx bench/soak-load.ts NATS_URL ETCD_URL METRICS_PORT RATE SECONDS WINDOW_S
 */
import { DistributedRuntime } from '../src/runtime/index.ts';
import { sleep } from '../test/support/process.ts';

const [natsUrl, etcdUrl, portS, rateS, secondsS, windowS] = process.argv.slice(2);
const RATE = Number(rateS);
const drt = await DistributedRuntime.connect({ nats: { servers: [natsUrl!] }, etcd: { endpoints: [etcdUrl!] } });
const client = await drt.namespace('soak').component('svc').endpoint('echo').client();
await client.waitForInstances(1);
const end = Date.now() + Number(secondsS) * 1000;
let sent = 0;
let failed = 0;
let scrapes = 0;
let failedScrapes = 0;
let slowestScrapeMs = 0;
const traffic = (async () => {
  while (Date.now() < end) {
    const tick = Date.now();
    const batch = Math.max(1, Math.round(RATE / 100));
    await Promise.all(
      Array.from({ length: batch }, async () => {
        sent++;
        try {
          await client.random({ n: sent }).collect();
        } catch {
          failed++;
        }
      }),
    );
    await sleep(Math.max(0, 10 - (Date.now() - tick)));
  }
})();
const scraper = (async () => {
  while (Date.now() < end) {
    const t0 = performance.now();
    try {
      const res = await fetch(`http://127.0.0.1:${portS}/metrics`);
      await res.arrayBuffer();
      if (res.status !== 200) failedScrapes++;
    } catch {
      failedScrapes++;
    }
    scrapes++;
    slowestScrapeMs = Math.max(slowestScrapeMs, performance.now() - t0);
    await sleep(1000);
  }
})();
const reporter = (async () => {
  while (Date.now() < end) {
    await sleep(Number(windowS) * 1000);
    process.stdout.write(`${JSON.stringify({ sent, failed, scrapes, failedScrapes, slowestScrapeMs })}\n`);
    slowestScrapeMs = 0;
  }
})();
await Promise.all([traffic, scraper, reporter]);
await drt.shutdown();
