-- +goose Up
-- Each user's ledger identity (keyring): the certificate its organisation's CA issued, and its
-- private key (PKCS#8) sealed with AES-256-GCM under the key-encryption key kek_id names
-- (nonce || ciphertext || tag, the additional data binding it to the user, the organisation and
-- the certificate). The plaintext key is never stored. kek_id is indexed for rotation, which
-- re-seals every row not under the current key-encryption key.
CREATE TABLE ledger_identities (
    user_id     TEXT    PRIMARY KEY,
    msp_id      TEXT    NOT NULL,
    role        TEXT    NOT NULL,
    certificate BLOB    NOT NULL, -- PEM
    serial      TEXT    NOT NULL, -- the certificate's serial number, decimal
    kek_id      TEXT    NOT NULL,
    sealed_key  BLOB    NOT NULL,
    enrolled_at INTEGER NOT NULL  -- unix seconds
);
CREATE INDEX ledger_identities_by_kek ON ledger_identities (kek_id, user_id);

-- Certificates a re-enrolment replaced, kept by serial for revocation by their organisation's CA;
-- revoked_at is 0 until the CA has revoked them.
CREATE TABLE retired_ledger_identities (
    msp_id     TEXT    NOT NULL,
    serial     TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    retired_at INTEGER NOT NULL,
    revoked_at INTEGER NOT NULL DEFAULT 0, -- 0: not revoked yet
    PRIMARY KEY (msp_id, serial)
);

-- +goose Down
-- Every user loses its ledger identity (the sealed keys are gone) and must be enrolled again;
-- certificates awaiting revocation are forgotten, so revoke them first.
DROP TABLE retired_ledger_identities;
DROP TABLE ledger_identities;
