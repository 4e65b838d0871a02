/**
 * Rendering of a scrape's exposition with the work shared (docs/exporting.md, "Many scrapers"):
 *
 * - concurrent scrapes asking for the same form (text 0.0.4 or OpenMetrics, gzip or not) share
 *   one collection and one rendering in flight;
 * - the part of the exposition that comes from a snapshot source (the aggregator's worker
 *   series: nearly all of it) is rendered, and gzipped, once per snapshot: the SnapshotProducer
 *   hands out the same `ScopeMetrics` object while the source's version is unchanged, and its
 *   rendered bytes are kept with it (a WeakMap, so they go when the snapshot goes);
 * - the SDK instruments (the bridge's health, a worker's endpoint metrics) are rendered fresh on
 *   every scrape: they are small and change all the time.
 *
 * The body is a list of buffers shared by every response that sends them: 200 concurrent scrapes
 * hold one copy. Gzipped bodies are one gzip member per part, which gzip readers (Prometheus's
 * included) read as one stream (RFC 1952 §2.2). If two parts would hold the same family, the
 * exposition is rendered whole instead, so a family never appears twice.
 */
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import { emptyResource } from '@opentelemetry/resources';
import type { ResourceMetrics, ScopeMetrics } from '@opentelemetry/sdk-metrics';
import {
  OPENMETRICS_EOF,
  serializeFragmentAsync,
  serializePrometheusAsync,
  type PrometheusSerializerOptions,
} from './PrometheusSerializer.ts';
import { isSnapshotScope } from './SnapshotProducer.ts';

const gzip = promisify(gzipCb);

export interface ExpositionForm {
  openMetrics: boolean;
  gzip: boolean;
}

/** A rendered body: buffers sent one after the other (gzip members when gzipped). */
export interface Exposition {
  chunks: readonly Buffer[];
  length: number;
}

interface RenderedPart {
  text: Buffer;
  names: string[];
  gz: Promise<Buffer> | undefined;
}

const EOF_TEXT = Buffer.from(OPENMETRICS_EOF);
/** Snapshot parts never carry `target_info`: the head does. */
const NO_RESOURCE = emptyResource();
let eofGz: Promise<Buffer> | undefined;
function eofMember(): Promise<Buffer> {
  eofGz ??= gzip(EOF_TEXT);
  return eofGz;
}
function gzipMember(p: RenderedPart): Promise<Buffer> {
  p.gz ??= gzip(p.text);
  return p.gz;
}

function formKey(form: ExpositionForm): string {
  return `${form.openMetrics ? 'om' : 'text'}/${form.gzip ? 'gz' : 'id'}`;
}

function exposition(chunks: Buffer[]): Exposition {
  let length = 0;
  for (const c of chunks) length += c.length;
  return { chunks, length };
}

export class ExpositionCache {
  /** Rendered snapshot parts, by snapshot object then by text form. */
  private readonly parts = new WeakMap<ScopeMetrics, Map<boolean, Promise<RenderedPart>>>();
  private readonly inFlight = new Map<string, Promise<Exposition>>();
  /** Snapshot parts rendered (the rest of the requests for them were served from the cache). */
  partsRendered = 0;

  constructor(private readonly opts: PrometheusSerializerOptions) {}

  /**
   * The body for `form`, collected by `collect`: a scrape arriving while the same form is being
   * rendered gets that rendering.
   */
  render(collect: () => Promise<ResourceMetrics>, form: ExpositionForm): Promise<Exposition> {
    const key = formKey(form);
    let p = this.inFlight.get(key);
    if (p === undefined) {
      p = collect()
        .then((rm) => this.build(rm, form))
        .finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, p);
    }
    return p;
  }

  private async build(rm: ResourceMetrics, form: ExpositionForm): Promise<Exposition> {
    const fresh = rm.scopeMetrics.filter((sm) => !isSnapshotScope(sm));
    const snapshots = rm.scopeMetrics.filter(isSnapshotScope);
    const head = await serializeFragmentAsync(
      { resource: rm.resource, scopeMetrics: fresh },
      { ...this.opts, openMetrics: form.openMetrics },
    );
    const parts = await Promise.all(snapshots.map((sm) => this.part(sm, form.openMetrics)));
    const seen = new Set(head.names);
    for (const part of parts) {
      for (const n of part.names) {
        if (seen.has(n)) return this.whole(rm, form); // a family in two parts: render it as one
        seen.add(n);
      }
    }
    const headText = Buffer.from(head.text);
    if (!form.gzip) return exposition([headText, ...parts.map((p) => p.text), ...(form.openMetrics ? [EOF_TEXT] : [])]);
    // each part's gzip member is made once and kept with the part (the EOF's once per process)
    const members = await Promise.all([
      gzip(headText),
      ...parts.filter((p) => p.text.length > 0).map(gzipMember),
      ...(form.openMetrics ? [eofMember()] : []),
    ]);
    return exposition(members);
  }

  /** The rendered text of one snapshot, once per snapshot and text form. */
  private part(sm: ScopeMetrics, openMetrics: boolean): Promise<RenderedPart> {
    let forms = this.parts.get(sm);
    if (forms === undefined) {
      forms = new Map();
      this.parts.set(sm, forms);
    }
    let p = forms.get(openMetrics);
    if (p === undefined) {
      this.partsRendered++;
      p = serializeFragmentAsync({ resource: NO_RESOURCE, scopeMetrics: [sm] }, { ...this.opts, openMetrics, targetInfo: false }).then(
        (f) => ({
          text: Buffer.from(f.text),
          names: f.names,
          gz: undefined,
        }),
      );
      forms.set(openMetrics, p);
      const forget = forms;
      p.catch(() => forget.delete(openMetrics));
    }
    return p;
  }

  private async whole(rm: ResourceMetrics, form: ExpositionForm): Promise<Exposition> {
    const text = Buffer.from(await serializePrometheusAsync(rm, { ...this.opts, openMetrics: form.openMetrics }));
    return exposition([form.gzip ? await gzip(text) : text]);
  }
}
