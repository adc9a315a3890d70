package readmodel_test

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/internal/store"
	"github.com/greenmint/greenmint/readmodel"
)

// flow is what the demo-like flow made: the batch, its open and sold
// listings, the retirement, the flag, and the last transaction.
type flow struct {
	BatchID, Sold, Open, Retirement, Flag string
	Last                                  *greenmint.TxResult
}

// runFlow mints a batch on n's site and has it transferred, listed,
// reserved, confirmed, retired and flagged, as the demo does.
func runFlow(tb testing.TB, n *greenminttest.Network) flow {
	tb.Helper()
	ctx := context.Background()
	var f flow
	submit := func(id *greenmint.Identity, fn string, req, resp any) {
		tb.Helper()
		res, err := greenmint.SubmitJSON(ctx, n.Ledger, id, fn, req, resp)
		if err != nil {
			tb.Fatalf("%s: %v", fn, err)
		}
		f.Last = res
	}
	sa, err := n.Attest(n.Site, greenmint.EAC, greenminttest.DemoWeek, greenminttest.OracleAID, greenminttest.OracleBID)
	if err != nil {
		tb.Fatal(err)
	}
	var minted greenmint.MintResult
	submit(n.OracleA, greenmint.TxMint, greenmint.MintRequest{Attestation: *sa}, &minted)
	f.BatchID = minted.BatchID
	q := minted.Quantity
	submit(n.Buyer, greenmint.TxOpenAccount, greenmint.OpenAccountRequest{}, nil)
	submit(n.Miner, greenmint.TxTransfer, greenmint.TransferRequest{BatchID: f.BatchID, To: n.Buyer.MSPID, Quantity: q / 10}, nil)
	var sold, open greenmint.Listing
	submit(n.Miner, greenmint.TxListForSale, greenmint.ListRequest{BatchID: f.BatchID, Quantity: q / 4, PriceMinor: 10_000, Currency: "EUR"}, &sold)
	submit(n.Buyer, greenmint.TxReserveListing, greenmint.ListingRequest{ListingID: sold.ID}, nil)
	submit(n.Miner, greenmint.TxConfirmPayment, greenmint.ListingRequest{ListingID: sold.ID}, nil)
	submit(n.Miner, greenmint.TxListForSale, greenmint.ListRequest{BatchID: f.BatchID, Quantity: q / 5, PriceMinor: 5_000, Currency: "EUR"}, &open)
	f.Sold, f.Open = sold.ID, open.ID
	var st greenmint.RetirementStatement
	submit(n.Buyer, greenmint.TxRetire, greenmint.RetireRequest{
		Parts:       []greenmint.RetirePart{{BatchID: f.BatchID, Quantity: q / 8}},
		Beneficiary: "Acme Offsets GmbH", Jurisdiction: "DE-BE", Purpose: greenmint.PurposeVoluntary, ReportingYear: 2023, Reason: "office electricity",
	}, &st)
	f.Retirement = st.ID
	var fl greenmint.Flag
	submit(n.Auditor, greenmint.TxFlagBatch, greenmint.FlagRequest{BatchID: f.BatchID, Reason: "meter data under review"}, &fl)
	f.Flag = fl.ID
	return f
}

// snapshot is every projected row and recorded event of a read model.
func snapshot(tb testing.TB, db *store.DB) map[string]any {
	tb.Helper()
	ctx := context.Background()
	out := map[string]any{}
	for _, k := range store.ProjectedKinds() {
		es, err := db.ProjectedEntities(ctx, k)
		if err != nil {
			tb.Fatal(err)
		}
		out[k] = es
	}
	evs, err := db.ReadModelEvents(ctx, -1, 0, store.MaxPageLimit)
	if err != nil {
		tb.Fatal(err)
	}
	out["events"] = evs
	return out
}

func mustReconcile(tb testing.TB, p *readmodel.Projector, n *greenminttest.Network, last string) []readmodel.Difference {
	tb.Helper()
	diffs, err := p.Reconcile(context.Background(), n.Registry, last)
	if err != nil {
		tb.Fatal(err)
	}
	return diffs
}

