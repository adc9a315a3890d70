package embedded

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/greenmint/greenmint"
)

// VerifyReport is what a chain verification found.
type VerifyReport struct {
	Blocks       uint64 // blocks checked, genesis included
	Transactions uint64 // transactions checked
	Valid        uint64 // of which valid
	StateKeys    uint64 // keys of the world state rebuilt and compared
	LastHash     string
}

// BadBlockError names the first block that fails verification.
type BadBlockError struct {
	Number uint64
	Reason string
}

// Error says which block is bad and why.
func (e *BadBlockError) Error() string { return fmt.Sprintf("block %d: %s", e.Number, e.Reason) }

// Verify checks the whole chain of the ledger in dir: every block's number,
// link to its predecessor and data hash, every transaction's ID and its
// creator's signature against the channel's CAs, the recorded height and
// last hash, and that replaying the valid writes rebuilds the world state
// exactly. The first fault is returned as a *BadBlockError wrapped in an
// EINTERNAL greenmint.Error.
func Verify(ctx context.Context, dir string) (*VerifyReport, error) {
	db, err := openStore(dir, false)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return verifyDB(ctx, db)
}

// Verify checks the chain of an open ledger; see the package-level Verify.
func (l *Ledger) Verify(ctx context.Context) (*VerifyReport, error) { return verifyDB(ctx, l.db) }

func bad(n uint64, format string, args ...any) error {
	return &greenmint.Error{Code: greenmint.EINTERNAL, Op: "ledger verify", Err: &BadBlockError{Number: n, Reason: fmt.Sprintf(format, args...)}}
}

func verifyDB(ctx context.Context, db *pebble.DB) (*VerifyReport, error) {
	rep := &VerifyReport{}
	snap := db.NewSnapshot() // one consistent view, even while the ledger commits
	defer snap.Close()
	v := view{snap}
	err := func() error {
		h, err := v.raw(metaHeight)
		if err != nil {
			return err
		}
		if h == nil {
			return greenmint.Errorf(greenmint.ENOTFOUND, "no ledger here")
		}
		height := beUint64(h)
		var verifier *mspVerifier
		state := map[string][]byte{}
		prevHash := ""
		it, err := snap.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixBlock}, UpperBound: []byte{prefixBlock + 1}})
		if err != nil {
			return err
		}
		defer it.Close()
		n := uint64(0)
		for ok := it.First(); ok; ok = it.Next() {
			k, raw := it.Key()[1:], it.Value()
			if err := ctx.Err(); err != nil {
				return greenmint.Errorf(greenmint.EUNAVAILABLE, "verification stopped: %v", err)
			}
			if beUint64(k) != n {
				return bad(n, "missing; found block %d in its place", beUint64(k))
			}
			var b Block
			if err := json.Unmarshal(raw, &b); err != nil {
				return bad(n, "does not decode: %v", err)
			}
			again, err := greenmint.Canonical(&b)
			if err != nil || !bytes.Equal(again, raw) {
				return bad(n, "stored bytes are not canonical (altered)")
			}
			if b.Header.Number != n {
				return bad(n, "header says number %d", b.Header.Number)
			}
			if b.Header.PreviousHash != prevHash {
				return bad(n, "previous hash %.16s… does not match block %d's hash %.16s…", b.Header.PreviousHash, n-1, prevHash)
			}
			dh, err := b.computeDataHash()
			if err != nil || dh != b.Header.DataHash {
				return bad(n, "data hash does not match its transactions")
			}
			if n == 0 {
				if b.Data.Config == nil {
					return bad(0, "genesis block holds no channel config")
				}
				if verifier, err = newMSPVerifier(b.Data.Config.Orgs); err != nil {
					return bad(0, "channel config: %v", err)
				}
			} else if b.Data.Config != nil {
				return bad(n, "carries a channel config; only block 0 may")
			}
			for i, tx := range b.Data.Transactions {
				if err := verifyTx(verifier, &tx); err != nil {
					return bad(n, "transaction %d (%s): %v", i, tx.TxID, err)
				}
				rep.Transactions++
				if tx.Validation != TxValid {
					continue
				}
				rep.Valid++
				for _, w := range tx.Writes {
					if w.Delete {
						delete(state, w.Key)
					} else {
						state[w.Key] = encodeState(Version{Block: n, Tx: uint64(i)}, w.Value)
					}
				}
			}
			if prevHash, err = b.Hash(); err != nil {
				return bad(n, "cannot hash header: %v", err)
			}
			n++
		}
		rep.Blocks = n
		rep.LastHash = prevHash
		if n != height {
			return bad(n, "the ledger records a height of %d but holds %d blocks", height, n)
		}
		lastRaw, err := v.raw(metaLastHash)
		if err != nil {
			return err
		}
		if last := string(lastRaw); last != prevHash {
			return bad(n-1, "the recorded last hash %.16s… is not the hash of the last block", last)
		}
		sit, err := snap.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixState}, UpperBound: []byte{prefixState + 1}})
		if err != nil {
			return err
		}
		defer sit.Close()
		for ok := sit.First(); ok; ok = sit.Next() {
			k := string(sit.Key()[1:])
			want, ok := state[k]
			if !ok || !bytes.Equal(want, sit.Value()) {
				return bad(n-1, "world state key %q does not match the chain's writes", k)
			}
			delete(state, k)
			rep.StateKeys++
		}
		for k := range state {
			return bad(n-1, "world state lacks key %q written by the chain", k)
		}
		return nil
	}()
	if err != nil {
		return nil, err
	}
	return rep, nil
}

func verifyTx(v *mspVerifier, tx *Transaction) error {
	var p Proposal
	if err := json.Unmarshal(tx.Proposal, &p); err != nil {
		return fmt.Errorf("proposal does not decode: %v", err)
	}
	if p.TxID != tx.TxID {
		return fmt.Errorf("proposal is for transaction %s", p.TxID)
	}
	want := sha256.Sum256(append(append([]byte(nil), p.Nonce...), p.Creator...))
	if p.TxID != hex.EncodeToString(want[:]) {
		return fmt.Errorf("transaction ID is not derived from nonce and creator")
	}
	switch tx.Validation {
	case TxValid, TxMVCCReadConflict, TxPhantomReadConflict, TxDuplicateTxID:
	default:
		return fmt.Errorf("unknown validation code %q", tx.Validation)
	}
	if _, err := v.verify(p.Creator, tx.Proposal, tx.Signature, time.Unix(p.Seconds, int64(p.Nanos))); err != nil {
		return err
	}
	return nil
}
