package embedded

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/greenmint/greenmint"
)

// Validation codes a committed transaction carries, as Fabric's.
const (
	TxValid               = "VALID"
	TxMVCCReadConflict    = "MVCC_READ_CONFLICT"
	TxPhantomReadConflict = "PHANTOM_READ_CONFLICT"
	TxDuplicateTxID       = "DUPLICATE_TXID"
)

// Version is the height at which a key was last written.
type Version struct {
	Block uint64 `json:"block"`
	Tx    uint64 `json:"tx"`
}

// Read is one key a transaction read and the version it saw (nil: absent).
type Read struct {
	Key     string   `json:"key"`
	Version *Version `json:"version"`
}

// RangeRead is one range query a transaction ran, with what it saw. When
// Exhausted is false the caller stopped early and only the keys up to the
// last one seen are checked for phantoms.
type RangeRead struct {
	Start     string `json:"start"`
	End       string `json:"end"`
	Results   []Read `json:"results"`
	Exhausted bool   `json:"exhausted"`
}

// Write is one key a transaction writes or deletes.
type Write struct {
	Key    string `json:"key"`
	Value  []byte `json:"value"`
	Delete bool   `json:"delete"`
}

// Event is the chaincode event of a transaction.
type Event struct {
	Name    string `json:"name"`
	Payload []byte `json:"payload"`
}

// Response is what the chaincode returned.
type Response struct {
	Status  int32  `json:"status"`
	Message string `json:"message"`
	Payload []byte `json:"payload"`
}

// Transaction is an endorsed transaction as a block stores it: the signed
// proposal (so anyone can check the caller's signature again), the
// read-write set, the event, the response and the validation code.
type Transaction struct {
	TxID       string          `json:"tx_id"`
	Proposal   json.RawMessage `json:"proposal"`  // the canonical Proposal, as signed
	Signature  []byte          `json:"signature"` // the creator's ECDSA signature over SHA-256(Proposal)
	Reads      []Read          `json:"reads"`
	Ranges     []RangeRead     `json:"ranges"`
	Writes     []Write         `json:"writes"`
	Event      *Event          `json:"event"`
	Response   Response        `json:"response"`
	Validation string          `json:"validation"`

	seconds int64 // the proposal's timestamp, kept from endorsement for the history index
	nanos   int32
	creator *creator // the creator as endorsement verified it (nil: not endorsed here)
}

// OrgConfig is one organisation of the channel: its MSP ID and root CA.
type OrgConfig struct {
	MSPID       string `json:"msp_id"`
	RootCertPEM []byte `json:"root_cert_pem"`
}

// ChannelConfig is the genesis configuration of an embedded ledger, stored
// in block 0 as Fabric stores its channel configuration in a config block.
type ChannelConfig struct {
	ChannelID string      `json:"channel_id"`
	Chaincode string      `json:"chaincode"`
	Orgs      []OrgConfig `json:"orgs"`
}

// BlockHeader links a block to its predecessor.
type BlockHeader struct {
	Number       uint64 `json:"number"`
	PreviousHash string `json:"previous_hash"` // hex SHA-256 of the previous header
	DataHash     string `json:"data_hash"`     // hex SHA-256 of the canonical BlockData
}

// BlockData is what a block's data hash covers.
type BlockData struct {
	Config       *ChannelConfig `json:"config,omitempty"`
	Transactions []Transaction  `json:"transactions"`
}

// Block is one block of the chain.
type Block struct {
	Header BlockHeader `json:"header"`
	Data   BlockData   `json:"data"`
}

// Hash returns the hex SHA-256 of the block's canonical header.
func (b *Block) Hash() (string, error) {
	h, err := greenmint.Canonical(b.Header)
	if err != nil {
		return "", err
	}
	s := sha256.Sum256(h)
	return hex.EncodeToString(s[:]), nil
}

// computeDataHash returns the hex SHA-256 of the block's canonical data.
func (b *Block) computeDataHash() (string, error) {
	d, err := greenmint.Canonical(b.Data)
	if err != nil {
		return "", fmt.Errorf("embedded.dataHash: %w", err)
	}
	s := sha256.Sum256(d)
	return hex.EncodeToString(s[:]), nil
}

// Proposal is what a caller signs to invoke the chaincode.
type Proposal struct {
	ChannelID string   `json:"channel_id"`
	Chaincode string   `json:"chaincode"`
	TxID      string   `json:"tx_id"` // hex SHA-256(nonce || creator), as Fabric derives it
	Nonce     []byte   `json:"nonce"`
	Creator   []byte   `json:"creator"` // protobuf msp.SerializedIdentity, as Fabric's
	Seconds   int64    `json:"seconds"` // the transaction timestamp
	Nanos     int32    `json:"nanos"`
	Function  string   `json:"function"`
	Args      []string `json:"args"`
}

// SignedProposal is a proposal's canonical bytes and the creator's
// signature over their SHA-256.
type SignedProposal struct {
	Proposal  []byte
	Signature []byte
}
