-- +goose Up
-- Readings keyed by meter and interval start: one B-tree per reading instead of a primary key
-- and a second index. The matcher reads by time; a duplicate is found by its interval.
ALTER TABLE readings DROP CONSTRAINT readings_pkey;
DROP INDEX readings_meter_start;
ALTER TABLE readings ADD PRIMARY KEY (meter_id, start_at);

-- +goose Down
ALTER TABLE readings DROP CONSTRAINT readings_pkey;
ALTER TABLE readings ADD PRIMARY KEY (meter_id, seq);
CREATE INDEX readings_meter_start ON readings (meter_id, start_at);
