-- +goose Up
-- Readings keyed by meter and interval start: one B-tree per reading instead of a primary key
-- and a second index. The matcher reads by time; a duplicate is found by its interval.
CREATE TABLE readings_by_interval (
    meter_id    TEXT    NOT NULL,
    start_at    INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    end_at      INTEGER NOT NULL,
    energy_wh   INTEGER NOT NULL,
    register_wh INTEGER NOT NULL,
    signature   BLOB    NOT NULL,
    digest      BLOB    NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (meter_id, start_at)
) WITHOUT ROWID;
INSERT INTO readings_by_interval (meter_id, start_at, seq, end_at, energy_wh, register_wh, signature, digest, received_at)
    SELECT meter_id, start_at, seq, end_at, energy_wh, register_wh, signature, digest, received_at FROM readings;
DROP TABLE readings;
ALTER TABLE readings_by_interval RENAME TO readings;

-- +goose Down
CREATE TABLE readings_by_seq (
    meter_id    TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    start_at    INTEGER NOT NULL,
    end_at      INTEGER NOT NULL,
    energy_wh   INTEGER NOT NULL,
    register_wh INTEGER NOT NULL,
    signature   BLOB    NOT NULL,
    digest      BLOB    NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (meter_id, seq)
) WITHOUT ROWID;
INSERT INTO readings_by_seq SELECT meter_id, seq, start_at, end_at, energy_wh, register_wh, signature, digest, received_at FROM readings;
DROP TABLE readings;
ALTER TABLE readings_by_seq RENAME TO readings;
CREATE INDEX readings_meter_start ON readings (meter_id, start_at);
