-- Clinic (GR-3.19 appointments, GR-3.13 leads). Times are unix milliseconds.
--
-- Double booking is impossible by construction: an appointment that occupies its
-- resources (held, booked, showed) has one appointment_claims row per 5-minute cell
-- (unix ms / 300000) on its practitioner ('p:<id>') and its room ('r:<id>'); the primary
-- key lets one appointment have a cell.

CREATE TABLE leads (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant              TEXT NOT NULL,
    name                TEXT,
    phone               TEXT,
    email               TEXT,
    stage               TEXT NOT NULL,
    lost_reason         TEXT,
    score               INTEGER NOT NULL DEFAULT 0,
    score_reasons       JSONB NOT NULL DEFAULT '[]',
    assignee            TEXT,
    source              TEXT,
    language            TEXT,
    treatment           TEXT,
    value_try           BIGINT,
    first_response_due  BIGINT,
    first_response_at   BIGINT,
    sla_breached        BOOLEAN NOT NULL DEFAULT FALSE,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    last_activity_at    BIGINT NOT NULL
);
CREATE INDEX leads_by_created ON leads (tenant, created_at DESC, id DESC);
CREATE INDEX leads_by_assignee ON leads (tenant, assignee) WHERE assignee IS NOT NULL;

-- Who a lead is: a value belongs to one lead of a tenant; a second lead proving to have
-- it is merged into the first.
CREATE TABLE lead_links (
    tenant      TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('handle', 'phone', 'email')),
    value       TEXT NOT NULL,
    lead_id     BIGINT NOT NULL REFERENCES leads (id),
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant, kind, value)
);
CREATE INDEX lead_links_by_lead ON lead_links (lead_id);

CREATE TABLE lead_conversations (
    conversation_id  BIGINT PRIMARY KEY REFERENCES conversations (id),
    tenant           TEXT NOT NULL,
    lead_id          BIGINT NOT NULL REFERENCES leads (id),
    created_at       BIGINT NOT NULL
);
CREATE INDEX lead_conversations_by_lead ON lead_conversations (lead_id);

-- The timeline, and the CRM webhook's outbox: pending → sent, or failed (retried at
-- crm_next_at) → … → gave_up.
CREATE TABLE lead_events (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant           TEXT NOT NULL,
    lead_id          BIGINT NOT NULL REFERENCES leads (id),
    at               BIGINT NOT NULL,
    kind             TEXT NOT NULL,
    actor            TEXT NOT NULL,
    data             JSONB NOT NULL DEFAULT '{}',
    crm_status       TEXT NOT NULL DEFAULT 'pending'
                     CHECK (crm_status IN ('pending', 'sent', 'failed', 'gave_up')),
    crm_attempts     INTEGER NOT NULL DEFAULT 0,
    crm_next_at      BIGINT NOT NULL,
    crm_error        TEXT,
    crm_lease_until  BIGINT
);
CREATE INDEX lead_events_by_lead ON lead_events (lead_id, at, id);
CREATE INDEX lead_events_by_kind ON lead_events (tenant, kind);
CREATE INDEX lead_events_crm_due ON lead_events (crm_next_at, id) WHERE crm_status IN ('pending', 'failed');
CREATE INDEX lead_events_crm_undelivered ON lead_events (lead_id, id) WHERE crm_status IN ('pending', 'failed');

CREATE TABLE appointments (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant           TEXT NOT NULL,
    conversation_id  BIGINT REFERENCES conversations (id),
    lead_id          BIGINT REFERENCES leads (id),
    service          TEXT NOT NULL,
    practitioner     TEXT NOT NULL,
    room             TEXT,
    starts_at        BIGINT NOT NULL,
    ends_at          BIGINT NOT NULL,
    blocks_from      BIGINT NOT NULL,
    blocks_until     BIGINT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('held', 'booked', 'cancelled', 'showed', 'no_show')),
    hold_expires_at  BIGINT,
    customer_tz      TEXT,
    note             TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
-- busy(): what ends after the window starts (the future, mostly).
CREATE INDEX appointments_by_end ON appointments (tenant, blocks_until);
CREATE INDEX appointments_by_start ON appointments (tenant, starts_at, id);
CREATE INDEX appointments_by_conversation ON appointments (conversation_id, status);
CREATE INDEX appointments_by_lead ON appointments (lead_id) WHERE lead_id IS NOT NULL;

CREATE TABLE appointment_claims (
    tenant          TEXT NOT NULL,
    resource        TEXT NOT NULL,
    cell            BIGINT NOT NULL,
    appointment_id  BIGINT NOT NULL REFERENCES appointments (id),
    PRIMARY KEY (tenant, resource, cell)
);
CREATE INDEX appointment_claims_by_appointment ON appointment_claims (appointment_id);

CREATE TABLE waitlist (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant           TEXT NOT NULL,
    conversation_id  BIGINT NOT NULL REFERENCES conversations (id),
    service          TEXT NOT NULL,
    practitioner     TEXT,
    part             TEXT,
    status           TEXT NOT NULL CHECK (status IN ('waiting', 'offered', 'done')),
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE UNIQUE INDEX waitlist_one_waiting ON waitlist (conversation_id, service) WHERE status = 'waiting';
CREATE INDEX waitlist_next ON waitlist (tenant, service, created_at, id) WHERE status = 'waiting';
