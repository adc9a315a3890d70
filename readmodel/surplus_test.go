package readmodel_test

import (
	"context"
	"reflect"
	"slices"
	"strconv"
	"testing"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/internal/store"
	"github.com/greenmint/greenmint/readmodel"
)

// A batch's surplus_bp is floor(10000·surplus hours / period hours), gaps
// counted among the period's hours; batch, listing and holding lists filter
// on it; a rebuild gives the same column and Reconcile checks it.
func TestBatchSurplusShare(t *testing.T) {
	ctx := context.Background()
	n := greenminttest.NewNetwork(t)
	var last *greenmint.TxResult
	submit := func(id *greenmint.Identity, fn string, req, resp any) {
		t.Helper()
		res, err := greenmint.SubmitJSON(ctx, n.Ledger, id, fn, req, resp)
		if err != nil {
			t.Fatalf("%s: %v", fn, err)
		}
		last = res
	}
	gap := func(h int) bool { return h%50 == 7 }
	never := func(int) bool { return false }
	week := greenminttest.DemoWeek
	day1 := greenminttest.Period{Start: week.End(), Hours: 24}
	day2 := greenminttest.Period{Start: day1.End(), Hours: 24}
	batches := []struct {
		name    string
		p       greenminttest.Period
		surplus func(h int) bool
		gap     func(h int) bool
		want    int64 // counted by hand
	}{
		// Hours 1, 5, 9… of 168: 42, less the gaps 57 and 157: 40; 400000/168 = 2380.95.
		{"a quarter", week, func(h int) bool { return h%4 == 1 }, gap, 2380},
		// Every hour but the gap 7: 23 of 24; 230000/24 = 9583.33.
		{"all but a gap", day1, func(int) bool { return true }, gap, 9583},
		{"none", day2, never, never, 0},
	}
	ids := make([]string, len(batches))
	listings := make([]string, len(batches))
	submit(n.Buyer, greenmint.TxOpenAccount, greenmint.OpenAccountRequest{}, nil)
	for i, b := range batches {
		sa, err := n.AttestHours(n.Site, greenmint.EAC, b.p, b.surplus, b.gap, greenminttest.OracleAID, greenminttest.OracleBID)
		if err != nil {
			t.Fatal(err)
		}
		var minted greenmint.MintResult
		submit(n.OracleA, greenmint.TxMint, greenmint.MintRequest{Attestation: *sa}, &minted)
		ids[i] = minted.BatchID
		// Later changes of the batch keep its surplus share.
		var l greenmint.Listing
		submit(n.Miner, greenmint.TxListForSale, greenmint.ListRequest{BatchID: minted.BatchID, Quantity: minted.Quantity / 4, PriceMinor: 1000, Currency: "EUR"}, &l)
		listings[i] = l.ID
	}
	submit(n.Miner, greenmint.TxTransfer, greenmint.TransferRequest{BatchID: ids[0], To: n.Buyer.MSPID, Quantity: 10}, nil)

	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			p, err := readmodel.New(ctx, n.Ledger, db)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.SyncTo(ctx, last.TxID); err != nil {
				t.Fatal(err)
			}
			es, err := db.ProjectedEntities(ctx, store.KindBatch)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, e := range es {
				got[e.Key] = e.Fields["surplus_bp"]
			}
			for i, b := range batches {
				if want := strconv.FormatInt(b.want, 10); got[ids[i]] != want {
					t.Errorf("surplus_bp of batch %q = %q, want %s", b.name, got[ids[i]], want)
				}
			}

			tests := []struct {
				min                        int64
				owner                      string
				batches, listings, holding []string
			}{
				{0, "", ids, listings, nil},
				{1, "", ids[:2], listings[:2], nil},
				{2380, "", ids[:2], listings[:2], nil},
				{2381, "", ids[1:2], listings[1:2], nil},
				{9583, "", ids[1:2], listings[1:2], nil},
				{9584, "", nil, nil, nil},
				{2000, n.Buyer.MSPID, nil, nil, ids[:1]},
				{2381, n.Buyer.MSPID, nil, nil, nil},
				{9000, n.Miner.MSPID, nil, nil, ids[1:2]},
			}
			for _, tc := range tests {
				if tc.owner == "" {
					bs, _, err := db.ReadModelBatches(ctx, store.Filter{MinSurplusBP: tc.min})
					if gotIDs := idsOf(bs, func(b greenmint.Batch) string { return b.ID }); err != nil || !slices.Equal(gotIDs, sortedCopy(tc.batches)) {
						t.Errorf("ReadModelBatches(MinSurplusBP %d) = %v, %v, want %v", tc.min, gotIDs, err, tc.batches)
					}
					ls, _, err := db.ReadModelListings(ctx, store.Filter{MinSurplusBP: tc.min})
					if gotIDs := idsOf(ls, func(l greenmint.Listing) string { return l.ID }); err != nil || !slices.Equal(gotIDs, sortedCopy(tc.listings)) {
						t.Errorf("ReadModelListings(MinSurplusBP %d) = %v, %v, want %v", tc.min, gotIDs, err, tc.listings)
					}
					continue
				}
				hs, _, err := db.ReadModelHoldings(ctx, store.Filter{Owner: tc.owner, MinSurplusBP: tc.min})
				if gotIDs := idsOf(hs, func(h greenmint.Holding) string { return h.BatchID }); err != nil || !slices.Equal(gotIDs, sortedCopy(tc.holding)) {
					t.Errorf("ReadModelHoldings(%s, MinSurplusBP %d) = %v, %v, want %v", tc.owner, tc.min, gotIDs, err, tc.holding)
				}
			}
			for _, bad := range []int64{-1, 10001} {
				if _, _, err := db.ReadModelListings(ctx, store.Filter{MinSurplusBP: bad}); greenmint.ErrorCode(err) != greenmint.EINVALID {
					t.Errorf("ReadModelListings(MinSurplusBP %d) = %v, want invalid", bad, err)
				}
			}
			if _, _, err := db.ReadModelSites(ctx, store.Filter{MinSurplusBP: 1}); greenmint.ErrorCode(err) != greenmint.EINVALID {
				t.Errorf("ReadModelSites(MinSurplusBP 1) = %v, want invalid", err)
			}

			if diffs := mustReconcile(t, p, n, last.TxID); len(diffs) != 0 {
				t.Fatalf("Reconcile = %v, want no difference", diffs)
			}
			before := snapshot(t, db)
			if err := p.Reindex(ctx, last.TxID); err != nil {
				t.Fatal(err)
			}
			if after := snapshot(t, db); !reflect.DeepEqual(after, before) {
				t.Fatalf("rebuilt from block 0:\n%v\nwant\n%v", after, before)
			}
			if rows, err := db.ExecReadModel(ctx, "UPDATE rm_batches SET surplus_bp = 10000 WHERE id = ?", ids[2]); err != nil || rows != 1 {
				t.Fatalf("damaging surplus_bp: %d rows, %v", rows, err)
			}
			diffs := mustReconcile(t, p, n, last.TxID)
			if len(diffs) != 1 || diffs[0].Key != ids[2] || diffs[0].Field != "surplus_bp" || diffs[0].Problem != readmodel.Differs {
				t.Fatalf("Reconcile after damaging surplus_bp = %v, want batch %s differs surplus_bp", diffs, ids[2])
			}
		})
	}
}

func idsOf[T any](xs []T, id func(T) string) []string {
	var out []string
	for _, x := range xs {
		out = append(out, id(x))
	}
	return out
}

func sortedCopy(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return sorted(slices.Clone(s)...)
}
