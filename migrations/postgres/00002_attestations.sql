-- +goose Up
-- Attestations this oracle built and signed, until the ledger minted them: a crash between
-- signing and submitting loses nothing and never mints twice (the submission's idempotency key
-- is the attestation ID).
CREATE TABLE attestations (
    id           TEXT    PRIMARY KEY, -- hex SHA-256 of the canonical attestation
    site_id      TEXT    NOT NULL,
    period_start BIGINT NOT NULL,
    period_end   BIGINT NOT NULL,
    signed       BYTEA    NOT NULL,    -- the signed attestation, JSON
    status       TEXT    NOT NULL,    -- signed, minted
    batch_id     TEXT    NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX attestations_status ON attestations (status);

-- +goose Down
DROP TABLE attestations;
