-- +goose Up
-- A batch's grid surplus share (docs/readmodel.md): the share of its attestation's period hours,
-- gaps included, whose grid state is surplus, in basis points (floor(10000 * surplus hours / period
-- hours), 0 to 10000). The projector sets it from the attestation written with the mint; batches
-- projected before this migration hold 0 until `greenmint readmodel reindex` rebuilds the projection.
ALTER TABLE rm_batches ADD COLUMN surplus_bp BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE rm_batches DROP COLUMN surplus_bp;
