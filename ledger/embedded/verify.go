package embedded

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/greenmint/greenmint"
)

// VerifyReport is what a chain verification found.
type VerifyReport struct {
	Blocks       uint64 // blocks checked, genesis included: the block file's height
	Transactions uint64 // transactions checked
	Valid        uint64 // of which valid
	StateKeys    uint64 // keys of the world state rebuilt and compared
	LastHash     string // the head block's hash
	// Pending counts blocks (0 or 1) made durable in the block file that the
	// state store had not committed when the ledger stopped; the next Open
	// applies them. Blocks and LastHash include them.
	Pending uint64
}

// BadBlockError names the first block that fails verification.
type BadBlockError struct {
	Number uint64
	Reason string
	Err    error // what the check met, if an error: Reason ends with it
}

// Error says which block is bad and why.
func (e *BadBlockError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("block %d: %s: %v", e.Number, e.Reason, e.Err)
	}
	return fmt.Sprintf("block %d: %s", e.Number, e.Reason)
}

// Unwrap returns the error the check met, if any.
func (e *BadBlockError) Unwrap() error { return e.Err }

// Verify checks the whole ledger in dir, opening it read-only and changing
// nothing on disk: every record of the block file (framing and checksum),
// every block's number, link to its predecessor and data hash, every
// transaction's ID and its creator's signature against the channel's CAs
// at the transaction's time; that the state store's height and head hash
// are the block file's; and that the state store holds exactly what
// replaying the chain gives: the same blocks, world state, key history and
// transaction index, every key read (so damage anywhere in its files is
// found). The first fault is returned as a *BadBlockError wrapped in an
// EINTERNAL greenmint.Error.
func Verify(ctx context.Context, dir string) (rep *VerifyReport, err error) {
	db, err := openStore(dir, storeReadOnly, nil)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	defer recoverStore(&err, "verifying the ledger in "+dir)
	return verifyChain(ctx, dir, filepath.Join(dir, BlockFileName), db, false)
}

// Verify checks the chain of an open ledger up to its height when it is
// called; see the package-level Verify.
func (l *Ledger) Verify(ctx context.Context) (rep *VerifyReport, err error) {
	if err := l.stopped(); err != nil {
		return nil, err
	}
	defer l.recoverStore(&err, "verifying the ledger")
	return verifyChain(ctx, l.dir, l.blocks.path, l.db, true)
}

func bad(n uint64, format string, args ...any) error {
	return &greenmint.Error{Code: greenmint.EINTERNAL, Err: &BadBlockError{Number: n, Reason: fmt.Sprintf(format, args...)}}
}

// badCause is bad for a check that met the error cause, which it keeps.
func badCause(n uint64, cause error, format string, args ...any) error {
	return &greenmint.Error{Code: greenmint.EINTERNAL, Err: &BadBlockError{Number: n, Reason: fmt.Sprintf(format, args...), Err: cause}}
}

// expected is one entry the state store must hold, and the block that
// wrote it.
type expected struct {
	sum   [sha256.Size]byte
	block uint64
}

