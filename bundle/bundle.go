package bundle

import (
	"bytes"
	"encoding/json"
	"io"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/ledger/embedded"
)

// Format is the value of a bundle's "format" field.
const Format = "greenmint-proof-bundle"

// Version is the bundle format version this package writes and reads.
const Version = 1

// Subject kinds.
const (
	KindBatch     = "batch"
	KindStatement = "statement"
)

// Ledger types.
const (
	LedgerEmbedded = "embedded"
	LedgerFabric   = "fabric"
)

// Bundle is an offline proof of a batch or a retirement statement.
type Bundle struct {
	Format    string  `json:"format"`  // always Format
	Version   int     `json:"version"` // always Version
	Subject   Subject `json:"subject"`
	CreatedAt string  `json:"created_at"` // when it was built, RFC 3339 UTC (informative)
	Ledger    Ledger  `json:"ledger"`
	// Statement is the retirement statement a statement bundle proves.
	Statement *Value `json:"statement,omitempty"`
	// Batches are the batch a batch bundle proves, or every batch the
	// statement retires from, in the order of its parts.
	Batches []Batch `json:"batches"`
}

// Subject names what a bundle proves.
type Subject struct {
	Kind string `json:"kind"` // KindBatch or KindStatement
	ID   string `json:"id"`   // the batch ID or the statement ID
}

// Ledger is the ledger's evidence: its blocks, and what anchors them.
type Ledger struct {
	Type      string `json:"type"`      // LedgerEmbedded or LedgerFabric
	Channel   string `json:"channel"`   // the channel ID
	Chaincode string `json:"chaincode"` // the contract's name (its namespace of world state)
	// Head is the embedded ledger's newest block when the bundle was built:
	// what a verifier compares with a head hash it obtained independently.
	Head *Head `json:"head,omitempty"`
	// Headers are the embedded ledger's block headers from block 0 to the
	// head, each linked to the one before by its previous_hash.
	Headers []embedded.BlockHeader `json:"headers,omitempty"`
	// Blocks are the cited blocks as the ledger stores or delivers them:
	// the embedded ledger's canonical block JSON (block 0, with the channel
	// configuration, always among them), or Fabric's marshalled
	// common.Block (the channel configuration blocks they name among them).
	Blocks []RawBlock `json:"blocks"`
}

// Head names a block and its hash.
type Head struct {
	Number uint64 `json:"number"`
	Hash   string `json:"hash"` // hex SHA-256 of the canonical header
}

// RawBlock is one block's bytes.
type RawBlock struct {
	Number uint64 `json:"number"`
	Bytes  []byte `json:"bytes"` // standard base64 in JSON
}

// Ref names the committed transaction that wrote a value: its ID, its
// block and its position in the block (counted from 0, every transaction
// of the block counted, valid or not), as Fabric's key versions do.
type Ref struct {
	TxID  string `json:"tx_id"`
	Block uint64 `json:"block"`
	Tx    uint64 `json:"tx"`
}

// Value is a ledger object as one transaction wrote it: Value is the JSON
// the contract stored (the verifier compares it, white space aside, with
// the bytes of the transaction's write).
type Value struct {
	Ref
	Value json.RawMessage `json:"value"`
}

// HistoryEntry is one committed version of a batch.
type HistoryEntry struct {
	Ref
	Timestamp string          `json:"timestamp"` // the transaction's time, RFC 3339 UTC, whole seconds
	Value     json.RawMessage `json:"value"`     // the greenmint.Batch after the transaction
}

// Batch is the evidence of one batch.
type Batch struct {
	ID string `json:"id"`
	// History is every version of the batch, oldest first: the first is
	// the mint (or reissue), the last the batch as the bundle shows it.
	History []HistoryEntry `json:"history"`
	// Attestation is the greenmint.AttestationRecord the mint wrote: the
	// signed attestation with its hours.
	Attestation Value `json:"attestation"`
	// Policy, Oracles, Dataset, Site and Meters are the objects as the
	// mint read them: each is the version the mint transaction's read set
	// names. Meters whose readings are in Readings but that the mint did
	// not read are the version in force before the mint.
	Policy  Value   `json:"policy"`
	Oracles []Value `json:"oracles"`
	Dataset Value   `json:"dataset"`
	Site    Value   `json:"site"`
	Meters  []Value `json:"meters"`
	// Readings are the signed meter readings the attestation committed to,
	// when the builder had the oracle's database; nil otherwise.
	Readings *Readings `json:"readings,omitempty"`
}

// Readings are an attestation's readings.
type Readings struct {
	// Root is the Merkle root they make (docs/encoding.md), which must be
	// the attestation's readings_root.
	Root     string              `json:"root"`
	Readings []greenmint.Reading `json:"readings"` // ordered by meter ID, then interval start
}

// Encode writes b as indented JSON.
func Encode(w io.Writer, b *Bundle) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(b); err != nil {
		return greenmint.E(greenmint.EINTERNAL, "bundle.Encode", err, "cannot encode the bundle")
	}
	return nil
}

// Marshal returns b as Encode writes it.
func Marshal(b *Bundle) ([]byte, error) {
	var buf bytes.Buffer
	if err := Encode(&buf, b); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Decode reads a bundle strictly (unknown fields and trailing data
// refused) and checks its format and version. Errors are EINVALID.
func Decode(data []byte) (*Bundle, error) {
	var b Bundle
	if err := greenmint.DecodeStrict(data, &b); err != nil {
		return nil, greenmint.E(greenmint.EINVALID, "bundle.Decode", err, "not a proof bundle")
	}
	if b.Format != Format {
		return nil, greenmint.Errorf(greenmint.EINVALID, "format %q is not %q", b.Format, Format)
	}
	if b.Version != Version {
		return nil, greenmint.Errorf(greenmint.EINVALID, "bundle version %d; this verifier reads version %d", b.Version, Version)
	}
	return &b, nil
}
