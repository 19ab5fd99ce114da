/**
 * PostgreSQL schema migrations, applied in order (postgres-store.ts runs them under an advisory
 * lock, each in its own transaction); never edit one that has shipped, add another.
 *
 * Names and ids are `COLLATE "C"`: lists page by byte order as on SQLite, whatever the database's
 * default collation, and `lower()` folds ASCII only, so `ADMIN` and `admin` are one username but
 * `Ä` and `ä` are not.
 */
export const POSTGRES_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE accounts (
    username text COLLATE "C" PRIMARY KEY,
    password_hash text NOT NULL,
    role text NOT NULL CHECK (role IN ('admin', 'service', 'user')),
    created_at bigint NOT NULL
  );
  -- usernames are unique whatever their ASCII case: ADMIN beside admin would be a look-alike
  CREATE UNIQUE INDEX accounts_by_folded_name ON accounts (lower(username));

  CREATE TABLE signing_keys (
    id text COLLATE "C" PRIMARY KEY,
    secret text NOT NULL,
    created_at bigint NOT NULL,
    expires_at bigint
  );

  CREATE TABLE subscriptions (
    user_id text COLLATE "C" NOT NULL,
    channel text COLLATE "C" NOT NULL,
    created_at bigint NOT NULL,
    PRIMARY KEY (user_id, channel)
  );
  CREATE INDEX subscriptions_by_channel ON subscriptions (channel, user_id);

  -- Ids are taken from the sequence only while holding the log's advisory lock (see appendEvents),
  -- so they become visible in increasing order. A sequence never hands a value out twice, so ids
  -- keep increasing after pruning removed the newest rows.
  CREATE SEQUENCE event_ids AS bigint;
  CREATE TABLE events (
    id bigint PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('notify', 'chat')),
    created_at bigint NOT NULL,
    event text,
    attributes text,
    mode text,
    targets text,
    add_flags text,
    idempotency_key text COLLATE "C" UNIQUE
  );
  ALTER SEQUENCE event_ids OWNED BY events.id;
  -- pruning walks the log from its oldest entry
  CREATE INDEX events_by_time ON events (created_at);
  -- the greatest id pruning removed: the log's last id when pruning emptied it
  CREATE TABLE event_log_head (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    pruned_through bigint NOT NULL DEFAULT 0
  );
  INSERT INTO event_log_head DEFAULT VALUES;

  -- Replay index: which rooms (channels, user:<id>) each logged event was addressed to, so a
  -- reconnecting socket reads only its own events instead of scanning the whole log. Pruning
  -- deletes an event's rows here in the statement that deletes the event.
  CREATE TABLE event_targets (
    room text COLLATE "C" NOT NULL,
    event_id bigint NOT NULL,
    PRIMARY KEY (room, event_id)
  );
  CREATE INDEX event_targets_by_event ON event_targets (event_id);

  -- Chat history outlives the event log's retention; a message's id is its event id.
  CREATE TABLE messages (
    id bigint PRIMARY KEY,
    channel text COLLATE "C" NOT NULL,
    sender text COLLATE "C" NOT NULL,
    body text NOT NULL,
    client_id text,
    created_at bigint NOT NULL
  );
  CREATE INDEX messages_by_channel ON messages (channel, id);

  CREATE TABLE read_positions (
    user_id text COLLATE "C" NOT NULL,
    channel text COLLATE "C" NOT NULL,
    message_id bigint NOT NULL,
    read_at bigint NOT NULL,
    PRIMARY KEY (user_id, channel)
  );
  -- chat:history's receipts, the most advanced first
  CREATE INDEX read_positions_by_channel ON read_positions (channel, message_id, user_id);

  -- each user's private conversations, so chat:unread reads them instead of every DM message
  CREATE TABLE dm_conversations (
    user_id text COLLATE "C" NOT NULL,
    channel text COLLATE "C" NOT NULL,
    PRIMARY KEY (user_id, channel)
  );
  `,
  `
  -- Many nodes (contract §9): subscription changes and key-ring writes are entries of the log too,
  -- so that every node applies them in their place among the events.
  ALTER TABLE events DROP CONSTRAINT events_kind_check;
  ALTER TABLE events ADD CONSTRAINT events_kind_check CHECK (kind IN ('notify', 'chat', 'change'));
  `,
  `
  -- The operator console (issue 32): accounts an operator disabled, and a token version that moves
  -- on with every operator change, so that the tokens signed before it stop working.
  ALTER TABLE accounts ADD COLUMN disabled boolean NOT NULL DEFAULT false;
  ALTER TABLE accounts ADD COLUMN token_version integer NOT NULL DEFAULT 0;
  `,
  `
  -- Moderation (issue 33): a deleted message keeps its place in the history, without its body.
  ALTER TABLE messages ADD COLUMN deleted_at bigint;
  `,
  `
  -- Profiles and channel labels (contract §11).
  CREATE TABLE profiles (
    user_id text COLLATE "C" PRIMARY KEY,
    name text,
    avatar text
  );
  CREATE TABLE channel_labels (
    channel text COLLATE "C" PRIMARY KEY,
    label text NOT NULL,
    source text NOT NULL CHECK (source IN ('document', 'put'))
  );
  `,
  `
  -- Webhooks (contract §10): each endpoint's own cursor in the log, and a lease held by the node
  -- that delivers to it.
  CREATE TABLE webhooks (
    id text PRIMARY KEY,
    url text NOT NULL,
    events text NOT NULL,
    channels text,
    disabled boolean NOT NULL DEFAULT false,
    secret text NOT NULL,
    previous_secret text,
    previous_secret_until bigint,
    created_at bigint NOT NULL,
    cursor bigint NOT NULL,
    failing_since bigint,
    last_error text,
    last_error_at bigint,
    lease_owner text,
    lease_until bigint
  );
  `,
];
