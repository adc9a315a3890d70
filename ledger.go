package greenmint

import (
	"context"
	"crypto"
	"encoding/json"
)

// Identity is an actor on the ledger: its organisation's MSP ID, its X.509
// certificate (PEM) issued by that organisation's CA with the role attribute,
// and the private key that signs its proposals.
type Identity struct {
	MSPID       string
	Certificate []byte
	Signer      crypto.Signer
}

// TxResult is what a committed transaction returned.
type TxResult struct {
	TxID        string
	BlockNumber uint64
	Payload     []byte
}

// ChaincodeEvent is the one event a committed transaction emitted.
type ChaincodeEvent struct {
	BlockNumber uint64
	TxID        string
	Name        string
	Payload     []byte
}

// Ledger is the port through which the API and the oracle reach the
// contract. ledger/embedded and ledger/fabric implement it, and both pass
// the conformance suite in internal/greenminttest.
type Ledger interface {
	// Submit endorses and commits a transaction signed by id and returns once
	// it is committed. A contract error keeps its code (EINVALID, ENOTFOUND,
	// ECONFLICT, EFORBIDDEN, ...). A transaction invalidated at commit (an
	// MVCC conflict) is ECONFLICT; an unknown or unverifiable caller is
	// EUNAUTHENTICATED; a ledger that cannot be reached is EUNAVAILABLE.
	Submit(ctx context.Context, id *Identity, function string, args ...string) (*TxResult, error)

	// Evaluate runs a query as id without committing anything. Errors as for
	// Submit.
	Evaluate(ctx context.Context, id *Identity, function string, args ...string) ([]byte, error)

	// Events delivers the chaincode events of committed valid transactions
	// from block fromBlock onward, in order, until ctx ends; the channel is
	// closed then. A listener resumes from its checkpoint by passing the
	// block after the last one it finished.
	Events(ctx context.Context, fromBlock uint64) (<-chan ChaincodeEvent, error)
}

// SubmitJSON submits function with req encoded as its one JSON argument and
// decodes the result into resp (unless resp is nil).
func SubmitJSON(ctx context.Context, l Ledger, id *Identity, function string, req, resp any) (*TxResult, error) {
	arg, err := json.Marshal(req)
	if err != nil {
		return nil, E(EINVALID, "", err, "cannot encode %s request", function)
	}
	res, err := l.Submit(ctx, id, function, string(arg))
	if err != nil {
		return nil, err
	}
	if resp != nil {
		if err := json.Unmarshal(res.Payload, resp); err != nil {
			return nil, E(EINTERNAL, "", err, "cannot decode %s result", function)
		}
	}
	return res, nil
}

// EvaluateJSON evaluates query function with req as its one JSON argument
// and decodes the result into resp.
func EvaluateJSON(ctx context.Context, l Ledger, id *Identity, function string, req, resp any) error {
	arg, err := json.Marshal(req)
	if err != nil {
		return E(EINVALID, "", err, "cannot encode %s request", function)
	}
	out, err := l.Evaluate(ctx, id, function, string(arg))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(out, resp); err != nil {
		return E(EINTERNAL, "", err, "cannot decode %s result", function)
	}
	return nil
}
