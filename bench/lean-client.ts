/**
 * A lean Socket.IO client for load: Engine.IO v4 / Socket.IO v5 spoken directly over `ws`,
 * websocket transport only, default namespace only, text packets only.
 *
 * Why not `socket.io-client`: on a 2-core machine a full client per connection costs more CPU and
 * memory than the server it measures. Here a connection is one `ws` socket and a few fields;
 * an event is counted by scanning its name out of the frame, and only parsed (JSON.parse) when a
 * handler for that event name was registered.
 *
 * Frames handled (one Engine.IO packet per websocket message):
 *   `0{...}` open → send `40{auth}` (CONNECT)     `2` ping → `3` pong     `1` close
 *   `40{"sid":..}` connected    `44{...}` connect_error    `41` disconnect
 *   `42[...]` / `42<id>[...]` event    `43<id>[...]` ack
 *
 * @example
 *   const client = new LeanClient(`ws://127.0.0.1:${port}`, { token });
 *   await client.connect({ waitFor: 'ready' });
 *   client.count('bench');                              // deliveries of `bench` so far
 *   const [reply] = await client.emitWithAck('chat:send', { channel: 'c-1', body: 'hi' });
 */
import WebSocket from 'ws';

export type EventName = string;
export type EventHandler = (client: LeanClient, args: unknown[]) => void;
/** Receives the `id` of an event's last argument (the product's `{id, time, …}` meta), unparsed. */
export type EventIdHandler = (client: LeanClient, id: number) => void;
/** Called for every delivered event, before counting; must stay cheap (no parsing). */
export type DeliveryHook = (client: LeanClient, event: EventName) => void;

export interface ConnectOptions {
  /** Resolve only once this server event arrives (the product's `ready`), not on CONNECT. */
  readonly waitFor?: EventName;
  readonly timeoutMs?: number;
}

/** A `connect_error` from the server, with its `data` (e.g. `{ code: 'token_invalid' }`). */
export class ConnectError extends Error {
  override readonly name = 'ConnectError';
  constructor(message: string, readonly data: unknown) {
    super(message);
  }
}

const CHAR_0 = 0x30;
const CHAR_1 = 0x31;
const CHAR_2 = 0x32;
const CHAR_3 = 0x33;
const CHAR_4 = 0x34;
const CHAR_QUOTE = 0x22;
const CHAR_BRACKET = 0x5b;
const CHAR_9 = 0x39;
/** How the product's meta argument starts (its first member is the event id). */
const META_ID = Buffer.from('{"id":');

const PONG = '3';

interface PendingAck {
  resolve(args: unknown[]): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

export class LeanClient {
  /** Deliveries per event name. */
  readonly counts = new Map<EventName, number>();
  /** Per-client scratch space for scenarios (expected origin, user id, ...). */
  tag: unknown;
  sid: string | undefined;
  private ws: WebSocket | undefined;
  private handlers: Map<EventName, EventHandler> | undefined;
  private idHandlers: Map<EventName, EventIdHandler> | undefined;
  private acks: Map<number, PendingAck> | undefined;
  private nextAckId = 0;
  private settle: { waitFor: EventName | undefined; resolve(): void; reject(error: Error): void } | undefined;

  /**
   * @param baseUrl `ws://host:port`; the Socket.IO path is appended.
   * @param auth sent as the CONNECT payload (`handshake.auth`), e.g. `{ token, lastEventId }`.
   */
  constructor(
    private readonly baseUrl: string,
    private readonly auth: Record<string, unknown> | undefined,
    private readonly hook?: DeliveryHook,
  ) {}

  /** Registers a handler that receives the parsed arguments of `event` (costs a JSON.parse). */
  on(event: EventName, handler: EventHandler): this {
    (this.handlers ??= new Map()).set(event, handler);
    return this;
  }

  /**
   * Registers a handler that receives the id of each `event` from its meta, the last argument,
   * found by scanning back from the frame's end: no JSON.parse, so that a client checking the ids
   * of a fast stream (a replay) takes little of the CPU the server it measures needs.
   */
  onId(event: EventName, handler: EventIdHandler): this {
    (this.idHandlers ??= new Map()).set(event, handler);
    return this;
  }

  count(event: EventName): number {
    return this.counts.get(event) ?? 0;
  }

  get connected(): boolean {
    return this.ws !== undefined && this.ws.readyState === WebSocket.OPEN && this.sid !== undefined;
  }

  connect(options: ConnectOptions = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.settle = undefined;
        this.close();
        reject(new Error(`connect timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (error?: Error) => {
        clearTimeout(timer);
        this.settle = undefined;
        if (error) {
          this.close();
          reject(error);
        } else resolve();
      };
      this.settle = { waitFor: options.waitFor, resolve: () => done(), reject: done };
      const ws = new WebSocket(`${this.baseUrl}/socket.io/?EIO=4&transport=websocket`, {
        perMessageDeflate: false,
        skipUTF8Validation: true,
      });
      this.ws = ws;
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        if (!isBinary) this.onFrame(data);
      });
      ws.on('error', (error) => this.settle?.reject(error));
      ws.on('close', () => {
        this.sid = undefined;
        this.settle?.reject(new Error('socket closed before connect completed'));
        this.failAcks(new Error('socket closed'));
      });
    });
  }

  /** Sends an event without an ack. */
  emit(event: EventName, ...args: unknown[]): void {
    this.ws?.send(`42${JSON.stringify([event, ...args])}`);
  }

  /** Sends an event with an ack id; resolves with the ack's arguments. */
  emitWithAck(event: EventName, payload: unknown, timeoutMs = 10_000): Promise<unknown[]> {
    const id = this.nextAckId++;
    return new Promise<unknown[]>((resolve, reject) => {
      const acks = (this.acks ??= new Map());
      const timer = setTimeout(() => {
        acks.delete(id);
        reject(new Error(`ack for ${event} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      acks.set(id, { resolve, reject, timer });
      this.ws?.send(`42${id}${JSON.stringify([event, payload])}`);
    });
  }

