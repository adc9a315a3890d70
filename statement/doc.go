// Package statement makes a retirement statement's two documents from what
// the ledger holds: a PDF a person reads, with a QR code of the statement's
// public verification URL, and the same figures as a canonical JSON document
// signed by the gateway as a JWS (EdDSA) that anyone checks against the
// gateway's published JWKS.
//
// Build turns an Input (the retirement statement, its block, and for each
// part its batch, the batch's attestation record and its site) into a
// Document: every figure of the statement, derived with integers only. PDF
// and Signed render a Document; Verify checks a signed one. The document's
// fields, its version and the exact arithmetic are in docs/statement.md.
package statement
