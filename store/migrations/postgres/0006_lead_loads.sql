-- Each consultant's load, kept up to date by triggers (as in the embedded store), so
-- choosing an assignee for a new lead reads a few rows instead of counting every lead and
-- every assignment of the tenant: at 5,000 leads a tenant that count took 6 ms of the
-- database's time per new lead, and every new lead was slower than the one before.
-- Concurrent turns assigning to the same consultant wait for each other's commit on that
-- consultant's row, a short wait next to the count it replaces.

CREATE TABLE lead_loads (
    tenant            TEXT NOT NULL,
    assignee          TEXT NOT NULL,
    -- Leads assigned to them and not closed (stage neither won nor lost).
    open_leads        BIGINT NOT NULL DEFAULT 0,
    -- The latest `assigned` timeline entry naming them.
    last_assigned_at  BIGINT,
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

CREATE FUNCTION lead_loads_open(t TEXT, who TEXT, delta BIGINT) RETURNS VOID
LANGUAGE sql AS $$
    INSERT INTO lead_loads (tenant, assignee, open_leads) VALUES (t, who, delta)
    ON CONFLICT (tenant, assignee) DO UPDATE SET open_leads = lead_loads.open_leads + delta
$$;

-- A lead is saved whole: only a real change of assignee or stage moves the counts.
CREATE FUNCTION lead_loads_leads() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.assignee IS NOT NULL
       AND OLD.stage NOT IN ('won', 'lost') THEN
        PERFORM lead_loads_open(OLD.tenant, OLD.assignee, -1);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.assignee IS NOT NULL
       AND NEW.stage NOT IN ('won', 'lost') THEN
        PERFORM lead_loads_open(NEW.tenant, NEW.assignee, 1);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER lead_loads_insert AFTER INSERT ON leads
FOR EACH ROW EXECUTE FUNCTION lead_loads_leads();

CREATE TRIGGER lead_loads_delete AFTER DELETE ON leads
FOR EACH ROW EXECUTE FUNCTION lead_loads_leads();

CREATE TRIGGER lead_loads_update AFTER UPDATE OF tenant, assignee, stage ON leads
FOR EACH ROW
WHEN (OLD.tenant IS DISTINCT FROM NEW.tenant OR OLD.assignee IS DISTINCT FROM NEW.assignee
      OR OLD.stage IS DISTINCT FROM NEW.stage)
EXECUTE FUNCTION lead_loads_leads();

CREATE FUNCTION lead_loads_assigned() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO lead_loads (tenant, assignee, last_assigned_at)
    VALUES (NEW.tenant, NEW.data->>'to', NEW.at)
    ON CONFLICT (tenant, assignee) DO UPDATE SET
    last_assigned_at = GREATEST(lead_loads.last_assigned_at, excluded.last_assigned_at);
    RETURN NULL;
END
$$;

CREATE TRIGGER lead_loads_assigned AFTER INSERT ON lead_events
FOR EACH ROW WHEN (NEW.kind = 'assigned' AND NEW.data->>'to' IS NOT NULL)
EXECUTE FUNCTION lead_loads_assigned();
