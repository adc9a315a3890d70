-- +goose Up
-- Signed meter readings, stored once each. Times are Unix seconds (UTC).
CREATE TABLE readings (
    meter_id    TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    start_at    INTEGER NOT NULL,
    end_at      INTEGER NOT NULL,
    energy_wh   INTEGER NOT NULL,
    register_wh INTEGER NOT NULL,
    signature   BLOB    NOT NULL,
    digest      BLOB    NOT NULL, -- SHA-256 of the canonical reading: what "identical" means
    received_at INTEGER NOT NULL,
    PRIMARY KEY (meter_id, seq)
) WITHOUT ROWID;
-- The matcher reads a meter's intervals by time.
CREATE INDEX readings_meter_start ON readings (meter_id, start_at);

-- The last accepted reading of each meter (R6's sequence, interval and register checks).
CREATE TABLE meter_heads (
    meter_id     TEXT    PRIMARY KEY,
    last_seq     INTEGER NOT NULL,
    last_end     INTEGER NOT NULL,
    last_register INTEGER NOT NULL
) WITHOUT ROWID;

-- +goose Down
DROP TABLE meter_heads;
DROP TABLE readings;
