/**
 * The PostgreSQL store: the same contract as the SQLite one (test/store-contract.ts), for a single
 * node in production and, sharing one database, for many (contract §9).
 *
 * The event log's one subtle rule: ids must become visible in increasing order, or a reader that
 * follows the log by "id greater than the last seen" skips an event committed late with a smaller
 * id. Each append batch therefore takes the log's transaction-level advisory lock before it takes
 * its ids from the sequence, and keeps it until its commit is visible: batches commit one at a
 * time across the cluster, each carrying many events (group commit, see event-log.ts).
 *
 * Every failure to reach the database surfaces as `ChattyError('unavailable')` (503, ack
 * `unavailable`); the pool replaces broken connections by itself.
 */
import pg from 'pg';
import { roomsOf } from '../channels/delivery-plan.js';
import type { SigningKey } from '../auth/key-ring.js';
import { dmParticipants, type ChannelName, type ConversationName, type RoomName, type UserId } from '../channels/names.js';
import type { Role } from '../auth/tokens.js';
import { POSTGRES_MIGRATIONS } from './postgres-migrations.js';
import { decodeRow, encodeParam, isConnectionError, poolOptions, unavailableIfDisconnected } from './postgres-pool.js';
import type {
  NewWebhook,
  WebhookChange,
  WebhookEndpoint,
  WebhookProgress,
  Account,
  ChatMessage,
  EventId,
  LoggedEvent,
  LoggedNotification,
  NewEvent,
  PageRequest,
  ReadPosition,
  RoomCursor,
  ClusterChange,
  LogEntry,
  SharedLog,
  Store,
  StoredEvent,
  SubscriptionChange,
  ChangedPairs,
  ChannelLabel,
  LabelSource,
  Profile,
  ProfileChange,
  AccountChange,
  AccountState,
  ChannelCount,
  ChannelQuery,
} from './store.js';
import { IDEMPOTENCY_WINDOW_MS, IdempotencyKeyTaken, LAST_CHARACTER } from './store.js';
import { ACCOUNT_COLUMNS, accountOfRow, type AccountRow } from './account-rows.js';
import { WEBHOOK_COLUMNS, webhookOfRow, type WebhookRow } from './webhook-rows.js';
import { offlineJson, EVENT_COLUMNS, MESSAGE_COLUMNS, cellsOfRow, entryOfRow, eventOfRow, messageOfRow, storedEventOf, type EventRow, type MessageRow } from './event-rows.js';

/**
 * Advisory locks, as (namespace, lock) pairs: the namespace keeps them apart from any other
 * application's locks in the same database.
 */
const LOCK_NAMESPACE = 0x43686174; // "Chat"
const LOCKS = { migrations: 1, eventLog: 2, keyRing: 3 } as const;
const lockSql = (lock: keyof typeof LOCKS) => `pg_advisory_xact_lock(${LOCK_NAMESPACE}, ${LOCKS[lock]})`;

/** Runs one statement, in a transaction or on any pooled connection. */
type Query = <R extends Record<string, unknown> = Record<string, unknown>>(sql: string, params?: readonly unknown[]) => Promise<pg.QueryResult<R>>;


/** One batch of events, its messages, replay index rows and private conversations, in one statement. */
const INSERT_BATCH = `
  WITH logged AS (
    INSERT INTO events (id, kind, created_at, event, attributes, mode, targets, add_flags, idempotency_key)
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
  ), said AS (
    INSERT INTO messages (id, channel, sender, body, client_id, created_at)
    SELECT * FROM unnest($10::bigint[], $11::text[], $12::text[], $13::text[], $14::text[], $15::bigint[])
  ), addressed AS (
    INSERT INTO event_targets (room, event_id) SELECT * FROM unnest($16::text[], $17::bigint[])
  ), conversed AS (
    INSERT INTO dm_conversations (user_id, channel) SELECT * FROM unnest($18::text[], $19::text[]) ON CONFLICT DO NOTHING
  )
  SELECT 1`;

/**
 * At most `$3` entries created before `$1` (keyed ones only before `$2`), taken through
 * events_by_time from the oldest and skipping rows another node is pruning; their replay index
 * rows go with them, and the greatest id removed is remembered as the log's last id.
 */
const PRUNE = `
  WITH doomed AS (
    SELECT id FROM events WHERE created_at < $1 AND (idempotency_key IS NULL OR created_at < $2)
    ORDER BY created_at LIMIT $3 FOR UPDATE SKIP LOCKED
  ), gone AS (
    DELETE FROM events e USING doomed d WHERE e.id = d.id RETURNING e.id
  ), unindexed AS (
    DELETE FROM event_targets t USING gone g WHERE t.event_id = g.id
  ), head AS (
    UPDATE event_log_head SET pruned_through = greatest(pruned_through, (SELECT max(id) FROM gone))
    WHERE EXISTS (SELECT 1 FROM gone)
  )
  SELECT count(*) AS removed FROM gone`;

