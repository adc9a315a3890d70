-- +goose Up
-- An attestation the ledger refused for good (invalid, forbidden, or in conflict with what is
-- minted) is marked refused with the ledger's reason, so that it is neither submitted again at
-- every start nor counted as attested by the scheduler.
ALTER TABLE attestations ADD COLUMN refusal TEXT NOT NULL DEFAULT '';

-- +goose Down
-- Refused attestations keep status 'refused', which version 5 neither resubmits nor lists.
ALTER TABLE attestations DROP COLUMN refusal;
