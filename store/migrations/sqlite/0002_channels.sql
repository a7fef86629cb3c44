-- Channels (issue 3): webhook bodies we could not process, kept whole for re-driving;
-- delivery statuses found by the provider's message id; when an ad referral last came in
-- (a click-to-WhatsApp ad opens a 72-hour free entry point).
CREATE TABLE dead_letters (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    source       TEXT NOT NULL,
    tenant       TEXT,
    reason       TEXT NOT NULL,
    body         BLOB NOT NULL,
    headers      TEXT NOT NULL DEFAULT '{}',
    received_at  INTEGER NOT NULL,
    redriven_at  INTEGER
);
CREATE INDEX dead_letters_open ON dead_letters (id) WHERE redriven_at IS NULL;

CREATE INDEX messages_outbound_provider ON messages (tenant, channel, provider_id) WHERE direction = 'out';

ALTER TABLE conversations ADD COLUMN last_referral_at INTEGER;
