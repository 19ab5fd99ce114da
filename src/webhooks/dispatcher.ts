/**
 * Webhook delivery (contract §10): each endpoint reads the durable log from its own cursor and
 * gets its events one at a time, in log order, each until it answers 2xx: at least once, never
 * out of order, never lost (the cursor is stored; after a crash the events past it go out again
 * with the same `webhook-id`).
 *
 * One worker per endpoint, each with its own loop: a slow or dead endpoint holds up nobody but
 * itself, and notify and chat never wait for any of them (the log hands entries to the sockets
 * first; a worker only wakes up). Failures are retried with exponential backoff and jitter; after
 * WEBHOOK_RETRY_FOR of failing the endpoint reads `failing`, and keeps being retried at the
 * longest interval, so that it resumes by itself once it answers again.
 *
 * On many nodes each endpoint is served by one node at a time: the node holding its lease in the
 * database, renewed every few seconds. A node that dies stops renewing, and another takes the
 * endpoint over from its stored cursor when the lease runs out. Every progress write is fenced by
 * the lease, so a node that lost one stops at once.
 */
import type { WebhookSettings } from '../../config.js';
import type { EventLog } from '../event-log/event-log.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { Clock } from '../time/clock.js';
import type { EventId, Store, WebhookEndpoint, WebhookEventType } from '../store/store.js';
import { post } from './outbound.js';
import { signatures } from './signature.js';
import { wants, webhookEventsOf, type WebhookEvent } from './webhook-events.js';

/** How long a lease lasts; it is renewed every third of it. */
export const LEASE_MS = 15_000;
/** Log entries read at a time. */
const BATCH = 100;
/** How often progress is stored while deliveries go well (a crash repeats at most this much). */
const SAVE_EVERY_MS = 500;
/**
 * How long before its lease runs out a node stops sending when it could not renew it (the
 * database away): another node may take the endpoint over at the lease's end, and two nodes
 * sending at once could reorder calls. Also covers clocks a little apart.
 */
const LEASE_MARGIN_MS = LEASE_MS / 3;
/** How long a worker waits before looking again whether the lease was renewed. */
const LEASE_PAUSE_MS = 1_000;
/** How long an idle worker waits for a wake-up before looking at the log anyway. */
const IDLE_POLL_MS = 5_000;
/** The first retry's delay (then doubled each time, with jitter) and the longest one. */
const FIRST_RETRY_MS = 1_000;
const LONGEST_RETRY_MS = 10 * 60_000;

export type WebhookStatus = 'active' | 'disabled' | 'failing';

export interface DispatcherOptions {
  store: Store;
  eventLog: EventLog;
  settings: WebhookSettings;
  /** This node's name, as the lease holder. */
  owner: string;
  /** The only node: take every lease, even one a previous run of this node left behind. */
  takeover: boolean;
  logger: Logger;
  metrics: Metrics;
  clock: Clock;
}

export class WebhookDispatcher {
  private endpoints: readonly WebhookEndpoint[] = [];
  private readonly workers = new Map<string, EndpointWorker>();
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> = Promise.resolve();
  private stopped = false;
  /** Until when the leases this node claimed last are surely still its own. */
  private heldUntil = 0;

