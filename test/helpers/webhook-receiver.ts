/**
 * A real webhook receiver on port 0 (contract §10): records every call, verifies each with the
 * `standardwebhooks` library (as an app server would), and answers as the test says: 204, an
 * error status, or never (a hung endpoint).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface ReceivedCall {
  readonly id: string;
  readonly timestamp: string;
  readonly signature: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly raw: string;
  readonly body: { type: string; timestamp: string; data: Record<string, unknown> };
  /** What the receiver answered. */
  readonly answered: number | 'hung';
}

/** How to answer the next call: a status, or 'hang' (never answer). */
export type Answer = number | 'hang';

export interface Receiver {
  readonly url: string;
  /** Every call, in arrival order. */
  readonly calls: ReceivedCall[];
  /** The calls answered 2xx, in order. */
  delivered(): ReceivedCall[];
  /** How the following calls are answered (default 204); a function decides per call. */
  answer(with_: Answer | ((call: ReceivedCall, index: number) => Answer)): void;
  /** Resolves once `count` calls were answered 2xx (rejects after `timeoutMs`). */
  waitForDelivered(count: number, timeoutMs?: number): Promise<ReceivedCall[]>;
  /** Resolves once `count` calls arrived, whatever the answer. */
  waitForCalls(count: number, timeoutMs?: number): Promise<ReceivedCall[]>;
  /** Verifies a call's signature with the library; throws when it does not verify. */
  verify(call: ReceivedCall, secret: string): unknown;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const calls: ReceivedCall[] = [];
  let answer: Answer | ((call: ReceivedCall, index: number) => Answer) = 204;
  const waiters = new Set<() => void>();
  const hung = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const pending = {
        id: String(req.headers['webhook-id']),
        timestamp: String(req.headers['webhook-timestamp']),
        signature: String(req.headers['webhook-signature']),
        headers: req.headers,
        raw,
        body: JSON.parse(raw),
      };
      const decided = typeof answer === 'function' ? answer({ ...pending, answered: 204 }, calls.length) : answer;
      calls.push({ ...pending, answered: decided === 'hang' ? 'hung' : decided });
      for (const wake of waiters) wake();
      if (decided === 'hang') {
        hung.add(res);
        return;
      }
      res.writeHead(decided).end(decided >= 300 ? 'receiver says no' : undefined);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const delivered = () => calls.filter((call) => typeof call.answered === 'number' && call.answered >= 200 && call.answered < 300);
  const waitFor = (check: () => ReceivedCall[] | undefined, what: string, timeoutMs: number) =>
    new Promise<ReceivedCall[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(look);
        reject(new Error(`timed out waiting for ${what} (got ${calls.length} calls: ${calls.map((c) => `${c.body.type}=${c.answered}`).join(', ')})`));
      }, timeoutMs);
      function look() {
        const found = check();
        if (!found) return;
        clearTimeout(timer);
        waiters.delete(look);
        resolve(found);
      }
      waiters.add(look);
      look();
    });
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    calls,
    delivered,
    answer: (with_) => (answer = with_),
    waitForDelivered: (count, timeoutMs = 10_000) => waitFor(() => (delivered().length >= count ? delivered() : undefined), `${count} deliveries`, timeoutMs),
    waitForCalls: (count, timeoutMs = 10_000) => waitFor(() => (calls.length >= count ? calls : undefined), `${count} calls`, timeoutMs),
    verify: (call, secret) => new Webhook(secret).verify(call.raw, { 'webhook-id': call.id, 'webhook-timestamp': call.timestamp, 'webhook-signature': call.signature }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hung) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
