/**
 * control path: notifies to a channel nobody is subscribed to, from 32 concurrent keep-alive HTTP
 * clients (closed loop): requests/s. The product authenticates, validates, writes the event log
 * (durably) and plans an emit that reaches nobody.
 * Baseline: a bare Express 5 route parsing the same JSON body and answering 202.
 * Both servers run at once and take turns: a warm-up, then 5 rounds of 1 s each.
 * Target: ≥ 0.5 of the baseline's requests/s.
 */
import { buildRequest, pool, runLoad, type LoadResult } from '../http-load.js';
import { Product } from '../product.js';
import { alternate, cpuMeter, type Scenario } from '../scenario.js';
import { startBaseline, type ServerProcess } from '../server-process.js';
import { compare, round } from '../stats.js';
import { ATTRIBUTES } from './fan-out.js';

const CONNECTIONS = 32;
const WARMUP_MS = 1_000;
const ROUNDS = 5;
const ROUND_MS = 1_000;

/** Load rounds against one server, with its CPU use over them. */
class Side {
  readonly rounds: LoadResult[] = [];
  serverCpuSeconds = 0;
  otherCpuSeconds = 0;

  constructor(
    readonly server: ServerProcess,
    readonly request: Buffer,
  ) {}

  async warmUp(): Promise<void> {
    await runLoad({ port: this.server.port, connections: CONNECTIONS, durationMs: WARMUP_MS, next: () => this.request });
  }

  async round(): Promise<void> {
    const cpu = cpuMeter(this.server);
    this.rounds.push(await runLoad({ port: this.server.port, connections: CONNECTIONS, durationMs: ROUND_MS, next: () => this.request }));
    const reading = cpu();
    this.serverCpuSeconds += reading.serverCpuSeconds;
    this.otherCpuSeconds += reading.otherCores * reading.seconds;
  }

  get onlyAccepted(): boolean {
    const load = pool(this.rounds);
    return load.errors === 0 && load.requests > 0 && Object.keys(load.statuses).every((status) => status === '202');
  }

  figures() {
    const load = pool(this.rounds);
    return {
      connections: CONNECTIONS,
      requests: load.requests,
      requestsPerSecond: round(load.requestsPerSecond, 0),
      statuses: load.statuses,
      errors: load.errors,
      latencyP50Ms: round(load.latencyMs.p50),
      latencyP99Ms: round(load.latencyMs.p99),
      serverCpuMicrosPerRequest: round((this.serverCpuSeconds * 1e6) / load.requests, 1),
      serverCores: round(this.serverCpuSeconds / load.seconds),
      otherCores: round(this.otherCpuSeconds / load.seconds),
    };
  }
}

export const controlPath: Scenario = {
  name: 'control path',
  description: `notify to a channel with no subscriber, ${CONNECTIONS} concurrent keep-alive clients, ${ROUNDS} rounds of ${ROUND_MS / 1000} s`,
  timeoutMs: 45_000,
  async run(context) {
    const body = { event: 'bench', attributes: ATTRIBUTES };
    let baselineServer: ServerProcess | undefined;
    let product: Product | undefined;
    try {
      context.log('starting the bare Express 5 baseline and the product');
      baselineServer = await startBaseline('control-path');
      product = await Product.start({ label: 'control-path' });
      const baseline = new Side(baselineServer, buildRequest('POST', '/notify', { 'Content-Type': 'application/vnd.api+json' }, body));
      const measured = new Side(product.server, product.notifyRequest('channels:nobody-1', body.event, body.attributes, ['origin']));
      await baseline.warmUp();
      await measured.warmUp();
      context.log(`${ROUNDS} rounds each`);
      await alternate(ROUNDS, () => baseline.round(), () => measured.round());

      const [p, b] = [pool(measured.rounds), pool(baseline.rounds)];
      const notes: string[] = [];
      if (!measured.onlyAccepted) notes.push(`product answered ${JSON.stringify(p.statuses)} with ${p.errors} errors`);
      if (!baseline.onlyAccepted) notes.push(`baseline answered ${JSON.stringify(b.statuses)} with ${b.errors} errors`);
      return {
        product: measured.figures(),
        baseline: baseline.figures(),
        comparisons: [
          compare('requests/s', '/s', p.requestsPerSecond, b.requestsPerSecond, { min: 0.5 }),
          compare('request p99', 'ms', p.latencyMs.p99, b.latencyMs.p99),
        ],
        complete: measured.onlyAccepted && baseline.onlyAccepted,
        notes,
      };
    } finally {
      await Promise.all([baselineServer?.stop(), product?.stop()]);
    }
  },
};
