-- +goose Up
-- Attestations this oracle built and signed, until the ledger minted them: a crash between
-- signing and submitting loses nothing and never mints twice (the submission's idempotency key
-- is the attestation ID).
CREATE TABLE attestations (
    id           TEXT    PRIMARY KEY, -- hex SHA-256 of the canonical attestation
    site_id      TEXT    NOT NULL,
    period_start INTEGER NOT NULL,
    period_end   INTEGER NOT NULL,
    signed       BLOB    NOT NULL,    -- the signed attestation, JSON
    status       TEXT    NOT NULL,    -- signed, minted
    batch_id     TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX attestations_status ON attestations (status);

-- +goose Down
DROP TABLE attestations;