/** The channel on which every commit to the log wakes the tails of the cluster's nodes. */
const LOG_CHANNEL = 'chatty_log';
/** How long the listening connection waits before connecting again after it broke. */
const RELISTEN_MS = 1000;

export interface PostgresStoreOptions {
  /**
   * Several nodes share the database (contract §9): subscription changes and key-ring writes are
   * logged, and every commit to the log is announced on LOG_CHANNEL.
   */
  shared?: boolean;
}

export class PostgresStore implements Store, SharedLog {
  private readonly pool: pg.Pool;
  private closing: Promise<void> | undefined;
  private readonly shared: boolean;

  /** @param databaseUrl `postgres://…` or `postgresql://…`, optionally with `?pool_size=` */
  constructor(
    private readonly databaseUrl: string,
    options: PostgresStoreOptions = {},
  ) {
    this.shared = options.shared ?? false;
    this.pool = new pg.Pool(poolOptions(databaseUrl));
    // An idle connection that breaks (server restart, network cut) is reported here and dropped
    // by the pool; the next query opens a new one or fails as `unavailable`. Without a listener
    // the error would crash the process.
    this.pool.on('error', () => {});
  }

  /**
   * Applies the missing migrations. Several nodes starting together queue on a session advisory
   * lock, so each migration runs once; each runs in its own transaction with its version row.
   */
  async migrate(): Promise<void> {
    await this.withClient(async (client, discard) => {
      await client.query(`SELECT pg_advisory_lock(${LOCK_NAMESPACE}, ${LOCKS.migrations})`);
      try {
        await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at bigint NOT NULL)');
        const applied = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
        for (const [index, migration] of POSTGRES_MIGRATIONS.entries()) {
          const version = index + 1;
          if (applied.has(version)) continue;
          await client.query('BEGIN');
          try {
            await client.query(migration);
            await client.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [version, Date.now()]);
            await client.query('COMMIT');
          } catch (error) {
            await client.query('ROLLBACK').catch(discard);
            throw error;
          }
        }
      } finally {
        // a broken connection releases the lock with its session; a live one must say so
        await client.query(`SELECT pg_advisory_unlock(${LOCK_NAMESPACE}, ${LOCKS.migrations})`).catch(discard);
      }
    });
  }

  async ping(): Promise<void> {
    await this.query('SELECT 1');
  }

  close(): Promise<void> {
    return (this.closing ??= this.pool.end());
  }

  // accounts

  async createAccount(account: Account): Promise<boolean> {
    const result = await this.query(
      'INSERT INTO accounts (username, password_hash, role, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
      [account.username, account.passwordHash, account.role, account.createdAt],
    );
    return result.rowCount === 1;
  }

  async findAccount(username: string): Promise<Account | undefined> {
    const { rows } = await this.query<AccountRow>(
      `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE lower(username) = lower($1 COLLATE "C")`,
      [username],
    );
    return rows[0] && accountOfRow(rows[0]);
  }

  async listAccounts(page: PageRequest): Promise<Account[]> {
    const { rows } = await this.query<AccountRow>(
      `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE username > $1 ORDER BY username LIMIT $2`,
      [page.after ?? '', page.size],
    );
    return rows.map(accountOfRow);
  }

  async changeAccount(username: string, change: AccountChange): Promise<Account | undefined> {
    return this.transaction(async (query) => {
      const { rows } = await query<AccountRow>(
        `UPDATE accounts SET role = coalesce($2, role), disabled = coalesce($3, disabled),
           password_hash = coalesce($4, password_hash), token_version = token_version + 1
         WHERE lower(username) = lower($1 COLLATE "C")
         RETURNING ${ACCOUNT_COLUMNS}`,
        [username, change.role ?? null, change.disabled ?? null, change.passwordHash ?? null],
      );
      if (rows[0] && this.shared) await this.logChanges(query, [{ type: 'accounts' }]);
      return rows[0] && accountOfRow(rows[0]);
    }, this.shared ? `BEGIN; SELECT ${lockSql('eventLog')}` : 'BEGIN');
  }

  async accountStates(): Promise<AccountState[]> {
    const { rows } = await this.query<{ username: string; disabled: boolean; token_version: number }>(
      'SELECT username, disabled, token_version FROM accounts WHERE disabled OR token_version > 0',
    );
    return rows.map((row) => ({ username: row.username, disabled: row.disabled, tokenVersion: Number(row.token_version) }));
  }

  async upsertAccount(account: Account): Promise<void> {
    await this.query(
      `INSERT INTO accounts (username, password_hash, role, created_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT ((lower(username))) DO UPDATE SET password_hash = excluded.password_hash, role = excluded.role`,
      [account.username, account.passwordHash, account.role, account.createdAt],
    );
  }

  // key ring

  async listKeys(): Promise<SigningKey[]> {
    const { rows } = await this.query<{ id: string; secret: string; created_at: number; expires_at: number | null }>(
      'SELECT id, secret, created_at, expires_at FROM signing_keys ORDER BY created_at, id',
    );
    return rows.map(keyOfRow);
  }

  async saveKeys(keys: readonly SigningKey[]): Promise<void> {
    if (keys.length === 0) return;
    await this.transaction(async (query) => {
      await query(
        `INSERT INTO signing_keys (id, secret, created_at, expires_at)
         SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[])
         ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at`,
        [keys.map((k) => k.id), keys.map((k) => k.secret), keys.map((k) => k.createdAt), keys.map((k) => k.expiresAt)],
      );
      if (this.shared) await this.logChanges(query, [{ type: 'keys' }]);
    }, this.shared ? `BEGIN; SELECT ${lockSql('keyRing')}, ${lockSql('eventLog')}` : `BEGIN; SELECT ${lockSql('keyRing')}`);
  }

  /**
   * Saves `key` only if the ring holds no key at all, atomically against every node doing the
   * same, and returns the ring as stored afterwards: `[key]` for the node that seeded it, the
   * winner's keys for the others, which adopt them instead of signing with a key of their own.
   */
  async seedKeyRing(key: SigningKey): Promise<SigningKey[]> {
    return this.transaction(async (query) => {
      await query(
        `INSERT INTO signing_keys (id, secret, created_at, expires_at)
         SELECT $1, $2, $3, $4 WHERE NOT EXISTS (SELECT 1 FROM signing_keys)`,
        [key.id, key.secret, key.createdAt, key.expiresAt],
      );
      const { rows } = await query<{ id: string; secret: string; created_at: number; expires_at: number | null }>(
        'SELECT id, secret, created_at, expires_at FROM signing_keys ORDER BY created_at, id',
      );
      return rows.map(keyOfRow);
    }, `BEGIN; SELECT ${lockSql('keyRing')}`);
  }

  // subscriptions

  async changeSubscriptions(changes: readonly SubscriptionChange[]): Promise<ChangedPairs[]> {
    if (changes.length === 0) return [];
    const now = Date.now();
    return this.transaction(async (query) => {
      const results: ChangedPairs[] = [];
      for (const { action, users, channels } of changes) {
        const { rows } =
          action === 'subscribe'
            ? // in key order, so that two transactions inserting the same pairs cannot deadlock
              await query<{ user_id: string; channel: string }>(
                `INSERT INTO subscriptions (user_id, channel, created_at)
                 SELECT u, c, $3 FROM unnest($1::text[]) u CROSS JOIN unnest($2::text[]) c ORDER BY 1, 2
                 ON CONFLICT DO NOTHING RETURNING user_id, channel`,
                [users, channels, now],
              )
            : await query<{ user_id: string; channel: string }>(
                'DELETE FROM subscriptions WHERE user_id = ANY($1::text[]) AND channel = ANY($2::text[]) RETURNING user_id, channel',
                [users, channels],
              );
        results.push(pairsInOrder(rows, users, channels));
      }
      if (this.shared) await this.logChanges(query, [{ type: 'subscriptions', changes }]);
      return results;
    }, this.shared ? `BEGIN; SELECT ${lockSql('eventLog')}` : 'BEGIN');
  }

  async listChannels({ prefix = '', after = '', size }: ChannelQuery): Promise<ChannelCount[]> {
    // the range keeps to the channel index (collation "C": byte order); starts_with makes it exact
    const { rows } = await this.query<{ channel: string; subscribers: string }>(
      `SELECT channel, COUNT(*) AS subscribers FROM subscriptions
       WHERE channel > $1 AND channel >= $2 AND channel < $3 AND starts_with(channel, $2)
       GROUP BY channel ORDER BY channel LIMIT $4`,
      [after, prefix, prefix + LAST_CHARACTER, size],
    );
    return rows.map((row) => ({ channel: row.channel, subscribers: Number(row.subscribers) }));
  }

  async subscribersOfAny(channels: readonly ChannelName[]): Promise<UserId[]> {
    const { rows } = await this.query<{ user_id: string }>(
      'SELECT DISTINCT user_id FROM subscriptions WHERE channel = ANY($1::text[]) ORDER BY user_id',
      [channels],
    );
    return rows.map((r) => r.user_id);
  }

  async channelsOf(userId: UserId, page?: PageRequest): Promise<ChannelName[]> {
    const { rows } = page
      ? await this.query<{ channel: string }>('SELECT channel FROM subscriptions WHERE user_id = $1 AND channel > $2 ORDER BY channel LIMIT $3', [
          userId,
          page.after ?? '',
          page.size,
        ])
      : await this.query<{ channel: string }>('SELECT channel FROM subscriptions WHERE user_id = $1 ORDER BY channel', [userId]);
    return rows.map((r) => r.channel);
  }

  async subscribersOf(channel: ChannelName, page: PageRequest): Promise<UserId[]> {
    const { rows } = await this.query<{ user_id: string }>(
      'SELECT user_id FROM subscriptions WHERE channel = $1 AND user_id > $2 ORDER BY user_id LIMIT $3',
      [channel, page.after ?? '', page.size],
    );
    return rows.map((r) => r.user_id);
  }

  async isSubscribed(userId: UserId, channel: ChannelName): Promise<boolean> {
    const { rowCount } = await this.query('SELECT 1 FROM subscriptions WHERE user_id = $1 AND channel = $2', [userId, channel]);
    return rowCount === 1;
  }

  async countSubscribers(channels: readonly ChannelName[]): Promise<Map<ChannelName, number>> {
    const { rows } = await this.query<{ channel: string; subscribers: number }>(
      'SELECT c AS channel, (SELECT count(*) FROM subscriptions s WHERE s.channel = c) AS subscribers FROM unnest($1::text[]) c',
      [channels],
    );
    return new Map(rows.map((r) => [r.channel, r.subscribers]));
  }

  // event log

  /**
   * One transaction, one WAL flush, for the whole batch. Under the log's advisory lock: free the
   * idempotency keys whose 24 hours are over, take the ids, insert everything in one statement.
   */
  async appendEvents(events: readonly NewEvent[]): Promise<LoggedEvent[]> {
    if (events.length === 0) return [];
    const keyed = events.filter((e) => e.kind === 'notify' && e.idempotencyKey !== undefined) as { idempotencyKey: string; createdAt: number }[];
    return this.transaction(async (query) => {
      if (keyed.length > 0) {
        // a key still honoured is never taken: inserting it again fails on the unique index
        await query(
          `UPDATE events e SET idempotency_key = NULL FROM unnest($1::text[], $2::bigint[]) AS k(key, before)
           WHERE e.idempotency_key = k.key AND e.created_at < k.before`,
          [keyed.map((e) => e.idempotencyKey), keyed.map((e) => e.createdAt - IDEMPOTENCY_WINDOW_MS)],
        );
      }
      const { rows } = await query<{ id: number }>("SELECT nextval('event_ids') AS id FROM generate_series(1, $1::int)", [events.length]);
      const ids = rows.map((r) => r.id).sort((a, b) => a - b);
      const logged = events.map((event, i): LoggedEvent => ({ ...event, id: ids[i]! }));
      await query(INSERT_BATCH, batchColumns(logged));
      if (this.shared) await query(`SELECT pg_notify('${LOG_CHANNEL}', '')`);
      return logged;
    }, `BEGIN; SELECT ${lockSql('eventLog')}`).catch((error: unknown) => {
      // another node took the key since the caller looked it up: the caller answers as a repeat
      const key = takenKey(error, keyed);
      throw key === undefined ? error : new IdempotencyKeyTaken(key);
    });
  }

  /** Logs cluster changes in the transaction (which holds the log's lock) and wakes the tails. */
  private async logChanges(query: Query, changes: readonly ClusterChange[]): Promise<void> {
    const now = Date.now();
    await query(
      `INSERT INTO events (id, kind, created_at, attributes)
       SELECT nextval('event_ids'), 'change', $1, c FROM unnest($2::text[]) WITH ORDINALITY AS t(c, n) ORDER BY n`,
      [now, changes.map((change) => JSON.stringify(change))],
    );
    await query(`SELECT pg_notify('${LOG_CHANNEL}', '')`);
  }

  async entriesAfter(afterId: EventId, limit: number): Promise<LogEntry[]> {
    const { rows } = await this.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM events e LEFT JOIN messages m ON m.id = e.id WHERE e.id > $1 ORDER BY e.id LIMIT $2`, [
      afterId,
      limit,
    ]);
    return rows.map(entryOfRow);
  }

  async listen(onCommit: () => void): Promise<() => Promise<void>> {
    let client: pg.Client | undefined;
    let stopped = false;
    let retry: NodeJS.Timeout | undefined;
    const connect = async (): Promise<void> => {
      const next = new pg.Client(poolOptions(this.databaseUrl));
      const reconnect = () => {
        if (stopped || client !== next) return;
        client = undefined;
        next.end().catch(() => {});
        retry = setTimeout(() => void connect().catch(reconnect), RELISTEN_MS);
      };
      next.on('error', reconnect);
      next.on('end', reconnect);
      next.on('notification', () => onCommit());
      client = next;
      try {
        await next.connect();
        await next.query(`LISTEN ${LOG_CHANNEL}`);
      } catch (error) {
        reconnect();
        throw error;
      }
      // whatever was committed while nobody listened
      onCommit();
    };
    await connect();
    return async () => {
      stopped = true;
      clearTimeout(retry);
      await client?.end().catch(() => {});
    };
  }

  async eventIdsFor(cursors: readonly RoomCursor[], untilId: EventId, limit: number): Promise<Map<RoomName, EventId[]>> {
    const ids = new Map<RoomName, EventId[]>(cursors.map((c) => [c.room, []]));
    if (cursors.length === 0) return ids;
    // one range of the (room, event_id) primary key per cursor
    const { rows } = await this.query<{ room: string; event_id: number }>(
      `SELECT c.room, t.event_id
       FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS c(room, after_id, position)
       CROSS JOIN LATERAL (
         SELECT event_id FROM event_targets
         WHERE room = c.room AND event_id > c.after_id AND event_id <= $3
         ORDER BY event_id LIMIT $4
       ) t
       ORDER BY c.position, t.event_id`,
      [cursors.map((c) => c.room), cursors.map((c) => c.afterId), untilId, limit],
    );
    for (const row of rows) ids.get(row.room)!.push(row.event_id);
    return ids;
  }

  async eventsByIds(ids: readonly EventId[]): Promise<StoredEvent[]> {
    if (ids.length === 0) return [];
    const { rows } = await this.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM events e LEFT JOIN messages m ON m.id = e.id WHERE e.id = ANY($1::bigint[]) ORDER BY e.id`,
      [ids],
    );
    return rows.map((row) => storedEventOf(cellsOfRow(row)));
  }

  async eventsBetween(afterId: EventId, untilId: EventId, limit: number): Promise<LoggedEvent[]> {
    const { rows } = await this.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM events e LEFT JOIN messages m ON m.id = e.id
       WHERE e.id > $1 AND e.id <= $2 AND e.kind <> 'change' ORDER BY e.id LIMIT $3`,
      [afterId, untilId, limit],
    );
    return rows.map(eventOfRow);
  }

  /**
   * The greatest committed id, even when pruning removed it. Not the sequence's last value: that
   * counts ids taken by batches still in flight or rolled back.
   */
  async lastEventId(): Promise<EventId> {
    const { rows } = await this.query<{ id: number }>('SELECT greatest((SELECT max(id) FROM events), pruned_through) AS id FROM event_log_head');
    return rows[0]?.id ?? 0;
  }

  async findByIdempotencyKey(key: string, since: number): Promise<LoggedNotification | undefined> {
    const { rows } = await this.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM events e LEFT JOIN messages m ON m.id = e.id WHERE e.idempotency_key = $1 AND e.created_at >= $2`,
      [key, since],
    );
    const event = rows[0] && eventOfRow(rows[0]);
    return event?.kind === 'notify' ? event : undefined;
  }

  async pruneEvents(before: number, keyedBefore: number, limit: number): Promise<number> {
    const { rows } = await this.query<{ removed: number }>(PRUNE, [before, keyedBefore, limit]);
    return rows[0]!.removed;
  }

  // chat

  async history(channel: ConversationName, before: EventId | undefined, limit: number): Promise<ChatMessage[]> {
    const { rows } = await this.query<MessageRow>(
      `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE channel = $1 AND id < $2 ORDER BY id DESC LIMIT $3`,
      [channel, before ?? Number.MAX_SAFE_INTEGER, limit],
    );
    return rows.reverse().map(messageOfRow);
  }

  async findMessage(id: EventId): Promise<ChatMessage | undefined> {
    const { rows } = await this.query<MessageRow>(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE id = $1`, [id]);
    return rows[0] && messageOfRow(rows[0]);
  }

  async profilesOf(userIds: readonly UserId[]): Promise<Map<UserId, Profile>> {
    const { rows } = await this.query<{ user_id: string; name: string | null; avatar: string | null }>('SELECT user_id, name, avatar FROM profiles WHERE user_id = ANY($1::text[])', [userIds]);
    return new Map(rows.map((row) => [row.user_id, { name: row.name, avatar: row.avatar }]));
  }

  async setProfile(userId: UserId, change: ProfileChange): Promise<Profile> {
    const { rows } = await this.query<{ name: string | null; avatar: string | null }>(
      `INSERT INTO profiles (user_id, name, avatar) VALUES ($1, $2, $3)
       ON CONFLICT (user_id) DO UPDATE SET name = CASE WHEN $4 THEN excluded.name ELSE profiles.name END,
         avatar = CASE WHEN $5 THEN excluded.avatar ELSE profiles.avatar END
       RETURNING name, avatar`,
      [userId, change.name ?? null, change.avatar ?? null, change.name !== undefined, change.avatar !== undefined],
    );
    return { name: rows[0]!.name, avatar: rows[0]!.avatar };
  }

  async labelsOf(channels: readonly ChannelName[]): Promise<Map<ChannelName, string>> {
    const { rows } = await this.query<{ channel: string; label: string }>('SELECT channel, label FROM channel_labels WHERE channel = ANY($1::text[])', [channels]);
    return new Map(rows.map((row) => [row.channel, row.label]));
  }

  async setLabels(labels: readonly ChannelLabel[], source: LabelSource): Promise<void> {
    if (labels.length === 0) return;
    // in key order, so that two transactions setting the same labels cannot deadlock
    const sorted = [...labels].sort((a, b) => (a.channel < b.channel ? -1 : a.channel > b.channel ? 1 : 0));
    await this.query(
      `INSERT INTO channel_labels (channel, label, source)
       SELECT c, l, $3 FROM unnest($1::text[], $2::text[]) AS t(c, l)
       ON CONFLICT (channel) DO UPDATE SET label = excluded.label, source = excluded.source
       WHERE excluded.source = 'put' OR channel_labels.source = 'document'`,
      [sorted.map((l) => l.channel), sorted.map((l) => l.label), source],
    );
  }

  async deleteMessage(id: EventId, at: number): Promise<ChatMessage | undefined> {
    return this.transaction(async (query) => {
      const deleted = await query("UPDATE messages SET body = '', deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL", [id, at]);
      if (deleted.rowCount === 1) await query('DELETE FROM event_targets WHERE event_id = $1', [id]);
      const { rows } = await query<MessageRow>(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE id = $1`, [id]);
      return rows[0] && messageOfRow(rows[0]);
    });
  }

  async privateConversationsOf(userId: UserId, limit: number): Promise<ConversationName[]> {
    const { rows } = await this.query<{ channel: string }>('SELECT channel FROM dm_conversations WHERE user_id = $1 ORDER BY channel LIMIT $2', [
      userId,
      limit,
    ]);
    return rows.map((r) => r.channel);
  }

  async advanceReadPosition(p: ReadPosition): Promise<boolean> {
    const { rowCount } = await this.query(
      `INSERT INTO read_positions (user_id, channel, message_id, read_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (user_id, channel) DO UPDATE SET message_id = excluded.message_id, read_at = excluded.read_at
       WHERE excluded.message_id > read_positions.message_id`,
      [p.userId, p.channel, p.messageId, p.readAt],
    );
    return rowCount === 1;
  }

  async readPositions(channel: ConversationName, limit: number): Promise<ReadPosition[]> {
    const { rows } = await this.query<{ user_id: string; channel: string; message_id: number; read_at: number }>(
      'SELECT user_id, channel, message_id, read_at FROM read_positions WHERE channel = $1 ORDER BY message_id DESC, user_id DESC LIMIT $2',
      [channel, limit],
    );
    return rows.map((r) => ({ userId: r.user_id, channel: r.channel, messageId: r.message_id, readAt: r.read_at }));
  }

  /** One statement: each conversation's count is a range of messages_by_channel that stops at the cap. */
  async unreadCounts(userId: UserId, channels: readonly ChannelName[], cap: number): Promise<Record<ConversationName, number>> {
    const { rows } = await this.query<{ channel: string; unread: number }>(
      `SELECT c.channel, (
         SELECT count(*) FROM (
           SELECT 1 FROM messages m
           WHERE m.channel = c.channel AND m.sender <> $1 AND m.deleted_at IS NULL
             AND m.id > coalesce((SELECT r.message_id FROM read_positions r WHERE r.user_id = $1 AND r.channel = c.channel), 0)
           ORDER BY m.id LIMIT $3
         ) counted
       ) AS unread
       FROM (
         SELECT g.channel, g.position FROM unnest($2::text[]) WITH ORDINALITY AS g(channel, position)
         UNION ALL
         SELECT d.channel, NULL FROM dm_conversations d WHERE d.user_id = $1
       ) c
       ORDER BY c.position NULLS LAST, c.channel`,
      [userId, channels, cap],
    );
    const counts: Record<ConversationName, number> = {};
    for (const row of rows) counts[row.channel] = row.unread;
    return counts;
  }

  // webhooks (contract §10); on many nodes each operator change is logged, so every node reloads them

  async createWebhook(webhook: NewWebhook): Promise<WebhookEndpoint> {
    return this.transaction(async (query) => {
      const { rows } = await query<WebhookRow>(
        `INSERT INTO webhooks (id, url, events, channels, secret, created_at, cursor)
         VALUES ($1, $2, $3, $4, $5, $6, (${HEAD_SQL}))
         RETURNING ${WEBHOOK_COLUMNS}`,
        [webhook.id, webhook.url, JSON.stringify(webhook.events), webhook.channels && JSON.stringify(webhook.channels), webhook.secret, webhook.createdAt],
      );
      if (this.shared) await this.logChanges(query, [{ type: 'webhooks' }]);
      return webhookOfRow(rows[0]!);
    }, `BEGIN; SELECT ${lockSql('eventLog')}`);
  }

  async listWebhooks(): Promise<WebhookEndpoint[]> {
    const { rows } = await this.query<WebhookRow>(`SELECT ${WEBHOOK_COLUMNS} FROM webhooks ORDER BY created_at, id`);
    return rows.map(webhookOfRow);
  }

  async findWebhook(id: string): Promise<WebhookEndpoint | undefined> {
    const { rows } = await this.query<WebhookRow>(`SELECT ${WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1`, [id]);
    return rows[0] && webhookOfRow(rows[0]);
  }

  async updateWebhook(id: string, change: WebhookChange): Promise<WebhookEndpoint | undefined> {
    return this.transaction(async (query) => {
      const { rows } = await query<WebhookRow>(
        `UPDATE webhooks SET
           url = coalesce($2, url),
           events = coalesce($3, events),
           channels = CASE WHEN $4 THEN $5 ELSE channels END,
           disabled = coalesce($6, disabled),
           previous_secret = CASE WHEN $7::text IS NULL THEN previous_secret ELSE secret END,
           previous_secret_until = CASE WHEN $7::text IS NULL THEN previous_secret_until ELSE $8 END,
           secret = coalesce($7, secret),
           cursor = CASE WHEN $9 THEN (${HEAD_SQL}) ELSE cursor END,
           failing_since = CASE WHEN $9 THEN NULL ELSE failing_since END
         WHERE id = $1
         RETURNING ${WEBHOOK_COLUMNS}`,
        [
          id,
          change.url ?? null,
          change.events ? JSON.stringify(change.events) : null,
          change.channels !== undefined,
          change.channels ? JSON.stringify(change.channels) : null,
          change.disabled ?? null,
          change.rotate?.secret ?? null,
          change.rotate?.previousUntil ?? null,
          change.resumeAtHead === true,
        ],
      );
      if (rows[0] && this.shared) await this.logChanges(query, [{ type: 'webhooks' }]);
      return rows[0] && webhookOfRow(rows[0]);
    }, `BEGIN; SELECT ${lockSql('eventLog')}`);
  }

  async deleteWebhook(id: string): Promise<boolean> {
    return this.transaction(async (query) => {
      const { rowCount } = await query('DELETE FROM webhooks WHERE id = $1', [id]);
      if (rowCount && this.shared) await this.logChanges(query, [{ type: 'webhooks' }]);
      return Boolean(rowCount);
    }, this.shared ? `BEGIN; SELECT ${lockSql('eventLog')}` : 'BEGIN');
  }

  async claimWebhooks(owner: string, now: number, until: number, takeover: boolean): Promise<WebhookEndpoint[]> {
    const { rows } = await this.query<WebhookRow>(
      `UPDATE webhooks SET lease_owner = $1, lease_until = $3
       WHERE NOT disabled AND ($4 OR lease_owner IS NULL OR lease_owner = $1 OR lease_until < $2)
       RETURNING ${WEBHOOK_COLUMNS}`,
      [owner, now, until, takeover],
    );
    return rows.map(webhookOfRow).sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
  }

  async releaseWebhooks(owner: string): Promise<void> {
    await this.query('UPDATE webhooks SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1', [owner]);
  }

  async saveWebhookProgress(id: string, owner: string, progress: WebhookProgress): Promise<boolean> {
    const { rowCount } = await this.query(
      `UPDATE webhooks SET cursor = greatest(cursor, $3), failing_since = $4, last_error = $5, last_error_at = $6
       WHERE id = $1 AND lease_owner = $2 AND NOT disabled`,
      [id, owner, progress.cursor, progress.failingSince, progress.lastError, progress.lastErrorAt],
    );
    return Boolean(rowCount);
  }

  // connections

  /** A statement on any pooled connection. */
  private query: Query = async (sql, params = []) => {
    try {
      return decodeResult(await this.pool.query(sql, params.map(encodeParam)));
    } catch (error) {
      return unavailableIfDisconnected(error);
    }
  };

  /** Holds one connection for `work`; a connection that broke meanwhile is discarded, not reused. */
  private async withClient<T>(work: (client: pg.PoolClient, discard: (error: Error) => void) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      return unavailableIfDisconnected(error);
    }
    let broken: Error | undefined;
    // the pool listens only to idle connections; one held here may break between two statements
    const onError = (error: Error) => (broken ??= error);
    client.on('error', onError);
    try {
      return await work(client, onError);
    } catch (error) {
      if (isConnectionError(error)) broken ??= error as Error;
      return unavailableIfDisconnected(error);
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  /** Runs `work` in one transaction, opened by `begin` (which may also take advisory locks). */
  private transaction<T>(work: (query: Query) => Promise<T>, begin = 'BEGIN'): Promise<T> {
    return this.withClient(async (client, discard) => {
      const query: Query = async (sql, params = []) => decodeResult(await client.query(sql, params.map(encodeParam)));
      await client.query(begin);
      try {
        const result = await work(query);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        // a connection left inside a transaction must never serve another request
        await client.query('ROLLBACK').catch(discard);
        throw error;
      }
    });
  }
}

