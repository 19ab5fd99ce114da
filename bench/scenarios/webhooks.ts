/**
 * webhooks (issue 14): notify throughput with a webhook endpoint subscribed to every event type
 * against the same server with none, both durable, running at once and taking turns (the
 * durability scenario's load: 32 clients notifying one channel of 100 sockets). The endpoint is a
 * receiver in a process of its own, answering 204: the product signs and sends a call per notify
 * on top of the fan-out. Target: at least 0.9× the throughput without the endpoint. Reported too:
 * the calls the receiver got, and how far the endpoint lagged behind the log at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { pool } from '../http-load.js';
import { type ProductOptions } from '../product.js';
import { alternate, type Scenario } from '../scenario.js';
import { compare, round } from '../stats.js';
import { NotifySide } from './durability.js';

const ROUNDS = 5;
const EVENT_TYPES = ['chat.message', 'chat.read', 'chat.deleted', 'presence.online', 'presence.offline', 'subscription.changed', 'notification.accepted'];

/** A receiver process: answers every POST 204, counts them, prints the count on `count\n`. */
const RECEIVER = `
const http = require('node:http');
let calls = 0;
const server = http.createServer((req, res) => { req.resume(); req.on('end', () => { calls++; res.writeHead(204).end(); }); });
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => process.stdout.write('port ' + server.address().port + '\\n'));
process.stdin.on('data', () => process.stdout.write('calls ' + calls + '\\n'));
`;

class ReceiverProcess {
  private constructor(
    private readonly proc: ChildProcess,
    readonly port: number,
  ) {}

  static async start(): Promise<ReceiverProcess> {
    const proc = spawn(process.execPath, ['-e', RECEIVER], { stdio: ['pipe', 'pipe', 'inherit'] });
    const [line] = (await once(proc.stdout!, 'data')) as [Buffer];
    return new ReceiverProcess(proc, Number(/port (\d+)/.exec(line.toString())![1]));
  }

  async calls(): Promise<number> {
    this.proc.stdin!.write('\n');
    const [line] = (await once(this.proc.stdout!, 'data')) as [Buffer];
    return Number(/calls (\d+)/.exec(line.toString())![1]);
  }

  stop(): void {
    this.proc.kill();
  }
}

const options = (label: string): ProductOptions => ({ label, env: { WEBHOOK_ALLOW_PRIVATE: 'true' } });

export const webhooks: Scenario = {
  name: 'webhooks',
  description: `notify throughput with a webhook endpoint subscribed to every event vs none: 32 clients → 1 channel of 100 sockets, ${ROUNDS} rounds of 1 s`,
  timeoutMs: 90_000,
  async run(context) {
    const sides: NotifySide[] = [];
    const receiver = await ReceiverProcess.start();
    try {
      context.log('starting the product twice: without a webhook endpoint (baseline) and with one');
      const none = await NotifySide.start(options('webhooks-none'));
      sides.push(none);
      const hooked = await NotifySide.start(options('webhooks-one'));
      sides.push(hooked);
      const admin = { Authorization: `Bearer ${hooked.product.token('bench-operator', 'admin')}`, 'Content-Type': 'application/vnd.api+json' };
      const created = await fetch(`http://127.0.0.1:${hooked.product.port}/control/webhooks`, {
        method: 'POST',
        headers: admin,
        body: JSON.stringify({ data: { type: 'webhooks', attributes: { url: `http://127.0.0.1:${receiver.port}/hooks`, events: EVENT_TYPES } } }),
      });
      if (created.status !== 201) throw new Error(`creating the endpoint answered ${created.status}: ${await created.text()}`);
      const endpoint = ((await created.json()) as { data: { id: string } }).data.id;
      await none.warmUp();
      await hooked.warmUp();
      context.log(`${ROUNDS} rounds each`);
      await alternate(ROUNDS, () => none.round(), () => hooked.round());

      const [hm, nm] = [await hooked.check(), await none.check()];
      const [h, n] = [pool(hooked.rounds), pool(none.rounds)];
      const read = await fetch(`http://127.0.0.1:${hooked.product.port}/control/webhooks/${endpoint}`, { headers: admin });
      const { lag, status } = ((await read.json()) as { data: { attributes: { lag: number; status: string } } }).data.attributes;
      const calls = await receiver.calls();
      const notes = [`the endpoint received ${calls} calls for ${hooked.accepted} accepted notifies; lag at the end ${lag} log entries (status ${status})`];
      for (const [label, load, mismatches] of [['with endpoint', h, hm], ['none', n, nm]] as const) {
        if (load.errors > 0 || Object.keys(load.statuses).some((s) => s !== '202')) notes.push(`${label}: statuses ${JSON.stringify(load.statuses)}, ${load.errors} errors`);
        notes.push(...mismatches.examples.map((example) => `${label}: ${example}`));
      }
      return {
        product: { ...hooked.figures(hm), webhookCalls: calls, webhookLagAtEnd: lag, webhookCallsPerSecondOfNotifies: round(calls / Math.max(1, hooked.accepted), 3) },
        baseline: none.figures(nm),
        comparisons: [
          compare('notifies/s, one webhook endpoint vs none', '/s', h.requestsPerSecond, n.requestsPerSecond, { min: 0.9 }),
          compare('notify p99, one webhook endpoint vs none', 'ms', h.latencyMs.p99, n.latencyMs.p99),
        ],
        complete: h.requests > 0 && n.requests > 0 && hm.count === 0 && nm.count === 0 && h.errors === 0 && n.errors === 0 && calls > 0,
        notes,
      };
    } finally {
      receiver.stop();
      await Promise.all(sides.map((side) => side.stop()));
    }
  },
};