// verifyChain verifies the block file at path and the state store db of
// the ledger in dir against each other. In a live ledger the block file
// is read up to the state store's height only.
func verifyChain(ctx context.Context, dir, path string, db *pebble.DB, live bool) (*VerifyReport, error) {
	rep := &VerifyReport{}
	snap := db.NewSnapshot() // one consistent view, even while the ledger commits
	defer snap.Close()
	v := view{snap}
	hs, hashS, err := readHead(v)
	if err != nil {
		return nil, err
	}
	if hs == 0 {
		return nil, greenmint.Errorf(greenmint.ENOTFOUND, "no ledger in %s", dir)
	}
	limit := uint64(0)
	if live {
		limit = hs
	}
	var (
		verifier   *mspVerifier
		prevHash   string
		hashBefore string // hash of block hs-1 in the block file
		blockSums  [][sha256.Size]byte
		state      = map[string]expected{}
		history    = map[string]expected{}
		txIndex    = map[string]expected{}
	)
	scan, err := scanBlockFile(path, limit, func(n uint64, raw []byte, off int64) error {
		if err := ctx.Err(); err != nil {
			return greenmint.E(greenmint.EUNAVAILABLE, "", err, "verification stopped")
		}
		where := fmt.Sprintf("in the block file %s at offset %d", path, off)
		b, err := decodeBlock(raw)
		if err != nil {
			return badCause(n, err, "%s: does not decode", where)
		}
		again, err := greenmint.Canonical(b)
		if err != nil || !bytes.Equal(again, raw) {
			return bad(n, "%s: stored bytes are not canonical (altered)", where)
		}
		if b.Header.Number != n {
			return bad(n, "%s: header says number %d", where, b.Header.Number)
		}
		if b.Header.PreviousHash != prevHash {
			return bad(n, "%s: previous hash %.16s… does not match block %d's hash %.16s…", where, b.Header.PreviousHash, n-1, prevHash)
		}
		dh, err := b.computeDataHash()
		if err != nil || dh != b.Header.DataHash {
			return bad(n, "%s: data hash does not match its transactions", where)
		}
		if n == 0 {
			if b.Data.Config == nil {
				return bad(0, "%s: genesis block holds no channel config", where)
			}
			if verifier, err = newMSPVerifier(b.Data.Config.Orgs); err != nil {
				return badCause(0, err, "%s: channel config", where)
			}
		} else if b.Data.Config != nil {
			return bad(n, "%s: carries a channel config; only block 0 may", where)
		}
		for i, tx := range b.Data.Transactions {
			p, err := verifyTx(verifier, &tx)
			if err != nil {
				return badCause(n, err, "%s: transaction %d (%s)", where, i, tx.TxID)
			}
			rep.Transactions++
			if tx.Validation == TxValid {
				rep.Valid++
			}
			if n >= hs {
				continue // not in the state store yet
			}
			ver := Version{Block: n, Tx: uint64(i)}
			if tx.Validation != TxDuplicateTxID {
				txIndex[string(txKey(tx.TxID))] = expected{sha256.Sum256(append(u64(n), u64(uint64(i))...)), n}
			}
			if tx.Validation != TxValid {
				continue
			}
			for _, w := range tx.Writes {
				if w.Delete {
					delete(state, string(stateKey(w.Key)))
				} else {
					state[string(stateKey(w.Key))] = expected{sha256.Sum256(encodeState(ver, w.Value)), n}
				}
				he := historyEntry{TxID: tx.TxID, Seconds: p.Seconds, Nanos: p.Nanos, Value: w.Value, Delete: w.Delete}.encode()
				history[string(historyKey(w.Key, ver))] = expected{sha256.Sum256(he), n}
			}
		}
		if prevHash, err = b.Hash(); err != nil {
			return badCause(n, err, "%s: cannot hash header", where)
		}
		if n+1 == hs {
			hashBefore = prevHash
		}
		blockSums = append(blockSums, sha256.Sum256(raw))
		return nil
	})
	if errors.Is(err, errNoBlockFile) {
		return nil, greenmint.Errorf(greenmint.ENOTFOUND, "no block file %s: this ledger predates block files; open it once (any command that uses it) to write one from its verified chain", path)
	}
	if err != nil {
		var ge *greenmint.Error
		if errors.As(err, &ge) {
			return nil, err
		}
		return nil, greenmint.E(greenmint.EUNAVAILABLE, "", err, "cannot read the block file %s", path)
	}
	if err := compareHeads(dir, v, scan, live); err != nil {
		return nil, err
	}
	if scan.count == hs+1 && hashBefore != hashS {
		return nil, bad(hs-1, "the state store records head hash %.16s… but block %d in the block file %s hashes to %.16s…", hashS, hs-1, path, hashBefore)
	}
	rep.Blocks, rep.LastHash = scan.count, scan.lastHash
	if scan.count > hs {
		rep.Pending = scan.count - hs
	}

	// The state store must hold exactly what the chain gives, key by key.
	store := filepath.Join(dir, StoreDir)
	it, err := snap.NewIter(nil)
	if err != nil {
		return nil, badCause(0, pebbleError{err}, "the state store %s cannot be read", store)
	}
	defer it.Close()
	next := uint64(0) // the next block the state store must hold
	lastKey := []byte(nil)
	for ok := it.First(); ok; ok = it.Next() {
		if err := ctx.Err(); err != nil {
			return nil, greenmint.E(greenmint.EUNAVAILABLE, "", err, "verification stopped")
		}
		k, val := it.Key(), it.Value()
		lastKey = append(lastKey[:0], k...)
		var want map[string]expected
		switch k[0] {
		case prefixBlock:
			n := beUint64(k[1:])
			if len(k) != 9 || n >= hs {
				return nil, bad(hs-1, "the state store %s holds block key %x beyond its recorded height %d", store, k, hs)
			}
			if n != next {
				return nil, bad(next, "missing from the state store %s (found block %d in its place)", store, n)
			}
			if sha256.Sum256(val) != blockSums[n] {
				return nil, bad(n, "the state store's copy (%s) differs from the block file %s", store, path)
			}
			next++
			continue
		case prefixMeta:
			if !bytes.Equal(k, metaHeight) && !bytes.Equal(k, metaLastHash) {
				return nil, bad(hs-1, "the state store %s holds an unknown key %q", store, k)
			}
			continue
		case prefixState:
			want = state
			rep.StateKeys++
		case prefixHistory:
			want = history
		case prefixTx:
			want = txIndex
		default:
			return nil, bad(hs-1, "the state store %s holds an unknown key %q", store, k)
		}
		e, ok := want[string(k)]
		if !ok {
			return nil, bad(hs-1, "the state store %s holds %s that no block wrote", store, describeKey(k))
		}
		if sha256.Sum256(val) != e.sum {
			return nil, bad(e.block, "%s in the state store %s does not match the chain's writes", describeKey(k), store)
		}
		delete(want, string(k))
	}
	if err := it.Error(); err != nil {
		return nil, badCause(min(next, hs-1), pebbleError{err}, "the state store %s cannot be read after key %q", store, lastKey)
	}
	if next < hs {
		return nil, bad(next, "missing from the state store %s", store)
	}
	for _, m := range []map[string]expected{state, history, txIndex} {
		if k, e, ok := firstMissing(m); ok {
			return nil, bad(e.block, "the state store %s lacks %s written by the chain", store, describeKey([]byte(k)))
		}
	}
	return rep, nil
}

