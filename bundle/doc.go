// Package bundle builds and verifies offline proof bundles: one JSON file
// holding everything needed to check a batch, or a retirement statement and
// the batches it retires, without any server (docs/verify.md describes the
// file field by field).
//
// A bundle carries the ledger's own blocks: on the embedded ledger the
// blocks that hold the transactions it cites, the genesis block with the
// channel's certificate authorities, and every block header up to a head
// whose hash a verifier compares with one it obtained independently; on
// Fabric the blocks as the peers delivered them, with the orderer's
// signatures and the endorsements, and the channel configuration block with
// the organisations' MSP root certificates. Beside them, readable copies of
// the ledger objects the checks need (the attestation as minted, the oracle
// keys, the policy, the dataset, the site and meters as the mint read them,
// the batch's history, the retirement statement) each name the transaction
// that wrote it, and Verify checks every copy against the write in that
// transaction, then recomputes every rule offline: the oracle signatures
// (R5), each hour's arithmetic and the totals (R2), the quantity by the
// instrument's formula, the dataset pin (R9), the readings' Merkle root and
// signatures, the site-hours claimed (R1) and the batch's supply after
// every transaction (R3).
//
// BuildBatch and BuildStatement make a bundle from a greenmint.Ledger and a
// BlockSource (the embedded and Fabric ledgers implement it); Verify checks
// one and reports each check.
package bundle