// The projection equals the ledger's state after the demo-like flow (mint,
// transfer, list, reserve, confirm, retire, flag), a rebuild from block 0
// gives the same rows and events, and the lists filter and page.
func TestProjectionEqualsLedger(t *testing.T) {
	ctx := context.Background()
	n := greenminttest.NewNetwork(t)
	f := runFlow(t, n)
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			p, err := readmodel.New(ctx, n.Ledger, db)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.SyncTo(ctx, f.Last.TxID); err != nil {
				t.Fatal(err)
			}
			if diffs := mustReconcile(t, p, n, f.Last.TxID); len(diffs) != 0 {
				t.Fatalf("Reconcile after the flow = %v, want no difference", diffs)
			}
			// Spot checks against the ledger's own answers.
			var want greenmint.Batch
			if err := greenmint.EvaluateJSON(ctx, n.Ledger, n.Registry, greenmint.QueryGetBatch, greenmint.IDQuery{ID: f.BatchID}, &want); err != nil {
				t.Fatal(err)
			}
			got, err := db.ReadModelBatch(ctx, f.BatchID)
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("ReadModelBatch(%s) = %+v, %v, want %+v", f.BatchID, got, err, want)
			}
			if want.OpenFlags != 1 || want.Retired == 0 || want.Escrowed == 0 {
				t.Fatalf("the flow did not flag, retire and list: %+v", want)
			}
			if _, err := db.ReadModelRetirement(ctx, f.Retirement); err != nil {
				t.Fatal(err)
			}
			hs, _, err := db.ReadModelHoldings(ctx, store.Filter{Owner: n.Buyer.MSPID})
			if err != nil || len(hs) != 1 || hs[0].BatchID != f.BatchID {
				t.Fatalf("ReadModelHoldings(buyer) = %+v, %v", hs, err)
			}
			tests := []struct {
				name   string
				filter store.Filter
				want   []string
			}{
				{"open", store.Filter{Status: string(greenmint.ListingOpen)}, []string{f.Open}},
				{"sold", store.Filter{Status: string(greenmint.ListingSold)}, []string{f.Sold}},
				{"seller", store.Filter{Owner: n.Miner.MSPID}, sorted(f.Open, f.Sold)},
				{"solar 2023 ES EAC", store.Filter{Technology: "solar_pv_utility", Vintage: 2023, Country: "ES", Instrument: string(greenmint.EAC)}, sorted(f.Open, f.Sold)},
				{"vintage 2022", store.Filter{Vintage: 2022}, nil},
				{"wind", store.Filter{Technology: "wind_onshore"}, nil},
				{"buyer sells nothing", store.Filter{Owner: n.Buyer.MSPID}, nil},
			}
			for _, tc := range tests {
				ls, _, err := db.ReadModelListings(ctx, tc.filter)
				if err != nil {
					t.Fatal(err)
				}
				var ids []string
				for _, l := range ls {
					ids = append(ids, l.ID)
				}
				if !slices.Equal(ids, tc.want) {
					t.Errorf("ReadModelListings(%s) = %v, want %v", tc.name, ids, tc.want)
				}
			}
			// Pages of one: every listing once, then no cursor.
			var paged []string
			cursor := ""
			for range 5 {
				ls, next, err := db.ReadModelListings(ctx, store.Filter{Limit: 1, Cursor: cursor})
				if err != nil {
					t.Fatal(err)
				}
				for _, l := range ls {
					paged = append(paged, l.ID)
				}
				if cursor = next; cursor == "" {
					break
				}
			}
			if !slices.Equal(paged, sorted(f.Open, f.Sold)) {
				t.Fatalf("listings paged one by one = %v", paged)
			}
			for _, bad := range []store.Filter{{Limit: 101}, {Limit: -1}, {Cursor: "not-a-cursor"}} {
				if _, _, err := db.ReadModelBatches(ctx, bad); greenmint.ErrorCode(err) != greenmint.EINVALID {
					t.Errorf("ReadModelBatches(%+v) = %v, want invalid", bad, err)
				}
			}

			before := snapshot(t, db)
			if err := p.Reindex(ctx, f.Last.TxID); err != nil {
				t.Fatal(err)
			}
			if after := snapshot(t, db); !reflect.DeepEqual(after, before) {
				t.Fatalf("rebuilt from block 0:\n%v\nwant\n%v", after, before)
			}
		})
	}
}