function decodeResult<R extends pg.QueryResultRow>(result: pg.QueryResult<R>): pg.QueryResult<R> {
  for (const row of result.rows) decodeRow(row);
  return result;
}

/** The id of the last entry of the log, pruned or not. */
const HEAD_SQL = 'SELECT greatest((SELECT max(id) FROM events), pruned_through) FROM event_log_head';

/** The columns of INSERT_BATCH, one array per column. */
function batchColumns(events: readonly LoggedEvent[]): unknown[][] {
  const columns: unknown[][] = Array.from({ length: 19 }, () => []);
  const push = (from: number, ...values: unknown[]) => values.forEach((value, i) => columns[from + i]!.push(value));
  for (const event of events) {
    if (event.kind === 'notify') {
      push(0, event.id, 'notify', event.createdAt, event.event, JSON.stringify(event.attributes), event.target.mode, JSON.stringify(event.target.names), event.add.join(','), event.idempotencyKey ?? null);
    } else {
      push(0, event.id, 'chat', event.createdAt, null, offlineJson(event), null, null, null, null);
      push(9, event.id, event.channel, event.from, event.body, event.clientId, event.createdAt);
      for (const member of dmParticipants(event.channel) ?? []) push(17, member, event.channel);
    }
    for (const room of new Set(roomsOf(event))) push(15, room, event.id);
  }
  return columns;
}