  /** Drops the connection at once (no close handshake): the cheapest teardown for thousands. */
  close(): void {
    const ws = this.ws;
    if (ws && ws.readyState !== WebSocket.CLOSED) ws.terminate();
  }

  private onFrame(data: Buffer): void {
    const engineType = data[0];
    if (engineType === CHAR_4) {
      const ioType = data[1];
      if (ioType === CHAR_2) this.onEvent(data);
      else if (ioType === CHAR_3) this.onAck(data);
      else if (ioType === CHAR_0) this.onConnect(data);
      else if (ioType === CHAR_4) this.onConnectError(data);
      else if (ioType === CHAR_1) this.close();
    } else if (engineType === CHAR_2) {
      this.ws?.send(PONG);
    } else if (engineType === CHAR_0) {
      this.ws?.send(this.auth ? `40${JSON.stringify(this.auth)}` : '40');
    } else if (engineType === CHAR_1) {
      this.close();
    }
  }

  private onConnect(data: Buffer): void {
    try {
      this.sid = (JSON.parse(data.toString('utf8', 2)) as { sid?: string }).sid;
    } catch {
      this.sid = '';
    }
    if (this.settle && this.settle.waitFor === undefined) this.settle.resolve();
  }

  private onConnectError(data: Buffer): void {
    let message = 'connect_error';
    let detail: unknown;
    try {
      const parsed = JSON.parse(data.toString('utf8', 2)) as { message?: string; data?: unknown };
      message = parsed.message ?? message;
      detail = parsed.data;
    } catch {
      // keep the generic message
    }
    this.settle?.reject(new ConnectError(message, detail));
  }

  private onEvent(data: Buffer): void {
    // `42` [ack id digits] `["name",...]`: find the name without parsing the whole frame
    let start = 2;
    while (start < data.length && data[start] !== CHAR_BRACKET) start++;
    if (data[start + 1] !== CHAR_QUOTE) return;
    const end = data.indexOf(CHAR_QUOTE, start + 2);
    if (end < 0) return;
    const event = data.toString('latin1', start + 2, end);
    this.hook?.(this, event);
    this.counts.set(event, (this.counts.get(event) ?? 0) + 1);
    const handler = this.handlers?.get(event);
    if (handler) {
      const parsed = JSON.parse(data.toString('utf8', start)) as unknown[];
      handler(this, parsed.slice(1));
    }
    const idHandler = this.idHandlers?.get(event);
    if (idHandler) idHandler(this, metaId(data));
    if (this.settle?.waitFor === event) this.settle.resolve();
  }

  private onAck(data: Buffer): void {
    let start = 2;
    let id = 0;
    while (start < data.length && data[start] !== CHAR_BRACKET) id = id * 10 + (data[start++] - CHAR_0);
    const acks = this.acks;
    const pending = acks?.get(id);
    if (!acks || !pending) return;
    acks.delete(id);
    clearTimeout(pending.timer);
    pending.resolve(JSON.parse(data.toString('utf8', start)) as unknown[]);
  }

  private failAcks(error: Error): void {
    if (!this.acks) return;
    for (const pending of this.acks.values()) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.acks.clear();
  }
}

export interface OpenManyResult {
  readonly clients: LeanClient[];
  /** Clients that connected (and received `waitFor`, when given). */
  readonly connected: number;
  readonly failures: number;
  /** The first few failure messages, for the report. */
  readonly errors: string[];
  /** From the first connection attempt to the last completion. */
  readonly seconds: number;
}

/**
 * Opens `count` connections, at most `concurrency` in flight, and waits for each to complete.
 * Never rejects: failures are counted. The whole run is bounded by `totalTimeoutMs`.
 */
export async function openMany(
  count: number,
  makeClient: (index: number) => LeanClient,
  options: ConnectOptions & { concurrency: number; totalTimeoutMs?: number },
): Promise<OpenManyResult> {
  const clients = Array.from({ length: count }, (_, index) => makeClient(index));
  const deadline = Date.now() + (options.totalTimeoutMs ?? 120_000);
  const errors: string[] = [];
  let next = 0;
  let connected = 0;
  let failures = 0;
  const started = process.hrtime.bigint();
  const worker = async () => {
    while (next < count) {
      const client = clients[next++];
      if (Date.now() > deadline) {
        failures++;
        if (errors.length < 5) errors.push(`not attempted: the ${options.totalTimeoutMs ?? 120_000} ms limit for all connections passed`);
        continue;
      }
      try {
        await client.connect({ waitFor: options.waitFor, timeoutMs: options.timeoutMs });
        connected++;
      } catch (error) {
        failures++;
        if (errors.length < 5) errors.push((error as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, count) }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { clients, connected, failures, errors, seconds };
}

/** Terminates every client. */
export function closeAll(clients: readonly LeanClient[]): void {
  for (const client of clients) client.close();
}

/** The number after the frame's last `{"id":`; NaN when there is none. */
function metaId(data: Buffer): number {
  let at = data.lastIndexOf(META_ID);
  if (at < 0) return Number.NaN;
  at += META_ID.length;
  const from = at;
  let id = 0;
  while (at < data.length && data[at]! >= CHAR_0 && data[at]! <= CHAR_9) id = id * 10 + (data[at++]! - CHAR_0);
  return at === from ? Number.NaN : id;
}
