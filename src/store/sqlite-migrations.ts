/** SQLite schema migrations, applied in order; never edit one that has shipped, add another. */
export const SQLITE_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE accounts (
    username TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'service', 'user')),
    created_at INTEGER NOT NULL
  );
  CREATE TABLE signing_keys (
    id TEXT PRIMARY KEY,
    secret TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER
  );
  CREATE TABLE subscriptions (
    user_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, channel)
  ) WITHOUT ROWID;
  CREATE INDEX subscriptions_by_channel ON subscriptions (channel, user_id);

  -- AUTOINCREMENT: ids are never reused, even after pruning removed the newest rows.
  CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('notify', 'chat')),
    created_at INTEGER NOT NULL,
    event TEXT,
    attributes TEXT,
    mode TEXT,
    targets TEXT,
    add_flags TEXT,
    idempotency_key TEXT UNIQUE
  );
  CREATE INDEX events_by_time ON events (created_at);

  -- Chat history outlives the event log's retention; a message's id is its event id.
  CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    channel TEXT NOT NULL,
    sender TEXT NOT NULL,
    body TEXT NOT NULL,
    client_id TEXT,
    created_at INTEGER NOT NULL,
    member_a TEXT,
    member_b TEXT
  );
  CREATE INDEX messages_by_channel ON messages (channel, id);
  CREATE INDEX messages_by_member_a ON messages (member_a) WHERE member_a IS NOT NULL;
  CREATE INDEX messages_by_member_b ON messages (member_b) WHERE member_b IS NOT NULL;

  CREATE TABLE read_positions (
    user_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    message_id INTEGER NOT NULL,
    read_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, channel)
  ) WITHOUT ROWID;
  `,
  `
  -- Replay index: which rooms (channels, user:<id>) each logged event was addressed to, so a
  -- reconnecting socket reads only its own events instead of scanning the whole log.
  CREATE TABLE event_targets (
    room TEXT NOT NULL,
    event_id INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    PRIMARY KEY (room, event_id)
  ) WITHOUT ROWID;
  CREATE INDEX event_targets_by_event ON event_targets (event_id);
  INSERT OR IGNORE INTO event_targets (room, event_id)
    SELECT CASE WHEN e.mode = 'users' THEN 'user:' || t.value ELSE t.value END, e.id
    FROM events e, json_each(e.targets) t WHERE e.kind = 'notify';
  INSERT OR IGNORE INTO event_targets (room, event_id)
    SELECT m.channel, m.id FROM messages m JOIN events e ON e.id = m.id WHERE m.member_a IS NULL;
  INSERT OR IGNORE INTO event_targets (room, event_id)
    SELECT 'user:' || m.member_a, m.id FROM messages m JOIN events e ON e.id = m.id WHERE m.member_a IS NOT NULL;
  INSERT OR IGNORE INTO event_targets (room, event_id)
    SELECT 'user:' || m.member_b, m.id FROM messages m JOIN events e ON e.id = m.id WHERE m.member_b IS NOT NULL;
  `,
  `
  -- Usernames are unique whatever their ASCII case: ADMIN beside admin would be a look-alike.
  CREATE UNIQUE INDEX accounts_by_folded_name ON accounts (lower(username));
  -- chat:history's receipts, the most advanced first.
  CREATE INDEX read_positions_by_channel ON read_positions (channel, message_id, user_id);
  -- Each user's private conversations, so chat:unread reads them instead of every DM message.
  CREATE TABLE dm_conversations (
    user_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    PRIMARY KEY (user_id, channel)
  ) WITHOUT ROWID;
  INSERT OR IGNORE INTO dm_conversations (user_id, channel) SELECT member_a, channel FROM messages WHERE member_a IS NOT NULL;
  INSERT OR IGNORE INTO dm_conversations (user_id, channel) SELECT member_b, channel FROM messages WHERE member_b IS NOT NULL;
  DROP INDEX messages_by_member_a;
  DROP INDEX messages_by_member_b;
  `,
  `
  -- The operator console (issue 32): accounts an operator disabled, and a token version that moves
  -- on with every operator change, so that the tokens signed before it stop working.
  ALTER TABLE accounts ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE accounts ADD COLUMN token_version INTEGER NOT NULL DEFAULT 0;
  `,
  `
  -- Moderation (issue 33): a deleted message keeps its place in the history, without its body.
  ALTER TABLE messages ADD COLUMN deleted_at INTEGER;
  `,
  `
  -- Profiles and channel labels (contract §11).
  CREATE TABLE profiles (
    user_id TEXT PRIMARY KEY,
    name TEXT,
    avatar TEXT
  ) WITHOUT ROWID;
  CREATE TABLE channel_labels (
    channel TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('document', 'put'))
  ) WITHOUT ROWID;
  `,
  `
  -- Webhooks (contract §10): each endpoint's own cursor in the log, and a lease held by the node
  -- that delivers to it.
  CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    channels TEXT,
    disabled INTEGER NOT NULL DEFAULT 0,
    secret TEXT NOT NULL,
    previous_secret TEXT,
    previous_secret_until INTEGER,
    created_at INTEGER NOT NULL,
    cursor INTEGER NOT NULL,
    failing_since INTEGER,
    last_error TEXT,
    last_error_at INTEGER,
    lease_owner TEXT,
    lease_until INTEGER
  );
  `,
];
