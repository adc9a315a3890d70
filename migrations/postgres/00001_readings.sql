-- +goose Up
-- Signed meter readings, stored once each. Times are Unix seconds (UTC).
CREATE TABLE readings (
    meter_id    TEXT   NOT NULL,
    seq         BIGINT NOT NULL,
    start_at    BIGINT NOT NULL,
    end_at      BIGINT NOT NULL,
    energy_wh   BIGINT NOT NULL,
    register_wh BIGINT NOT NULL,
    signature   BYTEA  NOT NULL,
    digest      BYTEA  NOT NULL, -- SHA-256 of the canonical reading: what "identical" means
    received_at BIGINT NOT NULL,
    PRIMARY KEY (meter_id, seq)
);
-- The matcher reads a meter's intervals by time.
CREATE INDEX readings_meter_start ON readings (meter_id, start_at);

-- The last accepted reading of each meter (R6's sequence, interval and register checks).
CREATE TABLE meter_heads (
    meter_id      TEXT   PRIMARY KEY,
    last_seq      BIGINT NOT NULL,
    last_end      BIGINT NOT NULL,
    last_register BIGINT NOT NULL
);

-- +goose Down
DROP TABLE meter_heads;
DROP TABLE readings;