  constructor(private readonly options: DispatcherOptions) {}

  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh().catch(() => {}), LEASE_MS / 3).unref();
  }

  /** The log delivered an entry: idle workers look at it. */
  wake(): void {
    for (const worker of this.workers.values()) worker.wake();
  }

  /** Whether any endpoint exists. */
  get hasEndpoints(): boolean {
    return this.endpoints.length > 0;
  }

  /** Whether some enabled endpoint asks for `type` (what to record for webhooks only). */
  wants(type: WebhookEventType): boolean {
    return this.endpoints.some((endpoint) => !endpoint.disabled && endpoint.events.includes(type));
  }

  /** An endpoint's status as an operator reads it. */
  statusOf(endpoint: WebhookEndpoint): WebhookStatus {
    if (endpoint.disabled) return 'disabled';
    const failingFor = endpoint.failingSince === null ? 0 : this.options.clock.now() - endpoint.failingSince;
    return failingFor >= this.options.settings.retryForMs ? 'failing' : 'active';
  }

  /**
   * Reads the endpoints again and renews or takes leases: after an operator's change (on this node,
   * or on another one through the log) and every few seconds. Runs one at a time.
   */
  refresh(): Promise<void> {
    const run = this.refreshing.then(() => this.reload());
    this.refreshing = run.catch(() => {});
    return run;
  }

  private async reload(): Promise<void> {
    if (this.stopped) return;
    const { store, owner, takeover, clock, logger } = this.options;
    try {
      this.endpoints = await store.listWebhooks();
      const now = clock.now();
      const held = await store.claimWebhooks(owner, now, now + LEASE_MS, takeover);
      if (this.stopped) return;
      this.heldUntil = now + LEASE_MS - LEASE_MARGIN_MS;
      const ids = new Set(held.map((endpoint) => endpoint.id));
      for (const [id, worker] of this.workers) if (!ids.has(id)) this.dismiss(id, worker);
      for (const endpoint of held) {
        const worker = this.workers.get(endpoint.id);
        if (worker && !worker.stopped) worker.update(endpoint);
        else this.workers.set(endpoint.id, new EndpointWorker(endpoint, this.options, () => this.holds(), () => this.dismiss(endpoint.id)));
      }
    } catch (error) {
      // the leases run out if this goes on; another node (or this one, later) takes over
      logger.warn({ err: error }, 'webhook endpoints could not be read');
      throw error;
    }
  }

  /** Whether this node's leases are surely its own now (renewed recently enough). */
  private holds(): boolean {
    return this.options.clock.now() < this.heldUntil;
  }

  private dismiss(id: string, worker = this.workers.get(id)): void {
    if (!worker || this.workers.get(id) !== worker) return;
    this.workers.delete(id);
    worker.stop();
    this.options.metrics.webhookLag.remove({ endpoint: id });
  }

  /** Stops every worker (a call in flight is aborted: it goes out again later) and hands the leases back. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.refreshing;
    const workers = [...this.workers.values()];
    this.workers.clear();
    for (const worker of workers) worker.stop();
    await Promise.all(workers.map((worker) => worker.done));
    await this.options.store.releaseWebhooks(this.options.owner).catch(() => {});
  }
}

/** Delivers to one endpoint while this node holds its lease. */
class EndpointWorker {
  stopped = false;
  readonly done: Promise<void>;
  private cursor: EventId;
  private savedCursor: EventId;
  private savedAt = 0;
  private failingSince: number | null;
  private lastError: string | null;
  private lastErrorAt: number | null;
  private failures = 0;
  private readonly abort = new AbortController();
  /** The pending wait, and whether a wake-up or only a change of the endpoint ends it. */
  private waiting: { resolve: () => void; onEntries: boolean } | undefined;
  private woken = false;

  constructor(
    private endpoint: WebhookEndpoint,
    private readonly options: DispatcherOptions,
    /** Whether the lease is surely still this node's: when not, nothing is sent until it is renewed. */
    private readonly holds: () => boolean,
    private readonly onLeaseLost: () => void,
  ) {
    this.cursor = endpoint.cursor;
    this.savedCursor = endpoint.cursor;
    this.failingSince = endpoint.failingSince;
    this.lastError = endpoint.lastError;
    this.lastErrorAt = endpoint.lastErrorAt;
    this.done = this.run();
  }

  /** New entries in the log. */
  wake(): void {
    this.woken = true;
    if (this.waiting?.onEntries) this.waiting.resolve();
  }

  /** An operator changed the endpoint: use the new settings, and retry a failing call at once. */
  update(endpoint: WebhookEndpoint): void {
    // the store's cursor moved past what this worker saved: re-enabled meanwhile, resume at the head
    if (endpoint.cursor > this.savedCursor) {
      this.cursor = Math.max(this.cursor, endpoint.cursor);
      this.savedCursor = endpoint.cursor;
    }
    const changed = endpoint.url !== this.endpoint.url || endpoint.secret !== this.endpoint.secret || endpoint.events.join() !== this.endpoint.events.join() || endpoint.channels?.join() !== this.endpoint.channels?.join();
    this.endpoint = endpoint;
    if (changed) this.waiting?.resolve();
  }

  stop(): void {
    this.stopped = true;
    this.abort.abort();
    this.waiting?.resolve();
  }

  private async run(): Promise<void> {
    const { eventLog, store, logger, metrics } = this.options;
    while (!this.stopped) {
      try {
        // a wake-up from here on means entries past `until`
        this.woken = false;
        if (!this.holds()) {
          await this.wait(LEASE_PAUSE_MS, false);
          continue;
        }
        const until = eventLog.deliveredThrough;
        metrics.webhookLag.set({ endpoint: this.endpoint.id }, Math.max(0, until - this.cursor));
        if (this.cursor >= until) {
          await this.save(true);
          await this.wait(IDLE_POLL_MS, true);
          continue;
        }
        const entries = eventLog.recentAfter(this.cursor, BATCH) ?? (await store.eventsBetween(this.cursor, until, BATCH));
        // nothing but cluster changes in between: nothing to send
        if (entries.length === 0) this.cursor = until;
        for (const entry of entries) {
          if (entry.id > until) break;
          for (const event of webhookEventsOf(entry)) {
            if (wants(this.endpoint, event) && !(await this.deliver(event))) return;
          }
          this.cursor = entry.id;
        }
        await this.save(false);
      } catch (error) {
        logger.error({ err: error, endpoint: this.endpoint.id }, 'webhook delivery loop failed; retrying');
        await this.wait(FIRST_RETRY_MS, false);
      }
    }
  }

