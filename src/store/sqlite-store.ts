/**
 * The embedded store: better-sqlite3 in WAL mode with `synchronous = FULL`, so a committed
 * transaction survives a crash or power loss. The event log amortises the fsync by appending in
 * batches (see event-log.ts), not by weakening the pragma.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { SigningKey } from '../auth/key-ring.js';
import { roomsOf } from '../channels/delivery-plan.js';
import { dmParticipants, type ChannelName, type RoomName, type UserId } from '../channels/names.js';
import type { Role } from '../auth/tokens.js';
import { SQLITE_MIGRATIONS } from './sqlite-migrations.js';
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
import { IDEMPOTENCY_WINDOW_MS, LAST_CHARACTER } from './store.js';
import { ACCOUNT_COLUMNS, accountOfRow, type AccountRow } from './account-rows.js';
import { WEBHOOK_COLUMNS, webhookOfRow, type WebhookRow } from './webhook-rows.js';
import { offlineJson, EVENT_COLUMNS, MESSAGE_COLUMNS, eventOfRow, messageOfRow, storedEventOf, type EventCells, type EventRow, type MessageRow } from './event-rows.js';

export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private statements?: ReturnType<SqliteStore['prepare']>;

  /** @param location a file path or `:memory:` */
  constructor(location: string) {
    if (location !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(location)), { recursive: true });
    this.db = new Database(location);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('temp_store = MEMORY');
  }

  /** Statements are prepared on first use, after migrate() has made the tables. */
  private get sql(): ReturnType<SqliteStore['prepare']> {
    return (this.statements ??= this.prepare());
  }

  async migrate(): Promise<void> {
    this.db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
    const applied = new Set(this.db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[]);
    for (const [index, migration] of SQLITE_MIGRATIONS.entries()) {
      const version = index + 1;
      if (applied.has(version)) continue;
      this.db.transaction(() => {
        this.db.exec(migration);
        this.db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(version, Date.now());
      })();
    }
  }

  async ping(): Promise<void> {
    this.db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  private prepare() {
    const db = this.db;
    return {
      insertAccount: db.prepare('INSERT OR IGNORE INTO accounts (username, password_hash, role, created_at) VALUES (?, ?, ?, ?)'),
      updateAccount: db.prepare('UPDATE accounts SET password_hash = ?, role = ? WHERE lower(username) = lower(?)'),
      findAccount: db.prepare(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE lower(username) = lower(?)`),
      listAccounts: db.prepare(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE username > ? ORDER BY username LIMIT ?`),
      changeAccount: db.prepare(
        `UPDATE accounts SET role = coalesce(@role, role), disabled = coalesce(@disabled, disabled),
           password_hash = coalesce(@passwordHash, password_hash), token_version = token_version + 1
         WHERE lower(username) = lower(@username)`,
      ),
      accountStates: db.prepare('SELECT username, disabled, token_version FROM accounts WHERE disabled = 1 OR token_version > 0'),
      listKeys: db.prepare('SELECT id, secret, created_at, expires_at FROM signing_keys'),
      saveKey: db.prepare(
        `INSERT INTO signing_keys (id, secret, created_at, expires_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at`,
      ),
      subscribe: db.prepare('INSERT OR IGNORE INTO subscriptions (user_id, channel, created_at) VALUES (?, ?, ?)'),
      unsubscribe: db.prepare('DELETE FROM subscriptions WHERE user_id = ? AND channel = ?'),
      subscribersOfAny: db.prepare(
        'SELECT DISTINCT user_id FROM subscriptions WHERE channel IN (SELECT value FROM json_each(?)) ORDER BY user_id',
      ),
      allChannelsOf: db.prepare('SELECT channel FROM subscriptions WHERE user_id = ? ORDER BY channel'),
      channelsOf: db.prepare('SELECT channel FROM subscriptions WHERE user_id = ? AND channel > ? ORDER BY channel LIMIT ?'),
      subscribersOf: db.prepare('SELECT user_id FROM subscriptions WHERE channel = ? AND user_id > ? ORDER BY user_id LIMIT ?'),
      isSubscribed: db.prepare('SELECT 1 FROM subscriptions WHERE user_id = ? AND channel = ?'),
      countSubscribers: db.prepare('SELECT COUNT(*) FROM subscriptions WHERE channel = ?').pluck(),
      // the range keeps to the channel index; substr makes the prefix exact
      listChannels: db.prepare(
        `SELECT channel, COUNT(*) AS subscribers FROM subscriptions
         WHERE channel > @after AND channel >= @prefix AND channel < @upper AND substr(channel, 1, length(@prefix)) = @prefix
         GROUP BY channel ORDER BY channel LIMIT @size`,
      ),
      insertEvent: db.prepare(
        `INSERT INTO events (kind, created_at, event, attributes, mode, targets, add_flags, idempotency_key)
         VALUES (@kind, @createdAt, @event, @attributes, @mode, @targets, @addFlags, @idempotencyKey)`,
      ),
      // frees a key whose 24 hours are over for a new request; a key still honoured is never taken
      releaseKey: db.prepare('UPDATE events SET idempotency_key = NULL WHERE idempotency_key = ? AND created_at < ?'),
      insertMessage: db.prepare(
        `INSERT INTO messages (id, channel, sender, body, client_id, created_at, member_a, member_b)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      insertTarget: db.prepare('INSERT OR IGNORE INTO event_targets (room, event_id) VALUES (?, ?)'),
      insertDm: db.prepare('INSERT OR IGNORE INTO dm_conversations (user_id, channel) VALUES (?, ?)'),
      eventIdsFor: db
        .prepare('SELECT event_id FROM event_targets WHERE room = ? AND event_id > ? AND event_id <= ? ORDER BY event_id LIMIT ?')
        .pluck(),
      eventsByIds: db
        .prepare(
          `SELECT ${EVENT_COLUMNS} FROM events e LEFT JOIN messages m ON m.id = e.id
           WHERE e.id IN (SELECT value FROM json_each(?)) ORDER BY e.id`,
        )
        .raw(),
      eventsBetween: db.prepare(
        `SELECT ${EVENT_COLUMNS} FROM events e LEFT JOIN messages m ON m.id = e.id
         WHERE e.id > ? AND e.id <= ? ORDER BY e.id LIMIT ?`,
      ),
      lastEventId: db.prepare(`SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = 'events'`).pluck(),
      findByKey: db.prepare(
        `SELECT ${EVENT_COLUMNS} FROM events e LEFT JOIN messages m ON m.id = e.id
         WHERE e.idempotency_key = ? AND e.created_at >= ?`,
      ),
      // walks events_by_time from the oldest: a tick reads what it deletes, not the whole table
      prune: db.prepare(
        `DELETE FROM events WHERE id IN (SELECT id FROM events INDEXED BY events_by_time WHERE created_at < ?
         AND (idempotency_key IS NULL OR created_at < ?) ORDER BY created_at LIMIT ?)`,
      ),
      history: db.prepare(
        `SELECT * FROM (SELECT ${MESSAGE_COLUMNS} FROM messages
         WHERE channel = ? AND id < ? ORDER BY id DESC LIMIT ?) ORDER BY id`,
      ),
      findMessage: db.prepare(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE id = ?`),
      profilesOf: db.prepare('SELECT user_id, name, avatar FROM profiles WHERE user_id IN (SELECT value FROM json_each(?))'),
      setProfile: db.prepare(
        `INSERT INTO profiles (user_id, name, avatar) VALUES (@userId, @name, @avatar)
         ON CONFLICT (user_id) DO UPDATE SET name = CASE WHEN @setName THEN excluded.name ELSE name END,
           avatar = CASE WHEN @setAvatar THEN excluded.avatar ELSE avatar END`,
      ),
      profile: db.prepare('SELECT name, avatar FROM profiles WHERE user_id = ?'),
      labelsOf: db.prepare('SELECT channel, label FROM channel_labels WHERE channel IN (SELECT value FROM json_each(?))'),
      setLabel: db.prepare(
        `INSERT INTO channel_labels (channel, label, source) VALUES (@channel, @label, @source)
         ON CONFLICT (channel) DO UPDATE SET label = excluded.label, source = excluded.source
         WHERE excluded.source = 'put' OR channel_labels.source = 'document'`,
      ),
      deleteMessage: db.prepare("UPDATE messages SET body = '', deleted_at = ? WHERE id = ? AND deleted_at IS NULL"),
      unindexEvent: db.prepare('DELETE FROM event_targets WHERE event_id = ?'),
      advanceRead: db.prepare(
        `INSERT INTO read_positions (user_id, channel, message_id, read_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (user_id, channel) DO UPDATE SET message_id = excluded.message_id, read_at = excluded.read_at
         WHERE excluded.message_id > read_positions.message_id`,
      ),
      readPositions: db.prepare(
        'SELECT user_id, channel, message_id, read_at FROM read_positions WHERE channel = ? ORDER BY message_id DESC, user_id DESC LIMIT ?',
      ),
      readPosition: db.prepare('SELECT message_id FROM read_positions WHERE user_id = ? AND channel = ?').pluck(),
      dmChannelsOf: db.prepare('SELECT channel FROM dm_conversations WHERE user_id = ?').pluck(),
      privateConversationsOf: db.prepare('SELECT channel FROM dm_conversations WHERE user_id = ? ORDER BY channel LIMIT ?').pluck(),
      // a range of messages_by_channel that stops at the cap, however long the conversation
      unread: db
        .prepare('SELECT COUNT(*) FROM (SELECT 1 FROM messages WHERE channel = ? AND id > ? AND sender <> ? AND deleted_at IS NULL ORDER BY id LIMIT ?)')
        .pluck(),
    };
  }

  async createAccount(account: Account): Promise<boolean> {
    const result = this.sql.insertAccount.run(account.username, account.passwordHash, account.role, account.createdAt);
    return result.changes === 1;
  }

  async findAccount(username: string): Promise<Account | undefined> {
    const row = this.sql.findAccount.get(username) as AccountRow | undefined;
    return row && accountOfRow(row);
  }

  async listAccounts(page: PageRequest): Promise<Account[]> {
    return (this.sql.listAccounts.all(page.after ?? '', page.size) as AccountRow[]).map(accountOfRow);
  }

  async changeAccount(username: string, change: AccountChange): Promise<Account | undefined> {
    const { changes } = this.sql.changeAccount.run({
      username,
      role: change.role ?? null,
      disabled: change.disabled === undefined ? null : Number(change.disabled),
      passwordHash: change.passwordHash ?? null,
    });
    return changes === 0 ? undefined : this.findAccount(username);
  }

  async accountStates(): Promise<AccountState[]> {
    const rows = this.sql.accountStates.all() as { username: string; disabled: number; token_version: number }[];
    return rows.map((row) => ({ username: row.username, disabled: row.disabled === 1, tokenVersion: row.token_version }));
  }

  async upsertAccount(account: Account): Promise<void> {
    this.db.transaction(() => {
      if (this.sql.updateAccount.run(account.passwordHash, account.role, account.username).changes === 0) {
        this.sql.insertAccount.run(account.username, account.passwordHash, account.role, account.createdAt);
      }
    })();
  }

  async listKeys(): Promise<SigningKey[]> {
    const rows = this.sql.listKeys.all() as { id: string; secret: string; created_at: number; expires_at: number | null }[];
    return rows.map((r) => ({ id: r.id, secret: r.secret, createdAt: r.created_at, expiresAt: r.expires_at }));
  }

  async saveKeys(keys: readonly SigningKey[]): Promise<void> {
    this.db.transaction(() => {
      for (const k of keys) this.sql.saveKey.run(k.id, k.secret, k.createdAt, k.expiresAt);
    })();
  }

  async seedKeyRing(key: SigningKey): Promise<SigningKey[]> {
    // IMMEDIATE: the write lock is taken before the ring is read
    this.db.transaction(() => {
      if (this.sql.listKeys.all().length === 0) this.sql.saveKey.run(key.id, key.secret, key.createdAt, key.expiresAt);
    }).immediate();
    return this.listKeys();
  }

  async changeSubscriptions(changes: readonly SubscriptionChange[]): Promise<ChangedPairs[]> {
    const now = Date.now();
    return this.db.transaction(() =>
      changes.map(({ action, users, channels }) => {
        const changed = new Map<UserId, ChannelName[]>();
        for (const user of users) {
          const mine: ChannelName[] = [];
          for (const channel of channels) {
            const result = action === 'subscribe' ? this.sql.subscribe.run(user, channel, now) : this.sql.unsubscribe.run(user, channel);
            if (result.changes > 0) mine.push(channel);
          }
          if (mine.length > 0) changed.set(user, mine);
        }
        return changed;
      }),
    )();
  }

  async subscribersOfAny(channels: readonly ChannelName[]): Promise<UserId[]> {
    return this.sql.subscribersOfAny.pluck().all(JSON.stringify(channels)) as UserId[];
  }

  async channelsOf(userId: UserId, page?: PageRequest): Promise<ChannelName[]> {
    if (!page) return this.sql.allChannelsOf.pluck().all(userId) as ChannelName[];
    return this.sql.channelsOf.pluck().all(userId, page.after ?? '', page.size) as ChannelName[];
  }

  async subscribersOf(channel: ChannelName, page: PageRequest): Promise<UserId[]> {
    return this.sql.subscribersOf.pluck().all(channel, page.after ?? '', page.size) as UserId[];
  }

  async isSubscribed(userId: UserId, channel: ChannelName): Promise<boolean> {
    return this.sql.isSubscribed.get(userId, channel) !== undefined;
  }

  async countSubscribers(channels: readonly ChannelName[]): Promise<Map<ChannelName, number>> {
    return new Map(channels.map((channel) => [channel, this.sql.countSubscribers.get(channel) as number]));
  }

  async listChannels({ prefix = '', after = '', size }: ChannelQuery): Promise<ChannelCount[]> {
    return this.sql.listChannels.all({ prefix, after, upper: prefix + LAST_CHARACTER, size }) as ChannelCount[];
  }

  async appendEvents(events: readonly NewEvent[]): Promise<LoggedEvent[]> {
    return this.db.transaction(() =>
      events.map((event): LoggedEvent => {
        const logged = this.insertEvent(event);
        for (const room of new Set(roomsOf(event))) this.sql.insertTarget.run(room, logged.id);
        return logged;
      }),
    )();
  }

  /** Inserts one event (and, for chat, its message) inside the caller's transaction. */
  private insertEvent(event: NewEvent): LoggedEvent {
    if (event.kind === 'notify') {
      if (event.idempotencyKey !== undefined) this.sql.releaseKey.run(event.idempotencyKey, event.createdAt - IDEMPOTENCY_WINDOW_MS);
      const { lastInsertRowid } = this.sql.insertEvent.run({
        kind: 'notify',
        createdAt: event.createdAt,
        event: event.event,
        attributes: JSON.stringify(event.attributes),
        mode: event.target.mode,
        targets: JSON.stringify(event.target.names),
        addFlags: event.add.join(','),
        idempotencyKey: event.idempotencyKey ?? null,
      });
      return { ...event, id: Number(lastInsertRowid) };
    }
    const { lastInsertRowid } = this.sql.insertEvent.run({
      kind: 'chat',
      createdAt: event.createdAt,
      event: null,
      attributes: offlineJson(event),
      mode: null,
      targets: null,
      addFlags: null,
      idempotencyKey: null,
    });
    const id = Number(lastInsertRowid);
    const members = dmParticipants(event.channel);
    this.sql.insertMessage.run(id, event.channel, event.from, event.body, event.clientId, event.createdAt, members?.[0] ?? null, members?.[1] ?? null);
    for (const member of members ?? []) this.sql.insertDm.run(member, event.channel);
    return { ...event, id };
  }

  async eventIdsFor(cursors: readonly RoomCursor[], untilId: EventId, limit: number): Promise<Map<RoomName, EventId[]>> {
    const ids = new Map<RoomName, EventId[]>();
    for (const { room, afterId } of cursors) ids.set(room, this.sql.eventIdsFor.all(room, afterId, untilId, limit) as EventId[]);
    return ids;
  }

  async eventsByIds(ids: readonly EventId[]): Promise<StoredEvent[]> {
    if (ids.length === 0) return [];
    return (this.sql.eventsByIds.all(JSON.stringify(ids)) as EventCells[]).map(storedEventOf);
  }

  async eventsBetween(afterId: EventId, untilId: EventId, limit: number): Promise<LoggedEvent[]> {
    return (this.sql.eventsBetween.all(afterId, untilId, limit) as EventRow[]).map(eventOfRow);
  }

  async lastEventId(): Promise<EventId> {
    return Number(this.sql.lastEventId.get());
  }

  async findByIdempotencyKey(key: string, since: number): Promise<LoggedNotification | undefined> {
    const row = this.sql.findByKey.get(key, since) as EventRow | undefined;
    const event = row && eventOfRow(row);
    return event?.kind === 'notify' ? event : undefined;
  }

  async pruneEvents(before: number, keyedBefore: number, limit: number): Promise<number> {
    return this.sql.prune.run(before, keyedBefore, limit).changes;
  }

  async history(channel: string, before: EventId | undefined, limit: number): Promise<ChatMessage[]> {
    const rows = this.sql.history.all(channel, before ?? Number.MAX_SAFE_INTEGER, limit) as MessageRow[];
    return rows.map(messageOfRow);
  }

  async findMessage(id: EventId): Promise<ChatMessage | undefined> {
    const row = this.sql.findMessage.get(id) as MessageRow | undefined;
    return row && messageOfRow(row);
  }

  async profilesOf(userIds: readonly UserId[]): Promise<Map<UserId, Profile>> {
    const rows = this.sql.profilesOf.all(JSON.stringify(userIds)) as { user_id: string; name: string | null; avatar: string | null }[];
    return new Map(rows.map((row) => [row.user_id, { name: row.name, avatar: row.avatar }]));
  }

  async setProfile(userId: UserId, change: ProfileChange): Promise<Profile> {
    return this.db.transaction(() => {
      this.sql.setProfile.run({ userId, name: change.name ?? null, avatar: change.avatar ?? null, setName: Number(change.name !== undefined), setAvatar: Number(change.avatar !== undefined) });
      return this.sql.profile.get(userId) as Profile;
    })();
  }

  async labelsOf(channels: readonly ChannelName[]): Promise<Map<ChannelName, string>> {
    const rows = this.sql.labelsOf.all(JSON.stringify(channels)) as { channel: string; label: string }[];
    return new Map(rows.map((row) => [row.channel, row.label]));
  }

  async setLabels(labels: readonly ChannelLabel[], source: LabelSource): Promise<void> {
    this.db.transaction(() => {
      for (const { channel, label } of labels) this.sql.setLabel.run({ channel, label, source });
    })();
  }

  async deleteMessage(id: EventId, at: number): Promise<ChatMessage | undefined> {
    return this.db.transaction(() => {
      if (this.sql.deleteMessage.run(at, id).changes === 1) this.sql.unindexEvent.run(id);
      const row = this.sql.findMessage.get(id) as MessageRow | undefined;
      return row && messageOfRow(row);
    })();
  }

  async privateConversationsOf(userId: UserId, limit: number): Promise<string[]> {
    return this.sql.privateConversationsOf.all(userId, limit) as string[];
  }

  async advanceReadPosition(p: ReadPosition): Promise<boolean> {
    return this.sql.advanceRead.run(p.userId, p.channel, p.messageId, p.readAt).changes === 1;
  }

  async readPositions(channel: string, limit: number): Promise<ReadPosition[]> {
    const rows = this.sql.readPositions.all(channel, limit) as { user_id: string; channel: string; message_id: number; read_at: number }[];
    return rows.map((r) => ({ userId: r.user_id, channel: r.channel, messageId: r.message_id, readAt: r.read_at }));
  }

  async unreadCounts(userId: UserId, channels: readonly ChannelName[], cap: number): Promise<Record<string, number>> {
    const counts: Record<string, number> = Object.create(null);
    const conversations = [...channels, ...(this.sql.dmChannelsOf.all(userId) as string[])];
    this.db.transaction(() => {
      for (const channel of conversations) {
        const readUpTo = (this.sql.readPosition.get(userId, channel) as number | undefined) ?? 0;
        counts[channel] = this.sql.unread.get(channel, readUpTo, userId, cap) as number;
      }
    })();
    return { ...counts };
  }

  // webhooks (contract §10)

  async createWebhook(webhook: NewWebhook): Promise<WebhookEndpoint> {
    const row = this.db
      .prepare(
        `INSERT INTO webhooks (id, url, events, channels, secret, created_at, cursor)
         VALUES (?, ?, ?, ?, ?, ?, (SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = 'events'))
         RETURNING ${WEBHOOK_COLUMNS}`,
      )
      .get(webhook.id, webhook.url, JSON.stringify(webhook.events), webhook.channels && JSON.stringify(webhook.channels), webhook.secret, webhook.createdAt) as WebhookRow;
    return webhookOfRow(row);
  }

  async listWebhooks(): Promise<WebhookEndpoint[]> {
    return (this.db.prepare(`SELECT ${WEBHOOK_COLUMNS} FROM webhooks ORDER BY created_at, id`).all() as WebhookRow[]).map(webhookOfRow);
  }

  async findWebhook(id: string): Promise<WebhookEndpoint | undefined> {
    const row = this.db.prepare(`SELECT ${WEBHOOK_COLUMNS} FROM webhooks WHERE id = ?`).get(id) as WebhookRow | undefined;
    return row && webhookOfRow(row);
  }

  async updateWebhook(id: string, change: WebhookChange): Promise<WebhookEndpoint | undefined> {
    const row = this.db
      .prepare(
        `UPDATE webhooks SET
           url = COALESCE(@url, url),
           events = COALESCE(@events, events),
           channels = CASE WHEN @setChannels THEN @channels ELSE channels END,
           disabled = COALESCE(@disabled, disabled),
           previous_secret = CASE WHEN @secret IS NULL THEN previous_secret ELSE secret END,
           previous_secret_until = CASE WHEN @secret IS NULL THEN previous_secret_until ELSE @previousUntil END,
           secret = COALESCE(@secret, secret),
           cursor = CASE WHEN @resume THEN (SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = 'events') ELSE cursor END,
           failing_since = CASE WHEN @resume THEN NULL ELSE failing_since END
         WHERE id = @id
         RETURNING ${WEBHOOK_COLUMNS}`,
      )
      .get({
        id,
        url: change.url ?? null,
        events: change.events ? JSON.stringify(change.events) : null,
        setChannels: Number(change.channels !== undefined),
        channels: change.channels ? JSON.stringify(change.channels) : null,
        disabled: change.disabled === undefined ? null : Number(change.disabled),
        secret: change.rotate?.secret ?? null,
        previousUntil: change.rotate?.previousUntil ?? null,
        resume: Number(change.resumeAtHead === true),
      }) as WebhookRow | undefined;
    return row && webhookOfRow(row);
  }

  async deleteWebhook(id: string): Promise<boolean> {
    return this.db.prepare('DELETE FROM webhooks WHERE id = ?').run(id).changes > 0;
  }

  async claimWebhooks(owner: string, now: number, until: number, takeover: boolean): Promise<WebhookEndpoint[]> {
    const rows = this.db
      .prepare(
        `UPDATE webhooks SET lease_owner = @owner, lease_until = @until
         WHERE NOT disabled AND (@takeover OR lease_owner IS NULL OR lease_owner = @owner OR lease_until < @now)
         RETURNING ${WEBHOOK_COLUMNS}`,
      )
      .all({ owner, now, until, takeover: Number(takeover) }) as WebhookRow[];
    return rows.map(webhookOfRow).sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
  }

  async releaseWebhooks(owner: string): Promise<void> {
    this.db.prepare('UPDATE webhooks SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?').run(owner);
  }

  async saveWebhookProgress(id: string, owner: string, progress: WebhookProgress): Promise<boolean> {
    const { changes } = this.db
      .prepare(
        `UPDATE webhooks SET cursor = MAX(cursor, @cursor), failing_since = @failingSince, last_error = @lastError, last_error_at = @lastErrorAt
         WHERE id = @id AND lease_owner = @owner AND NOT disabled`,
      )
      .run({ id, owner, ...progress });
    return changes > 0;
  }
}
