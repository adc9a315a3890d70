// Package webhook delivers the ledger's events to organisations'
// integrations as signed HTTP POSTs (the Standard Webhooks specification:
// webhook-id, webhook-timestamp, webhook-signature) from a durable outbox
// in the database (internal/store, migration 00012).
//
// A Service manages organisations' subscriptions and shows and replays
// their deliveries, for the gateway's routes. A Sender follows the events
// the read model records (rm_events) from its own cursor, decides who may
// see each (R11: an organisation sees events touching its own data, the
// registry and admitted auditors everything, and a subscription may ask
// for the public mints, reissues and retirements), stores the deliveries
// together with its cursor, and posts them with retries and backoff.
// Secrets are derived from a master key and the subscription's ID, never
// stored. See docs/webhooks.md.
package webhook
