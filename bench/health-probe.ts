/**
 * A server's event-loop delay, measured from outside: a worker thread sends `GET /healthz` on one
 * keep-alive connection, the next one 2 ms (by default) after the previous was sent (or as soon as it was
 * answered, when that took longer), and times each answer. The handler answers at once, so an
 * answer's latency is the loopback round trip plus however long the server's event loop was busy
 * when the request arrived: the longest answer is close to the longest synchronous stretch.
 *
 * A worker, so that what the load generator's own thread does meanwhile (reading a replay, say)
 * does not delay the timing. Each answer costs the Chatty server about 250 µs: a probe every 2 ms
 * costs an idle server about 2 % of a core, and a busy one up to an eighth of its time (it answers
 * late, so the next request follows at once); a scenario that measures throughput too probes less
 * often.
 *
 * @example
 *   const probe = new HealthProbe(port);
 *   await probe.begin();
 *   ...                                 // the work whose effect on the server is measured
 *   const { latencies } = await probe.end();
 *   await probe.close();
 */
import { Worker } from 'node:worker_threads';
import { HOST } from './http-load.js';
import { percentile, round } from './stats.js';

export const PROBE_INTERVAL_MS = 2;

/** Plain JavaScript, evaluated in the worker (CommonJS, so `require`). */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const net = require('node:net');
const { host, port, intervalMs } = workerData;
const REQUEST = Buffer.from('GET /healthz HTTP/1.1\\r\\nHost: ' + host + '\\r\\nConnection: keep-alive\\r\\n\\r\\n');
const HEADER_END = Buffer.from('\\r\\n\\r\\n');
let session;

parentPort.on('message', (message) => {
  if (message.type === 'begin') begin();
  else if (message.type === 'end' && session) session.stopping = true;
});

function begin() {
  const s = { latencies: [], errors: 0, stopping: false, done: false };
  session = s;
  const socket = net.connect({ host, port });
  socket.setNoDelay(true);
  let buffered = Buffer.alloc(0);
  let sentAt = 0;
  let nextAt = 0;
  let timer;
  const finish = (error) => {
    if (s.done) return;
    s.done = true;
    clearTimeout(timer);
    socket.destroy();
    parentPort.postMessage({ type: 'result', latencies: s.latencies, errors: s.errors, error });
  };
  const send = () => {
    if (s.stopping) return finish();
    sentAt = performance.now();
    nextAt = sentAt + intervalMs;
    socket.write(REQUEST);
  };
  socket.once('connect', () => {
    parentPort.postMessage({ type: 'begun' });
    send();
  });
  socket.on('data', (chunk) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    const end = buffered.indexOf(HEADER_END);
    if (end < 0) return;
    const head = buffered.toString('latin1', 0, end).toLowerCase();
    const match = /\\r\\ncontent-length:\\s*(\\d+)/.exec(head);
    const length = match ? Number(match[1]) : 0;
    if (buffered.length < end + 4 + length) return;
    const status = head.slice(9, 12);
    buffered = buffered.subarray(end + 4 + length);
    if (status === '200') s.latencies.push(performance.now() - sentAt);
    else s.errors++;
    const wait = nextAt - performance.now();
    if (wait > 0) timer = setTimeout(send, wait);
    else send();
  });
  socket.on('error', (error) => finish(error.message));
  socket.on('close', () => finish('connection closed by the server'));
}
`;

export interface ProbeResult {
  /** Answer times, ms, in order. */
  readonly latencies: readonly number[];
  /** Answers other than 200. */
  readonly errors: number;
  /** Why the probe stopped early, if it did. */
  readonly error?: string;
}

export class HealthProbe {
  private readonly worker: Worker;
  /** The current session's result, once the worker sent it (at `end`, or early when the connection failed). */
  private result: ProbeResult | undefined;
  private waiter: ((message: { type: string } & ProbeResult) => void) | undefined;

  constructor(port: number, intervalMs = PROBE_INTERVAL_MS) {
    this.worker = new Worker(WORKER, { eval: true, workerData: { host: HOST, port, intervalMs } });
    this.worker.unref();
    this.worker.on('message', (message: { type: string } & ProbeResult) => {
      if (message.type === 'result') this.result = { latencies: message.latencies, errors: message.errors, error: message.error };
      this.waiter?.(message);
    });
  }

  /** Opens the connection and starts probing; resolves once the connection is open. */
  async begin(): Promise<void> {
    this.result = undefined;
    await this.until('begin', () => this.result !== undefined, (message) => message.type === 'begun');
    // narrowed to undefined above, but the worker's message may have set it meanwhile
    const failed = this.result as ProbeResult | undefined;
    if (failed) throw new Error(`health probe: ${failed.error ?? 'stopped'}`);
  }

  /** Stops after the answer in flight; resolves with every answer's time since `begin`. */
  async end(): Promise<ProbeResult> {
    await this.until('end', () => this.result !== undefined, (message) => message.type === 'result');
    return this.result!;
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }

  /** Sends `command`, then waits until `done` holds or a message satisfies `answer`. */
  private until(command: string, done: () => boolean, answer: (message: { type: string }) => boolean, timeoutMs = 10_000): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`health probe: no answer to ${command} within ${timeoutMs} ms`));
      }, timeoutMs);
      const settle = () => {
        clearTimeout(timer);
        this.waiter = undefined;
        resolve();
      };
      this.waiter = (message) => {
        if (answer(message) || done()) settle();
      };
      this.worker.postMessage({ type: command });
      if (done()) settle();
    });
  }
}

/** p50, p99 and max of pooled probe answers, ms, and how many there were. */
export function delayFigures(latencies: readonly number[]) {
  return {
    samples: latencies.length,
    p50Ms: round(percentile(latencies, 0.5), 3),
    p99Ms: round(percentile(latencies, 0.99), 3),
    maxMs: round(percentile(latencies, 1), 3),
  };
}
