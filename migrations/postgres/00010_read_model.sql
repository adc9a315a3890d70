-- +goose Up
-- The read model (readmodel package): the ledger's events projected into tables the gateway
-- queries. Every rm_ row is the ledger object's current value (doc, its JSON as the contract
-- wrote it) with the columns lists filter and sort on. The projection is rebuilt from the
-- ledger by greenmint readmodel reindex; nothing here is authoritative.
CREATE TABLE rm_sites (
    id          TEXT PRIMARY KEY,
    owner       TEXT NOT NULL,
    country     TEXT NOT NULL,
    grid_region TEXT NOT NULL,
    status      TEXT NOT NULL,
    capacity_w  BIGINT NOT NULL,
    doc         TEXT NOT NULL
);
CREATE TABLE rm_meters (
    id         TEXT PRIMARY KEY,
    site_id    TEXT NOT NULL,
    owner      TEXT NOT NULL,
    kind       TEXT NOT NULL,
    technology TEXT NOT NULL,
    status     TEXT NOT NULL,
    doc        TEXT NOT NULL
);
CREATE TABLE rm_batches (
    id           TEXT PRIMARY KEY,
    instrument   TEXT NOT NULL,
    site_id      TEXT NOT NULL,
    country      TEXT NOT NULL,
    owner        TEXT NOT NULL,
    vintage      BIGINT NOT NULL, -- the year of period_start
    technologies TEXT NOT NULL DEFAULT '', -- ",solar,wind,": the attestation's allocations
    issued       BIGINT NOT NULL,
    tradable     BIGINT NOT NULL,
    escrowed     BIGINT NOT NULL,
    retired      BIGINT NOT NULL,
    cancelled    BIGINT NOT NULL,
    status       TEXT NOT NULL,
    open_flags   BIGINT NOT NULL,
    doc          TEXT NOT NULL
);
CREATE INDEX rm_batches_owner ON rm_batches (owner, id);
CREATE TABLE rm_holdings (
    batch_id TEXT NOT NULL,
    owner    TEXT NOT NULL,
    tradable BIGINT NOT NULL,
    escrowed BIGINT NOT NULL,
    PRIMARY KEY (batch_id, owner)
);
CREATE INDEX rm_holdings_owner ON rm_holdings (owner, batch_id);
CREATE TABLE rm_listings (
    id          TEXT PRIMARY KEY,
    batch_id    TEXT NOT NULL,
    seller      TEXT NOT NULL,
    buyer       TEXT NOT NULL,
    quantity    BIGINT NOT NULL,
    price_minor BIGINT NOT NULL,
    currency    TEXT NOT NULL,
    status      TEXT NOT NULL,
    doc         TEXT NOT NULL
);
CREATE INDEX rm_listings_status ON rm_listings (status, id);
CREATE TABLE rm_retirements (
    id             TEXT PRIMARY KEY,
    owner          TEXT NOT NULL,
    beneficiary    TEXT NOT NULL,
    reporting_year BIGINT NOT NULL,
    quantity       BIGINT NOT NULL, -- the parts' sum
    doc            TEXT NOT NULL
);
CREATE TABLE rm_flags (
    id       TEXT PRIMARY KEY,
    batch_id TEXT NOT NULL,
    auditor  TEXT NOT NULL,
    status   TEXT NOT NULL,
    doc      TEXT NOT NULL
);
CREATE TABLE rm_organisations (
    msp_id TEXT PRIMARY KEY,
    roles  TEXT NOT NULL, -- ",auditor,buyer,"
    doc    TEXT NOT NULL
);
-- Every event applied, in ledger order (block, then position among the block's events): what
-- the event stream reads. keys: the changed objects as a JSON array of "kind/attr/attr".
CREATE TABLE rm_events (
    block     BIGINT NOT NULL,
    idx       BIGINT NOT NULL,
    tx_id     TEXT NOT NULL,
    function  TEXT NOT NULL,
    creator   TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    keys      TEXT NOT NULL,
    PRIMARY KEY (block, idx)
);
CREATE INDEX rm_events_tx ON rm_events (tx_id);
-- The one checkpoint row: the last event applied (block, its position, its transaction).
CREATE TABLE rm_checkpoint (
    id    BIGINT PRIMARY KEY,
    block BIGINT NOT NULL,
    idx   BIGINT NOT NULL,
    tx_id TEXT NOT NULL
);

-- +goose Down
-- The projection is derived data: greenmint readmodel reindex rebuilds it after going up again.
DROP TABLE rm_checkpoint;
DROP TABLE rm_events;
DROP TABLE rm_organisations;
DROP TABLE rm_flags;
DROP TABLE rm_retirements;
DROP TABLE rm_listings;
DROP TABLE rm_holdings;
DROP TABLE rm_batches;
DROP TABLE rm_meters;
DROP TABLE rm_sites;
