/**
 * Prometheus metrics. Each server owns its registry, so several servers (tests, benchmarks) can
 * live in one process without sharing counters.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests = new Counter({
    name: 'chatty_http_requests_total',
    help: 'HTTP requests by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  readonly notifications = new Counter({
    name: 'chatty_notifications_total',
    help: 'Notifications accepted, by mode',
    labelNames: ['mode'] as const,
    registers: [this.registry],
  });
  readonly chatMessages = new Counter({ name: 'chatty_chat_messages_total', help: 'Chat messages sent', registers: [this.registry] });
  readonly sockets = new Gauge({ name: 'chatty_sockets', help: 'Connected sockets on this node', registers: [this.registry] });
  readonly replayedEvents = new Counter({ name: 'chatty_replayed_events_total', help: 'Events replayed to reconnecting sockets', registers: [this.registry] });
  readonly logBatchSize = new Histogram({
    name: 'chatty_event_log_batch_size',
    help: 'Events written per event-log commit',
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500],
    registers: [this.registry],
  });
  readonly webhookDeliveries = new Counter({
    name: 'chatty_webhook_deliveries_total',
    help: 'Webhook calls answered 2xx, by endpoint',
    labelNames: ['endpoint'] as const,
    registers: [this.registry],
  });
  readonly webhookFailures = new Counter({
    name: 'chatty_webhook_failures_total',
    help: 'Webhook calls that failed (an error, a timeout or a status other than 2xx), by endpoint',
    labelNames: ['endpoint'] as const,
    registers: [this.registry],
  });
  readonly webhookLag = new Gauge({
    name: 'chatty_webhook_lag_events',
    help: 'Log entries not yet delivered to (or passed over for) an endpoint this node serves',
    labelNames: ['endpoint'] as const,
    registers: [this.registry],
  });
  readonly logCommitSeconds = new Histogram({
    name: 'chatty_event_log_commit_seconds',
    help: 'Time to commit one event-log batch (including fsync)',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
    registers: [this.registry],
  });

  /** One child per mode, made once: prom-client hashes the labels on every labelled inc(). */
  readonly notificationsByMode = {
    channels: this.notifications.labels('channels'),
    'channels-efficient': this.notifications.labels('channels-efficient'),
    users: this.notifications.labels('users'),
  };

  /** @param nodeId NODE_ID, a label on every series, so that a cluster's nodes can be told apart */
  constructor(nodeId?: string) {
    if (nodeId !== undefined) this.registry.setDefaultLabels({ node: nodeId });
    collectDefaultMetrics({ register: this.registry, prefix: 'chatty_' });
  }

  /**
   * The key figures of this node, as the operator console charts them (GET /control/stats):
   * counters as totals since start (the console turns them into rates), gauges as they are now.
   */
  async snapshot(): Promise<StatsSnapshot> {
    const total = async (metric: { get(): Promise<{ values: { value: number; metricName?: string }[] }> } | undefined, name?: string) => {
      if (!metric) return 0;
      const { values } = await metric.get();
      return values.filter((v) => name === undefined || v.metricName === undefined || v.metricName === name).reduce((sum, v) => sum + v.value, 0);
    };
    const named = (name: string) => this.registry.getSingleMetric(`chatty_${name}`) as Parameters<typeof total>[0];
    return {
      sockets: await total(this.sockets),
      notifications: await total(this.notifications),
      chatMessages: await total(this.chatMessages),
      httpRequests: await total(this.httpRequests),
      replayedEvents: await total(this.replayedEvents),
      logCommits: await total(this.logCommitSeconds, 'chatty_event_log_commit_seconds_count'),
      eventLoopLagSeconds: await total(named('nodejs_eventloop_lag_p99_seconds')),
      residentMemoryBytes: await total(named('process_resident_memory_bytes')),
    };
  }

  /**
   * Many nodes: how far this node's tail of the shared log is behind, in entries (the newest
   * committed id minus the newest delivered one), read when scraped.
   */
  measureTailLag(read: () => Promise<number>): void {
    new Gauge({
      name: 'chatty_log_tail_lag',
      help: "Entries of the shared log committed but not yet delivered by this node's tail",
      registers: [this.registry],
      async collect() {
        this.set(await read().catch(() => Number.NaN));
      },
    });
  }
}

/** {@link Metrics.snapshot}: totals since the node started, and gauges now. */
export interface StatsSnapshot {
  /** Sockets connected to this node. */
  sockets: number;
  notifications: number;
  chatMessages: number;
  httpRequests: number;
  replayedEvents: number;
  /** Event-log commits (batches). */
  logCommits: number;
  /** The event loop's p99 delay. */
  eventLoopLagSeconds: number;
  residentMemoryBytes: number;
}
