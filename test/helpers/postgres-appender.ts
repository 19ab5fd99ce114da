/**
 * One appending node for test/postgres-id-order.test.ts, run as its own process:
 *
 *   node --import tsx test/helpers/postgres-appender.ts <database url> <connections> <events per connection>
 *
 * Opens its connections and prints `ready`; on a line on stdin (so that every process starts at
 * once), appends notifications through `connections` concurrent PostgresStore batches (group
 * commit's shape: one transaction per batch, 1–20 events each) and prints the ids it was given,
 * as one JSON array on stdout, when every batch has committed.
 */
import { once } from 'node:events';
import { PostgresStore } from '../../src/store/postgres-store.js';
import type { NewNotification } from '../../src/store/store.js';

const [url, connectionsArg, eventsArg] = process.argv.slice(2);
const connections = Number(connectionsArg);
const perConnection = Number(eventsArg);
const store = new PostgresStore(`${url}${url!.includes('?') ? '&' : '?'}pool_size=${connections}`);

const event = (n: number): NewNotification => ({
  kind: 'notify',
  event: 'order',
  attributes: { pid: process.pid, n },
  target: { mode: 'users', names: ['reader'] },
  add: [],
  createdAt: Date.now(),
});

async function appender(): Promise<number[]> {
  const ids: number[] = [];
  while (ids.length < perConnection) {
    const size = Math.min(1 + Math.floor(Math.random() * 20), perConnection - ids.length);
    const logged = await store.appendEvents(Array.from({ length: size }, (_, i) => event(ids.length + i)));
    ids.push(...logged.map((e) => e.id));
  }
  return ids;
}

try {
  await Promise.all(Array.from({ length: connections }, () => store.ping()));
  process.stdout.write('ready\n');
  await once(process.stdin, 'data');
  const ids = (await Promise.all(Array.from({ length: connections }, appender))).flat();
  process.stdout.write(`${JSON.stringify(ids)}\n`);
} finally {
  await store.close();
}