  /** Sends `event` until it is delivered; false when the worker stopped first. */
  private async deliver(event: WebhookEvent): Promise<boolean> {
    const { clock, metrics, logger } = this.options;
    for (;;) {
      if (this.stopped) return false;
      if (!this.holds()) {
        await this.wait(LEASE_PAUSE_MS, false);
        continue;
      }
      const error = await this.attempt(event);
      if (this.stopped) return false;
      if (error === undefined) {
        metrics.webhookDeliveries.inc({ endpoint: this.endpoint.id });
        this.failures = 0;
        if (this.failingSince !== null) {
          this.failingSince = null;
          await this.save(true);
        }
        return true;
      }
      metrics.webhookFailures.inc({ endpoint: this.endpoint.id });
      const now = clock.now();
      this.failingSince ??= now;
      this.lastError = error;
      this.lastErrorAt = now;
      this.failures++;
      logger.warn({ endpoint: this.endpoint.id, webhookId: event.id, attempt: this.failures, error }, 'webhook call failed; will retry');
      await this.save(true);
      await this.wait(this.backoff(), false);
    }
  }

  /** One call; the reason it failed, or undefined when the endpoint answered 2xx. */
  private async attempt(event: WebhookEvent): Promise<string | undefined> {
    const { clock, settings } = this.options;
    const endpoint = this.endpoint;
    const body = JSON.stringify({ type: event.type, timestamp: event.timestamp, data: event.data });
    const now = clock.now();
    const timestamp = Math.floor(now / 1000);
    const secrets = [endpoint.secret];
    if (endpoint.previousSecret !== null && (endpoint.previousSecretUntil ?? 0) > now) secrets.push(endpoint.previousSecret);
    try {
      const answer = await post(
        new URL(endpoint.url),
        body,
        {
          'content-type': 'application/json',
          'user-agent': 'Chatty-Webhooks/1',
          'webhook-id': event.id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signatures(secrets, event.id, timestamp, body),
        },
        { timeoutMs: settings.timeoutMs, allowPrivate: settings.allowPrivate, signal: this.abort.signal },
      );
      if (answer.status >= 200 && answer.status < 300) return undefined;
      const excerpt = answer.body.trim().slice(0, 200);
      return `HTTP ${answer.status}${excerpt ? `: ${excerpt}` : ''}`;
    } catch (error) {
      return (error as Error).message || String(error);
    }
  }

  /** Exponential from about a second, with jitter (half to all of it), capped. */
  private backoff(): number {
    const longest = Math.min(LONGEST_RETRY_MS, Math.max(FIRST_RETRY_MS, this.options.settings.retryForMs / 10));
    const delay = Math.min(longest, FIRST_RETRY_MS * 2 ** Math.min(this.failures - 1, 30));
    return delay / 2 + Math.random() * (delay / 2);
  }

  /**
   * Stores the cursor and the failure state: at once when `now`, else at most every
   * SAVE_EVERY_MS. A write refused by the lease fence stops the worker.
   */
  private async save(now: boolean): Promise<void> {
    const { store, owner, clock, logger } = this.options;
    const dirty = this.cursor !== this.savedCursor || this.failingSince !== this.endpoint.failingSince || this.lastErrorAt !== this.endpoint.lastErrorAt;
    if (!dirty || (!now && clock.now() - this.savedAt < SAVE_EVERY_MS)) return;
    const progress = { cursor: this.cursor, failingSince: this.failingSince, lastError: this.lastError, lastErrorAt: this.lastErrorAt };
    try {
      if (!(await store.saveWebhookProgress(this.endpoint.id, owner, progress))) {
        logger.info({ endpoint: this.endpoint.id }, 'webhook endpoint no longer served here (disabled, deleted or taken over)');
        this.stopped = true;
        this.onLeaseLost();
        return;
      }
      this.savedCursor = this.cursor;
      this.savedAt = clock.now();
      this.endpoint = { ...this.endpoint, ...progress };
    } catch (error) {
      // the database is away: keep delivering, the progress is written next time
      logger.warn({ err: error, endpoint: this.endpoint.id }, 'webhook progress could not be saved');
    }
  }

  /** Waits `ms`; a change of the endpoint or stop() ends it early, and new entries too when `onEntries`. */
  private wait(ms: number, onEntries: boolean): Promise<void> {
    if (this.stopped || (onEntries && this.woken)) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.waiting = { resolve: done, onEntries };
    }).finally(() => (this.waiting = undefined));
  }
}