// describeKey names a state store key for people.
func describeKey(k []byte) string {
	switch k[0] {
	case prefixState:
		return fmt.Sprintf("world state key %q", k[1:])
	case prefixHistory:
		if len(k) >= 21 {
			return fmt.Sprintf("the history entry of key %q", k[5:len(k)-16])
		}
	case prefixTx:
		return fmt.Sprintf("the index entry of transaction %s", k[1:])
	}
	return fmt.Sprintf("key %q", k)
}

// firstMissing returns the entry of m written by the earliest block.
func firstMissing(m map[string]expected) (string, expected, bool) {
	var key string
	var best expected
	found := false
	for k, e := range m {
		if !found || e.block < best.block || (e.block == best.block && k < key) {
			key, best, found = k, e, true
		}
	}
	return key, best, found
}

// verifyTx checks a committed transaction: its ID, its validation code,
// its creator's certificate and signature, and that the certificate was
// valid at the transaction's time.
func verifyTx(v *mspVerifier, tx *Transaction) (*Proposal, error) {
	var p Proposal
	if err := json.Unmarshal(tx.Proposal, &p); err != nil {
		return nil, fmt.Errorf("proposal does not decode: %w", err)
	}
	if p.TxID != tx.TxID {
		return nil, fmt.Errorf("proposal is for transaction %s", p.TxID)
	}
	want := sha256.Sum256(append(append([]byte(nil), p.Nonce...), p.Creator...))
	if p.TxID != hex.EncodeToString(want[:]) {
		return nil, fmt.Errorf("transaction ID is not derived from nonce and creator")
	}
	switch tx.Validation {
	case TxValid, TxMVCCReadConflict, TxPhantomReadConflict, TxDuplicateTxID:
	default:
		return nil, fmt.Errorf("unknown validation code %q", tx.Validation)
	}
	c, err := v.verify(p.Creator, tx.Proposal, tx.Signature)
	if err != nil {
		return nil, err
	}
	if err := c.validAt(time.Unix(p.Seconds, int64(p.Nanos)), "the transaction's time"); err != nil {
		return nil, err
	}
	return &p, nil
}
