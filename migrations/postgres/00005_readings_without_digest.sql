-- +goose Up
-- The stored columns are the whole signed reading, so two readings are identical when their
-- columns are: the digest goes. (PostgreSQL keeps its (meter_id, start_at) key: its WAL logs
-- rows, not whole pages, so the key order costs it little at commit; see docs/oracle.md.)
ALTER TABLE readings DROP COLUMN digest;

-- +goose Down
-- Version 4 compared stored digests; SQL cannot compute them, so they come back empty and an
-- identical reading sent again after a downgrade is rejected as a replay instead of acknowledged.
ALTER TABLE readings ADD COLUMN digest BYTEA NOT NULL DEFAULT ''::bytea;
