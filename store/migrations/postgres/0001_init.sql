-- Köprü schema (PostgreSQL). Times are unix milliseconds (BIGINT); JSON is JSONB.

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY NOT NULL,
    niche       TEXT NOT NULL,
    name        TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE contacts (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant        TEXT NOT NULL,
    channel       TEXT NOT NULL,
    handle        TEXT NOT NULL,
    name          TEXT,
    phone         TEXT,
    referral      JSONB,           -- first-touch referral (JSON), never overwritten
    opted_out_at  BIGINT,
    created_at    BIGINT NOT NULL,
    UNIQUE (tenant, channel, handle)
);

CREATE TABLE conversations (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant           TEXT NOT NULL,
    channel          TEXT NOT NULL,
    contact_id       BIGINT NOT NULL REFERENCES contacts (id),
    state            JSONB NOT NULL DEFAULT 'null',
    handoff          BOOLEAN NOT NULL DEFAULT FALSE,
    tags             JSONB NOT NULL DEFAULT '[]',
    lease_owner      TEXT,
    lease_until      BIGINT,
    created_at       BIGINT NOT NULL,
    last_inbound_at  BIGINT,
    last_message_at  BIGINT NOT NULL,
    UNIQUE (tenant, channel, contact_id)
);
CREATE INDEX conversations_by_activity ON conversations (tenant, last_message_at DESC, id DESC);

CREATE TABLE messages (
    seq              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant           TEXT NOT NULL,
    conversation_id  BIGINT NOT NULL REFERENCES conversations (id),
    channel          TEXT NOT NULL,
    direction        TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    sender           TEXT NOT NULL,
    content          JSONB NOT NULL,
    status           TEXT NOT NULL,
    provider_id      TEXT,
    error            TEXT,
    meta             JSONB NOT NULL DEFAULT '{}',
    created_at       BIGINT NOT NULL
);
-- Inbound dedupe: one customer message per (tenant, channel, provider id).
CREATE UNIQUE INDEX messages_inbound_dedupe ON messages (tenant, channel, provider_id) WHERE direction = 'in';
CREATE INDEX messages_by_conversation ON messages (conversation_id, seq);

CREATE TABLE inbox (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant           TEXT NOT NULL,
    conversation_id  BIGINT NOT NULL REFERENCES conversations (id),
    event            JSONB NOT NULL,
    dedupe_key       TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done')),
    created_at       BIGINT NOT NULL,
    UNIQUE (conversation_id, dedupe_key)
);
CREATE INDEX inbox_pending ON inbox (id) WHERE status = 'pending';
CREATE INDEX inbox_pending_by_conversation ON inbox (conversation_id, id) WHERE status = 'pending';

CREATE TABLE outbox (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant           TEXT NOT NULL,
    conversation_id  BIGINT NOT NULL REFERENCES conversations (id),
    message_seq      BIGINT NOT NULL REFERENCES messages (seq),
    channel          TEXT NOT NULL,
    recipient        TEXT NOT NULL,
    content          JSONB NOT NULL,
    idempotency_key  TEXT NOT NULL UNIQUE,
    status           TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'leased', 'sent', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    lease_owner      TEXT,
    lease_until      BIGINT,
    last_error       TEXT,
    sent_at          BIGINT,
    created_at       BIGINT NOT NULL
);
CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE status = 'queued';
CREATE INDEX outbox_leased ON outbox (lease_until, id) WHERE status = 'leased';

CREATE TABLE timers (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant           TEXT NOT NULL,
    conversation_id  BIGINT NOT NULL REFERENCES conversations (id),
    key              TEXT NOT NULL,
    due_at           BIGINT NOT NULL,
    payload          JSONB NOT NULL,
    UNIQUE (conversation_id, key)
);
CREATE INDEX timers_due ON timers (due_at, id);
