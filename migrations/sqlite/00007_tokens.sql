-- +goose Up
-- Bearer tokens this oracle issued (greenmint oracle token issue): the token's ID (its JWT jti),
-- kind (collector or peer-oracle), subject and lifetime, never the token itself. A token is
-- accepted only while its row exists and is not revoked.
CREATE TABLE tokens (
    id         TEXT    PRIMARY KEY,
    kind       TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER NOT NULL DEFAULT 0 -- 0: not revoked
);

-- +goose Down
-- Every issued token is refused once the table is gone (the service finds no record of it).
DROP TABLE tokens;
