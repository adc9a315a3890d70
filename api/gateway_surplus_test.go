package api_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/api"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/internal/greenminttest"
)

// The marketplace, batches and holdings filtered by min_surplus_share (basis
// points) return exactly the listings, batches and holdings of batches whose
// period had at least that share of grid surplus hours, gaps counted among
// the period's hours and the share rounded down.
func TestSurplusShareFilter(t *testing.T) {
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			e := newGatewayEnv(t, db, envOptions{})
			n := e.net
			gap := func(h int) bool { return h == 7 }
			day := func(i int) greenminttest.Period {
				return greenminttest.Period{Start: greenminttest.DemoWeek.Start.Add(time.Duration(24*i) * time.Hour), Hours: 24}
			}
			batches := []struct {
				name    string
				surplus func(h int) bool
				share   int64 // counted by hand
			}{
				{"every third hour", func(h int) bool { return h%3 == 0 }, 3333}, // 0, 3 … 21: 8 of 24
				{"all but the gap", func(int) bool { return true }, 9583},        // 23 of 24
				{"none", func(int) bool { return false }, 0},
			}
			var ids, listings []string
			var last string
			for i, b := range batches {
				sa, err := n.AttestHours(n.Site, greenmint.EAC, day(i), b.surplus, gap, greenminttest.OracleAID, greenminttest.OracleBID)
				if err != nil {
					t.Fatal(err)
				}
				var minted greenmint.MintResult
				if _, err := greenmint.SubmitJSON(ctx, n.Ledger, n.OracleA, greenmint.TxMint, greenmint.MintRequest{Attestation: *sa}, &minted); err != nil {
					t.Fatalf("minting %q: %v", b.name, err)
				}
				var l api.Written[greenmint.Listing]
				e.call("POST", "/v1/listings", e.as("miner"), map[string]any{"batch_id": minted.BatchID, "quantity": minted.Quantity / 4, "price_minor": 9900, "currency": "EUR"}, 200, &l)
				ids, listings, last = append(ids, minted.BatchID), append(listings, l.Result.ID), l.TxID
			}
			e.call("POST", "/v1/account", e.as("buyer"), nil, 200, nil)
			var tr api.Written[greenmint.Holding]
			e.call("POST", "/v1/transfers", e.as("miner"), map[string]any{"batch_id": ids[1], "to": consortium.BuyerMSP, "quantity": 5}, 200, &tr)
			e.waitVisible(last)
			e.waitVisible(tr.TxID)

			tests := []struct {
				query                      string
				listings, batches, holding []string // holding: the buyer's
			}{
				{"", listings, ids, ids[1:2]},
				{"?min_surplus_share=0", listings, ids, ids[1:2]},
				{"?min_surplus_share=1", listings[:2], ids[:2], ids[1:2]},
				{"?min_surplus_share=3333", listings[:2], ids[:2], ids[1:2]},
				{"?min_surplus_share=3334", listings[1:2], ids[1:2], ids[1:2]},
				{"?min_surplus_share=9583&country=ES", listings[1:2], ids[1:2], ids[1:2]},
				{"?min_surplus_share=9584", nil, nil, nil},
				{"?min_surplus_share=10000", nil, nil, nil},
			}
			for _, tc := range tests {
				var ls api.List[greenmint.Listing]
				e.call("GET", "/v1/listings"+tc.query, e.as("buyer"), nil, 200, &ls)
				if got := listIDs(ls.Items, func(l greenmint.Listing) string { return l.ID }); !slices.Equal(got, sortedIDs(tc.listings)) {
					t.Errorf("GET /v1/listings%s = %v, want %v", tc.query, got, tc.listings)
				}
				var bs api.List[greenmint.Batch]
				e.call("GET", "/v1/batches"+tc.query, e.as("buyer"), nil, 200, &bs)
				if got := listIDs(bs.Items, func(b greenmint.Batch) string { return b.ID }); !slices.Equal(got, sortedIDs(tc.batches)) {
					t.Errorf("GET /v1/batches%s = %v, want %v", tc.query, got, tc.batches)
				}
				var hs api.List[greenmint.Holding]
				e.call("GET", "/v1/holdings"+tc.query, e.as("buyer"), nil, 200, &hs)
				if got := listIDs(hs.Items, func(h greenmint.Holding) string { return h.BatchID }); !slices.Equal(got, sortedIDs(tc.holding)) {
					t.Errorf("GET /v1/holdings%s (buyer) = %v, want %v", tc.query, got, tc.holding)
				}
			}
			for _, bad := range []string{"-1", "10001", "25%25", "0.5"} {
				r := e.do("GET", "/v1/listings?min_surplus_share="+bad, e.as("buyer"), nil)
				if p := e.problem(r, 400, greenmint.EINVALID); !mentions(p.Detail, p.Errors, "min_surplus_share") {
					t.Errorf("GET /v1/listings?min_surplus_share=%s = %s, want a problem naming min_surplus_share", bad, r.Body)
				}
			}
		})
	}
}

func listIDs[T any](xs []T, id func(T) string) []string {
	var out []string
	for _, x := range xs {
		out = append(out, id(x))
	}
	slices.Sort(out)
	return out
}

func sortedIDs(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
