package store_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/internal/store"
)

// ApplyEvents writes rows, the event and the checkpoint together: an event
// whose value does not decode is internal and keeps nothing of the call,
// an event at or before the checkpoint is skipped, and a deletion removes
// the row.
func TestApplyEventsAllOrNothing(t *testing.T) {
	ctx := context.Background()
	holding := func(tradable int64) greenmint.Change {
		v, _ := json.Marshal(greenmint.Holding{BatchID: "B1", Owner: "BuyerMSP", Tradable: tradable})
		return greenmint.Change{Kind: store.KindHolding, Key: []string{"BuyerMSP", "B1"}, Value: v}
	}
	ev := func(block uint64, idx int64, changes ...greenmint.Change) store.ProjectedEvent {
		return store.ProjectedEvent{Block: block, Index: idx, Payload: greenmint.EventPayload{TxID: "tx", Function: greenmint.TxTransfer, Changes: changes}}
	}
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			bad := greenmint.Change{Kind: store.KindListing, Key: []string{"LST-1"}, Value: json.RawMessage(`{"quantity":"many"}`)}
			if n, err := db.ApplyEvents(ctx, []store.ProjectedEvent{ev(3, 0, holding(5)), ev(3, 1, bad)}); greenmint.ErrorCode(err) != greenmint.EINTERNAL || n != 0 {
				t.Fatalf("ApplyEvents(undecodable) = %d, %v, want internal", n, err)
			}
			if cp, err := db.ReadModelCheckpoint(ctx); err != nil || !cp.Empty {
				t.Fatalf("checkpoint after a refused call = %+v, %v, want none", cp, err)
			}
			if _, err := db.ReadModelHolding(ctx, "BuyerMSP", "B1"); greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
				t.Fatalf("holding after a refused call: %v, want not_found", err)
			}
			if n, err := db.ApplyEvents(ctx, []store.ProjectedEvent{ev(3, 0, holding(5)), ev(3, 1, holding(6))}); err != nil || n != 2 {
				t.Fatalf("ApplyEvents = %d, %v", n, err)
			}
			if n, err := db.ApplyEvents(ctx, []store.ProjectedEvent{ev(3, 1, holding(99)), ev(2, 7, holding(98))}); err != nil || n != 0 {
				t.Fatalf("ApplyEvents(applied events) = %d, %v, want 0", n, err)
			}
			if h, err := db.ReadModelHolding(ctx, "BuyerMSP", "B1"); err != nil || h.Tradable != 6 {
				t.Fatalf("holding = %+v, %v, want tradable 6", h, err)
			}
			del := greenmint.Change{Kind: store.KindHolding, Key: []string{"BuyerMSP", "B1"}, Deleted: true}
			if n, err := db.ApplyEvents(ctx, []store.ProjectedEvent{ev(4, 0, del)}); err != nil || n != 1 {
				t.Fatalf("ApplyEvents(deletion) = %d, %v", n, err)
			}
			if _, err := db.ReadModelHolding(ctx, "BuyerMSP", "B1"); greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
				t.Fatalf("deleted holding: %v, want not_found", err)
			}
			if cp, err := db.ReadModelCheckpoint(ctx); err != nil || cp.Block != 4 || cp.Index != 0 {
				t.Fatalf("checkpoint = %+v, %v, want block 4 index 0", cp, err)
			}
		})
	}
}
