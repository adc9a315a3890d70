-- +goose Up
-- Who is who (package auth): users of an organisation (its MSP ID) with one role and an admin flag,
-- the invitations an organisation's admin sends, the access-token signing keys (Ed25519 seeds
-- sealed under the key-encryption key of the configuration), refresh tokens grouped in families,
-- and the API keys of machines. Secrets are never stored: only their SHA-256 (tokens, invitations,
-- API keys) or argon2id (passwords) hashes. Times are Unix seconds; 0 means "not yet".
CREATE TABLE users (
    id            TEXT    PRIMARY KEY,
    login         TEXT    NOT NULL UNIQUE,
    org           TEXT    NOT NULL,
    role          TEXT    NOT NULL,
    admin         INTEGER NOT NULL DEFAULT 0, -- 1: the organisation's admin
    password_hash TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL
);
CREATE INDEX users_by_org ON users (org);

CREATE TABLE invitations (
    secret_hash TEXT    PRIMARY KEY, -- hex SHA-256 of the secret shown once to the admin
    login       TEXT    NOT NULL,
    org         TEXT    NOT NULL,
    role        TEXT    NOT NULL,
    admin       INTEGER NOT NULL DEFAULT 0,
    invited_by  TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL,
    accepted_at BIGINT  NOT NULL DEFAULT 0
);

CREATE TABLE signing_keys (
    kid        TEXT    PRIMARY KEY,
    sealed     BYTEA   NOT NULL, -- AES-256-GCM nonce || ciphertext of the Ed25519 seed, kid as associated data
    created_at BIGINT  NOT NULL,
    retired_at BIGINT  NOT NULL DEFAULT 0 -- 0: the current key
);

CREATE TABLE refresh_tokens (
    token_hash TEXT    PRIMARY KEY, -- hex SHA-256 of the opaque token
    family     TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    issued_at  BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL, -- the family's absolute expiry
    used_at    BIGINT  NOT NULL DEFAULT 0,
    revoked_at BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family);

CREATE TABLE api_keys (
    id           TEXT    PRIMARY KEY,
    secret_hash  TEXT    NOT NULL, -- hex SHA-256 of the secret part
    org          TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    scopes       TEXT    NOT NULL, -- space-separated, sorted
    created_by   TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    revoked_at   BIGINT  NOT NULL DEFAULT 0,
    last_used_at BIGINT  NOT NULL DEFAULT 0
);

-- +goose Down
-- Every user, session and API key is gone with these tables: nobody can log in until users are created again.
DROP TABLE api_keys;
DROP TABLE refresh_tokens;
DROP TABLE signing_keys;
DROP TABLE invitations;
DROP TABLE users;
