-- Timeline entries by kind were read only to count assignments, which `lead_loads` keeps
-- now (0006): the index cost every new entry a write and served nothing.
DROP INDEX lead_events_by_kind;

-- The CRM worker asks for due entries of the tenants that have a CRM webhook. Keyed by
-- time alone, the index made it step over every undelivered entry of the tenants that
-- have none (they stay pending, to go out if a webhook is set later), every second;
-- keyed by tenant first, it reads only what it can send.
DROP INDEX lead_events_crm_due;
CREATE INDEX lead_events_crm_due ON lead_events (tenant, crm_next_at, id)
WHERE crm_status IN ('pending', 'failed');