// Reconcile names a corrupted quantity, a missing row and an extra one by
// entity, key and field.
func TestReconcileNamesDamage(t *testing.T) {
	ctx := context.Background()
	n := greenminttest.NewNetwork(t)
	f := runFlow(t, n)
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			p, err := readmodel.New(ctx, n.Ledger, db)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.SyncTo(ctx, f.Last.TxID); err != nil {
				t.Fatal(err)
			}
			exec := func(sql string, args ...any) {
				t.Helper()
				if rows, err := db.ExecReadModel(ctx, sql, args...); err != nil || rows != 1 {
					t.Fatalf("%s: %d rows, %v", sql, rows, err)
				}
			}
			exec("UPDATE rm_holdings SET tradable = tradable + 7 WHERE owner = ? AND batch_id = ?", n.Buyer.MSPID, f.BatchID)
			exec("UPDATE rm_batches SET retired = 0 WHERE id = ?", f.BatchID)
			exec("UPDATE rm_batches SET technologies = ',wind_onshore,' WHERE id = ?", f.BatchID)
			exec("DELETE FROM rm_listings WHERE id = ?", f.Open)
			exec("INSERT INTO rm_flags (id, batch_id, auditor, status, doc) VALUES ('FLG-GHOST', ?, 'AuditorMSP', 'open', '{}')", f.BatchID)
			diffs := mustReconcile(t, p, n, f.Last.TxID)
			var got []string
			for _, d := range diffs {
				got = append(got, d.Kind+" "+d.Key+" "+d.Problem+" "+d.Field)
			}
			want := []string{
				"batch " + f.BatchID + " differs retired",
				"batch " + f.BatchID + " differs technologies",
				"flag FLG-GHOST extra ",
				"holding " + n.Buyer.MSPID + "/" + f.BatchID + " differs tradable",
				"listing " + f.Open + " missing ",
			}
			if !slices.Equal(got, want) {
				t.Fatalf("Reconcile = %q, want %q", got, want)
			}
			if s := diffs[3].String(); !strings.Contains(s, "tradable") || diffs[3].ReadModel == diffs[3].Ledger {
				t.Fatalf("difference %q does not say both values", s)
			}
			if err := p.Reindex(ctx, f.Last.TxID); err != nil {
				t.Fatal(err)
			}
			if diffs := mustReconcile(t, p, n, f.Last.TxID); len(diffs) != 0 {
				t.Fatalf("Reconcile after Reindex = %v, want none", diffs)
			}
		})
	}
}