function keyOfRow(r: { id: string; secret: string; created_at: number; expires_at: number | null }): SigningKey {
  return { id: r.id, secret: r.secret, createdAt: r.created_at, expiresAt: r.expires_at };
}

/** The idempotency key of `keyed` whose unique index `error` is a violation of, if it is one. */
function takenKey(error: unknown, keyed: readonly { idempotencyKey: string }[]): string | undefined {
  const e = error as { code?: string; constraint?: string; detail?: string };
  if (e.code !== '23505' || e.constraint !== 'events_idempotency_key_key') return undefined;
  return keyed.find((k) => e.detail?.includes(k.idempotencyKey))?.idempotencyKey ?? keyed[0]?.idempotencyKey;
}

/** Rows of changed pairs as the store contract returns them: users and channels in the change's order. */
function pairsInOrder(rows: readonly { user_id: string; channel: string }[], users: readonly UserId[], channels: readonly ChannelName[]): ChangedPairs {
  if (rows.length === 0) return new Map();
  const changed = new Map<UserId, Set<ChannelName>>();
  for (const { user_id, channel } of rows) {
    let mine = changed.get(user_id);
    if (!mine) changed.set(user_id, (mine = new Set()));
    mine.add(channel);
  }
  const ordered = new Map<UserId, ChannelName[]>();
  for (const user of users) {
    const mine = changed.get(user);
    if (mine) ordered.set(user, mine.size === channels.length ? [...channels] : channels.filter((channel) => mine.has(channel)));
  }
  return ordered;
}
