-- +goose Up
-- Webhooks (package webhook, docs/webhooks.md): organisations' subscriptions, the durable outbox of
-- deliveries the sender posts, and the sender's cursor in rm_events. Times are Unix seconds (0: never).
-- A subscription's signing secret is not stored: it is derived from the gateway's key and its ID.
CREATE TABLE webhook_subscriptions (
    id          TEXT    PRIMARY KEY,
    org         TEXT    NOT NULL, -- the subscribing organisation's MSP ID
    url         TEXT    NOT NULL,
    functions   TEXT    NOT NULL DEFAULT '', -- ",Transfer,Retire,": the transactions wanted; '' for every one
    public      INTEGER NOT NULL DEFAULT 0 CHECK (public IN (0, 1)), -- also every organisation's public events
    after_block INTEGER NOT NULL, -- the read model's last event when it was created (-1: none):
    after_idx   INTEGER NOT NULL, -- only later events are delivered
    created_by  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    disabled_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX webhook_subscriptions_org ON webhook_subscriptions (org, id);
-- One row per message to one subscription: an event (block, idx, tx_id) and the exact body posted.
-- A replay is a new row with replay_of set to the delivery it copies; the original of an event is
-- unique per subscription, so enqueuing an event twice delivers it once.
CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription_id TEXT    NOT NULL REFERENCES webhook_subscriptions (id),
    block           INTEGER NOT NULL,
    idx             INTEGER NOT NULL,
    tx_id           TEXT    NOT NULL,
    function        TEXT    NOT NULL,
    payload         BLOB    NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL, -- pending: due from then on (also the end of a sender's claim)
    claim           TEXT    NOT NULL DEFAULT '', -- the token of the sender's claim being attempted
    last_status     INTEGER NOT NULL DEFAULT 0, -- the last attempt's HTTP status (0: no answer)
    last_error      TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    delivered_at    INTEGER NOT NULL DEFAULT 0,
    replay_of       INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX webhook_deliveries_event ON webhook_deliveries (subscription_id, block, idx) WHERE replay_of = 0;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at, id);
CREATE INDEX webhook_deliveries_subscription ON webhook_deliveries (subscription_id, id);
-- The one cursor row: the last rm_events position the sender turned into deliveries (-1, -1: none yet).
CREATE TABLE webhook_cursor (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    block INTEGER NOT NULL,
    idx   INTEGER NOT NULL
);
INSERT INTO webhook_cursor (id, block, idx) VALUES (1, -1, -1);

-- +goose Down
-- Subscriptions and undelivered messages are lost.
DROP TABLE webhook_cursor;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_subscriptions;
