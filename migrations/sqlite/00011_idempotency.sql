-- +goose Up
-- The gateway's idempotency records (the Idempotency-Key header, draft-ietf-httpapi-idempotency-key-header;
-- rule R10): one row per principal (a user ID or an API-key ID) and key. request_hash is the hex SHA-256
-- of the request (method, route, body) the gateway computed; state is pending while the first request
-- runs and done once its answer (status, a few headers as a JSON object, body) is saved for replays.
-- Times are Unix seconds; a row whose expires_at has passed may be replaced by a new request with the
-- same key and is deleted by a purge.
CREATE TABLE api_idempotency (
    principal    TEXT    NOT NULL,
    idem_key     TEXT    NOT NULL CHECK (length(idem_key) BETWEEN 1 AND 128),
    request_hash TEXT    NOT NULL,
    state        TEXT    NOT NULL CHECK (state IN ('pending', 'done')),
    status       INTEGER NOT NULL DEFAULT 0,
    headers      TEXT    NOT NULL DEFAULT '{}',
    body         BLOB    NOT NULL DEFAULT x'',
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (principal, idem_key)
);
CREATE INDEX api_idempotency_expiry ON api_idempotency (expires_at);

-- +goose Down
-- Saved answers are forgotten: a client retrying a write after going down and up again applies it anew.
DROP TABLE api_idempotency;
