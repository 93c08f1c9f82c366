/**
 * Takes networkd's data-plane sample for the metrics (metrics.ts) on a timer: the networks as
 * GET /v1/networks describes them (one device status per NR) and, with userspace WireGuard, the
 * drop counters of wgd's devices (one `list`). Samples never overlap; a failed one keeps the last.
 */
import type { Sample, SampledNetwork } from './metrics.js';

export interface SamplerSource {
  networks(): Promise<SampledNetwork[]>;
  /** Drop counters per device; empty when the backend has none. */
  drops(): Promise<ReadonlyMap<string, Readonly<Record<string, number>>>>;
}

export async function takeSample(source: SamplerSource): Promise<Sample> {
  const started = performance.now();
  const [networks, drops] = await Promise.all([source.networks(), source.drops()]);
  return { time: Date.now() / 1000, networks, drops, seconds: (performance.now() - started) / 1000 };
}

export class MetricsSampler {
  readonly #timer: NodeJS.Timeout;
  #running: Promise<void> | null = null;

  constructor(
    source: SamplerSource,
    intervalMs: number,
    onSample: (sample: Sample) => void,
    log: (message: string) => void,
  ) {
    const tick = (): void => {
      if (this.#running) return;
      this.#running = takeSample(source)
        .then(onSample, (error: unknown) => log(`metrics: sampling the data plane failed: ${(error as Error).message}`))
        .finally(() => {
          this.#running = null;
        });
    };
    tick();
    this.#timer = setInterval(tick, intervalMs);
  }

  /** Resolves once no sample is in flight. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
  }
}
