-- When a send call to a provider started: a process that dies during the call leaves
-- the row leased with sending_at set, and it is not handed out again before the lease
-- (extended by the grace period) ends, giving the provider's status webhook time to
-- confirm it (WhatsApp echoes our idempotency key in biz_opaque_callback_data).
ALTER TABLE outbox ADD COLUMN sending_at INTEGER;
