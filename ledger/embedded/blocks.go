package embedded

import (
	"context"
	"fmt"

	"github.com/greenmint/greenmint"
)

// The methods below hand out committed blocks as the block file stores them
// (their canonical JSON), for offline proofs (package bundle). The identity
// is not used: on the embedded ledger only its operator reads blocks.

// BlockFormat names the bytes BlockBytes returns: "embedded", a Block's
// canonical JSON (docs/encoding.md).
func (l *Ledger) BlockFormat() string { return "embedded" }

// BlockBytes returns block n's canonical bytes. ENOTFOUND for a block
// beyond the height.
func (l *Ledger) BlockBytes(ctx context.Context, _ *greenmint.Identity, n uint64) (raw []byte, err error) {
	if err := l.stopped(); err != nil {
		return nil, err
	}
	defer l.recoverStore(&err, fmt.Sprintf("reading block %d", n))
	raw, err = view{l.db}.raw(blockKey(n))
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, greenmint.Errorf(greenmint.ENOTFOUND, "block %d does not exist", n)
	}
	return raw, nil
}

// BlockOfTx returns the number and canonical bytes of the block holding
// transaction txID. ENOTFOUND for an ID the ledger never committed.
func (l *Ledger) BlockOfTx(ctx context.Context, id *greenmint.Identity, txID string) (uint64, []byte, error) {
	_, n, err := l.Transaction(txID)
	if err != nil {
		return 0, nil, err
	}
	raw, err := l.BlockBytes(ctx, id, n)
	return n, raw, err
}

// ChainHeight returns the number of committed blocks, the genesis block
// included.
func (l *Ledger) ChainHeight(ctx context.Context, _ *greenmint.Identity) (uint64, error) {
	if err := l.stopped(); err != nil {
		return 0, err
	}
	return l.Height(), nil
}
