-- The clinic's time zone with a waitlist wish for a part of the day, so a freed slot is
-- offered only to those who want that part of the day (entries from before take any).
ALTER TABLE waitlist ADD COLUMN tz TEXT;