// A projector resumes from its checkpoint without applying anything twice;
// a checkpoint left behind its rows (a crash between apply and checkpoint)
// re-applies events harmlessly; applying an applied event changes nothing.
func TestCheckpointResumes(t *testing.T) {
	ctx := context.Background()
	n := greenminttest.NewNetwork(t)
	f := runFlow(t, n)
	var res *greenmint.TxResult // a write after the first sync
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			p, err := readmodel.New(ctx, n.Ledger, db)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.SyncTo(ctx, f.Last.TxID); err != nil {
				t.Fatal(err)
			}
			cp := p.Checkpoint()
			// SyncTo stops at the flow's last event or, when another
			// database's run wrote res already, possibly after it.
			if (cp.TxID != f.Last.TxID || cp.Block != f.Last.BlockNumber) && (res == nil || cp.TxID != res.TxID) {
				t.Fatalf("checkpoint = %+v, want %s in block %d", cp, f.Last.TxID, f.Last.BlockNumber)
			}
			// More writes, then a new projector (a restart) on the same database.
			if res == nil { // the first database's run writes it; the others find it
				if res, err = greenmint.SubmitJSON(ctx, n.Ledger, n.Registry, greenmint.TxResolveFlag, greenmint.ResolveFlagRequest{BatchID: f.BatchID, FlagID: f.Flag, Outcome: greenmint.FlagDismissed, Resolution: "meter data checked"}, nil); err != nil {
					t.Fatal(err)
				}
			}
			p2, err := readmodel.New(ctx, n.Ledger, db)
			if err != nil {
				t.Fatal(err)
			}
			if p2.Checkpoint() != cp {
				t.Fatalf("a new projector starts at %+v, want %+v", p2.Checkpoint(), cp)
			}
			if err := p2.SyncTo(ctx, res.TxID); err != nil {
				t.Fatal(err)
			}
			checkEvents(t, n, db, res.TxID)
			if diffs := mustReconcile(t, p2, n, res.TxID); len(diffs) != 0 {
				t.Fatalf("Reconcile after resuming = %v", diffs)
			}
			// A crash after the rows but before the checkpoint: the checkpoint
			// is back at the flow's mint, the rows are ahead.
			mint, err := db.ReadModelEvents(ctx, -1, 0, store.MaxPageLimit)
			if err != nil {
				t.Fatal(err)
			}
			var first store.RecordedEvent
			for _, e := range mint {
				if e.Function == greenmint.TxMint {
					first = e
				}
			}
			if _, err := db.ExecReadModel(ctx, "UPDATE rm_checkpoint SET block = ?, idx = ?, tx_id = ?", first.Block, first.Index, first.TxID); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, db)
			p3, err := readmodel.New(ctx, n.Ledger, db)
			if err != nil {
				t.Fatal(err)
			}
			if err := p3.SyncTo(ctx, res.TxID); err != nil {
				t.Fatal(err)
			}
			if after := snapshot(t, db); !reflect.DeepEqual(after, before) {
				t.Fatalf("re-applying after a crash changed the read model:\n%v\nwant\n%v", after, before)
			}
			if p3.Checkpoint().TxID != res.TxID {
				t.Fatalf("checkpoint after re-applying = %+v", p3.Checkpoint())
			}
			// The same event applied again directly: nothing.
			applied, err := db.ApplyEvents(ctx, []store.ProjectedEvent{{Block: first.Block, Index: first.Index, Payload: greenmint.EventPayload{TxID: first.TxID, Function: "Transfer", Changes: []greenmint.Change{{Kind: "holding", Key: []string{n.Buyer.MSPID, f.BatchID}, Value: json.RawMessage(`{"batch_id":"` + f.BatchID + `","owner":"` + n.Buyer.MSPID + `","tradable":1}`)}}}}})
			if err != nil || applied != 0 {
				t.Fatalf("ApplyEvents(an applied event) = %d, %v, want 0", applied, err)
			}
			if diffs := mustReconcile(t, p3, n, res.TxID); len(diffs) != 0 {
				t.Fatalf("Reconcile after re-applying = %v", diffs)
			}
		})
	}
}

// checkEvents checks that the read model recorded every ledger event
// through lastTxID once, in ledger order.
func checkEvents(tb testing.TB, n *greenminttest.Network, db *store.DB, lastTxID string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ch, err := n.Ledger.Events(ctx, 0)
	if err != nil {
		tb.Fatal(err)
	}
	var want []string
	for ev := range ch {
		want = append(want, ev.TxID)
		if ev.TxID == lastTxID {
			break
		}
	}
	var got []string
	after, idx := int64(-1), int64(0)
	for {
		evs, err := db.ReadModelEvents(ctx, after, idx, store.MaxPageLimit)
		if err != nil {
			tb.Fatal(err)
		}
		if len(evs) == 0 {
			break
		}
		for _, e := range evs {
			got = append(got, e.TxID)
		}
		last := evs[len(evs)-1]
		after, idx = int64(last.Block), last.Index
	}
	if !slices.Equal(got, want) {
		tb.Fatalf("recorded events = %d %v\nwant %d %v", len(got), got, len(want), want)
	}
}

func sorted(s ...string) []string {
	slices.Sort(s)
	return s
}
