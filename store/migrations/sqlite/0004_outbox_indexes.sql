-- Claiming outbound rows must not scan the whole outbox (it grows with every message):
-- the unsent rows of a set of conversations, by conversation.
CREATE INDEX outbox_unsent_by_conversation ON outbox (conversation_id, id) WHERE status IN ('queued', 'leased');
