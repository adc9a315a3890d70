// Package auth says who a caller is: users of an organisation (its MSP
// ID) with one role of DOMAIN.md (registry, miner, oracle, auditor, buyer)
// and an admin flag, their passwords (argon2id), invitations from an
// organisation's admin, short-lived access tokens (JWT, EdDSA over
// Ed25519, `typ` at+jwt, `kid` header, keys published as a JWKS), refresh
// tokens that rotate on every use with reuse detection, and API keys for
// machines with scopes. It decides nothing about what a caller may do on
// the ledger: the contract checks that again with the caller's own
// identity.
//
// A Service keeps its state in internal/store (SQLite or PostgreSQL):
// only hashes of secrets (SHA-256 of the 256-bit random tokens,
// invitations and API-key secrets; argon2id of passwords) and the
// signing keys' Ed25519 seeds sealed with AES-256-GCM under the
// key-encryption key of Config.KEK. Every secret is returned once, by the
// call that makes it.
//
// Access tokens are verified with the algorithm pinned to EdDSA, the
// issuer, audience, exp (required), nbf and iat (not in the future)
// checked with a leeway of 30 seconds, the `typ` header required to be
// at+jwt and the `kid` required to name a key of the key set. Keys
// rotate: RotateKey makes a new current key and keeps the old one for
// verification until DropKey removes it. docs/auth.md tells the
// lifetimes, claims, rotation and KEK handling in full.
//
// Every failure is a greenmint.Error: unauthenticated for a credential
// that does not hold (the message never says whether a login exists),
// forbidden for an admin acting outside their organisation, invalid for
// bad input, conflict for a login or key taken.
package auth
