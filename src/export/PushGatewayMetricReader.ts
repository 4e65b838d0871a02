/**
 * Push to a Prometheus PushGateway (there is no OTel exporter for it): every interval, PUT the
 * full snapshot in text format to `{url}/metrics/job/{job}/instance/{instance}`; on clean shutdown
 * DELETE the group. A failed push is logged with the gateway's answer and counted; the next
 * interval retries with a fresh snapshot, so nothing piles up in memory.
 */
import { MetricReader, type MetricReaderOptions } from '@opentelemetry/sdk-metrics';
import { getLogger } from '../log.ts';
import type { ExportHealth } from './ExportHealth.ts';
import { authorizationHeader, credentialsFromUrl, send, type HttpResponse } from './httpClient.ts';
import type { PushGatewayConfig } from './options.ts';
import { PROMETHEUS_CONTENT_TYPE, serializePrometheusAsync, type PrometheusSerializerOptions } from './PrometheusSerializer.ts';
import { errorMessage } from '../errors.ts';

const log = getLogger('export::pushgateway');

export interface PushGatewayOptions extends PushGatewayConfig, PrometheusSerializerOptions {
  health?: ExportHealth;
}

/**
 * One grouping label as a path segment: plain when it can be, else the PushGateway's base64 form
 * (`name@base64/<base64url>`), which also carries empty values (`=`) and values with `/`.
 */
export function groupingSegment(name: string, value: string): string {
  if (value === '') return `${name}@base64/=`;
  if (value.includes('/')) return `${name}@base64/${Buffer.from(value, 'utf8').toString('base64url')}`;
  return `${name}/${encodeURIComponent(value)}`;
}

export function groupingUrl(url: string, job: string, instance: string): string {
  return `${url.replace(/\/+$/, '')}/metrics/${groupingSegment('job', job)}/${groupingSegment('instance', instance)}`;
}

export class PushGatewayMetricReader extends MetricReader {
  /** The group's URL, without credentials (those travel in the Authorization header). */
  readonly groupUrl: string;
  private readonly urlAuthorization: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private inflight: Promise<void> | undefined;

  constructor(
    private readonly opts: PushGatewayOptions,
    readerOptions: MetricReaderOptions = {},
  ) {
    super(readerOptions);
    const { url, authorization } = credentialsFromUrl(opts.url);
    this.groupUrl = groupingUrl(url, opts.job, opts.instance);
    this.urlAuthorization = authorization;
  }

  protected override onInitialized(): void {
    this.timer = setInterval(() => {
      if (this.inflight === undefined) {
        this.inflight = this.push().then(() => {
          this.inflight = undefined;
        });
      }
    }, this.opts.intervalMs);
    this.timer.unref();
  }

  /** Pushes the current snapshot once. Never throws: failures are logged and counted. */
  async push(): Promise<boolean> {
    const health = this.opts.health;
    health?.attempt('pushgateway');
    try {
      // A part that fails to collect (e.g. the aggregator cannot vouch for its view) is left out of
      // the push rather than the push skipped: a PUT replaces the whole group, so its old series
      // leave the gateway instead of lingering there as if current.
      const { resourceMetrics, errors } = await this.collect({ timeoutMillis: this.opts.timeoutMs });
      const partial = errors.length > 0;
      if (partial) {
        log.rateLimited('warn', 'partial', 'part of the metrics could not be collected; pushing the rest', {
          error: errors[0] instanceof Error ? errors[0].message : String(errors[0]),
        });
      }
      const body = await serializePrometheusAsync(resourceMetrics, this.opts);
      const res = await this.request('PUT', body);
      if (res.status < 200 || res.status > 299) throw new Error(`PushGateway answered ${res.status} ${res.statusText}: ${res.body.trim()}`);
      if (partial) {
        health?.failure(
          'pushgateway',
          `pushed without the parts that could not be collected: ${errors[0] instanceof Error ? errors[0].message : String(errors[0])}`,
        );
        return false;
      }
      health?.success('pushgateway');
      return true;
    } catch (err) {
      health?.failure('pushgateway', errorMessage(err));
      log.rateLimited('warn', 'push', 'push to the PushGateway failed; retrying next interval', {
        url: this.groupUrl,
        error: errorMessage(err),
      });
      return false;
    }
  }

  private request(method: 'PUT' | 'DELETE', body?: string): Promise<HttpResponse> {
    const authorization = authorizationHeader(this.opts.auth ?? {}, this.urlAuthorization);
    const headers: Record<string, string> = {
      ...(body !== undefined ? { 'Content-Type': PROMETHEUS_CONTENT_TYPE } : {}),
      ...(authorization !== undefined ? { Authorization: authorization } : {}),
    };
    return send(this.groupUrl, { method, headers, body, timeoutMs: this.opts.timeoutMs, tls: this.opts.tls });
  }

  protected override async onForceFlush(): Promise<void> {
    await this.inflight;
    await this.push();
  }

  /** Stops pushing and deletes the group, so a stopped bridge leaves no stale series behind. */
  protected override async onShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.inflight;
    try {
      const res = await this.request('DELETE');
      if (res.status < 200 || res.status > 299) throw new Error(`PushGateway answered ${res.status} ${res.statusText}`);
    } catch (err) {
      log.warn('cannot delete the PushGateway group at shutdown', { url: this.groupUrl, error: errorMessage(err) });
    }
  }
}
