package readmodel

import (
	"context"
	"strings"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/store"
)

// PublicFunctions are the transactions everyone may follow: what was
// minted and what was retired (batches and retirement statements are
// public-verification data).
var PublicFunctions = []string{greenmint.TxMint, greenmint.TxReissueBatch, greenmint.TxRetire}

// IsPublic reports whether an event is one of PublicFunctions.
func IsPublic(ev store.RecordedEvent) bool {
	for _, f := range PublicFunctions {
		if ev.Function == f {
			return true
		}
	}
	return false
}

// Visible reports whether organisation org may follow an event, by the
// contract's read rule (R11): the registry and admitted auditors
// (readsEverything) follow every event; an organisation follows the events
// that touch its own data: its account and holdings, listings it sells or
// reserved or bought, its retirement statements, flags on batches it was
// minted or holds, and the transactions it made itself.
func Visible(ctx context.Context, db *store.DB, ev store.RecordedEvent, org string, readsEverything bool) (bool, error) {
	if readsEverything || ev.Creator == org {
		return true, nil
	}
	for _, k := range ev.Keys {
		parts := strings.Split(k, "/")
		if len(parts) < 2 {
			continue
		}
		switch parts[0] {
		case "account":
			if parts[1] == org {
				return true, nil
			}
		case "holding":
			if parts[1] == org {
				return true, nil
			}
		case "listing":
			l, err := db.ReadModelListing(ctx, parts[1])
			if err != nil && greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
				return false, err
			}
			if err == nil && (l.Seller == org || l.Buyer == org) {
				return true, nil
			}
		case "retirement":
			r, err := db.ReadModelRetirement(ctx, parts[1])
			if err != nil && greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
				return false, err
			}
			if err == nil && r.Owner == org {
				return true, nil
			}
		case "flag":
			b, err := db.ReadModelBatch(ctx, parts[1])
			if err != nil && greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
				return false, err
			}
			if err == nil && b.Owner == org {
				return true, nil
			}
			if _, err := db.ReadModelHolding(ctx, org, parts[1]); err == nil {
				return true, nil
			} else if greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
				return false, err
			}
		}
	}
	return false, nil
}
