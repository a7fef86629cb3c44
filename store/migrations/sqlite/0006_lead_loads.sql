-- Each consultant's load, kept up to date by triggers, so choosing an assignee for a new
-- lead reads a few rows instead of counting every lead and every assignment of the tenant
-- (which made every new lead slower than the one before). Embedded store only: PostgreSQL
-- counts (its concurrent turns would all update the same counter rows).

CREATE TABLE lead_loads (
    tenant            TEXT NOT NULL,
    assignee          TEXT NOT NULL,
    -- Leads assigned to them and not closed (stage neither won nor lost).
    open_leads        INTEGER NOT NULL DEFAULT 0,
    -- The latest `assigned` timeline entry naming them.
    last_assigned_at  INTEGER,
    PRIMARY KEY (tenant, assignee)
);

INSERT INTO lead_loads (tenant, assignee, open_leads)
SELECT tenant, assignee, COUNT(*) FROM leads
WHERE assignee IS NOT NULL AND stage NOT IN ('won', 'lost')
GROUP BY tenant, assignee;

INSERT INTO lead_loads (tenant, assignee, last_assigned_at)
SELECT tenant, data->>'to', MAX(at) FROM lead_events
WHERE kind = 'assigned' AND data->>'to' IS NOT NULL
GROUP BY 1, 2
ON CONFLICT (tenant, assignee) DO UPDATE SET last_assigned_at = excluded.last_assigned_at;

CREATE TRIGGER lead_loads_insert AFTER INSERT ON leads
WHEN NEW.assignee IS NOT NULL AND NEW.stage NOT IN ('won', 'lost')
BEGIN
    INSERT INTO lead_loads (tenant, assignee, open_leads) VALUES (NEW.tenant, NEW.assignee, 1)
    ON CONFLICT (tenant, assignee) DO UPDATE SET open_leads = open_leads + 1;
END;

CREATE TRIGGER lead_loads_delete AFTER DELETE ON leads
WHEN OLD.assignee IS NOT NULL AND OLD.stage NOT IN ('won', 'lost')
BEGIN
    UPDATE lead_loads SET open_leads = open_leads - 1
    WHERE tenant = OLD.tenant AND assignee = OLD.assignee;
END;

-- A lead is saved whole: only a real change of assignee or stage moves the counts.
CREATE TRIGGER lead_loads_update AFTER UPDATE OF tenant, assignee, stage ON leads
WHEN OLD.tenant IS NOT NEW.tenant OR OLD.assignee IS NOT NEW.assignee OR OLD.stage IS NOT NEW.stage
BEGIN
    UPDATE lead_loads SET open_leads = open_leads - 1
    WHERE tenant = OLD.tenant AND assignee = OLD.assignee AND OLD.stage NOT IN ('won', 'lost');
    INSERT INTO lead_loads (tenant, assignee, open_leads)
    SELECT NEW.tenant, NEW.assignee, 1
    WHERE NEW.assignee IS NOT NULL AND NEW.stage NOT IN ('won', 'lost')
    ON CONFLICT (tenant, assignee) DO UPDATE SET open_leads = open_leads + 1;
END;

CREATE TRIGGER lead_loads_assigned AFTER INSERT ON lead_events
WHEN NEW.kind = 'assigned' AND NEW.data->>'to' IS NOT NULL
BEGIN
    INSERT INTO lead_loads (tenant, assignee, last_assigned_at)
    VALUES (NEW.tenant, NEW.data->>'to', NEW.at)
    ON CONFLICT (tenant, assignee) DO UPDATE SET
    last_assigned_at = MAX(COALESCE(last_assigned_at, excluded.last_assigned_at), excluded.last_assigned_at);
END;
