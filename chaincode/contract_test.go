package chaincode_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/greenminttest"
)

// TestLifeOfACertificate walks every transaction's happy path through the
// embedded ledger with real identities, checking R3 after each step.
func TestLifeOfACertificate(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()

	var site greenmint.Site
	w.query(t, w.Buyer, greenmint.QueryGetSite, greenmint.IDQuery{ID: "SITE0042"}, &site)
	if site.Status != greenmint.StatusApproved || site.Owner != w.Miner.MSPID {
		t.Fatalf("site = %+v, want approved and owned by %s", site, w.Miner.MSPID)
	}

	res := w.mintWeek(t, greenmint.CO2E)
	if res.BatchID != "CO2E-ES-SITE0042-20230601-0001" {
		t.Fatalf("batch ID = %s", res.BatchID)
	}
	b := w.checkR3(t, res.BatchID)
	// Hand check: matched 149,879,027 Wh of solar PV in Spain, (329 − 48) kg/MWh ⇒
	// 149,879,027 × 281,000 / 10^6 = 42,116,006.587 ⇒ 42,116,006 g.
	if b.Issued != 42_116_006 || b.MatchedWh != 149_879_027 {
		t.Fatalf("issued %d g from %d Wh, want 42116006 g from 149879027 Wh", b.Issued, b.MatchedWh)
	}
	var rec greenmint.AttestationRecord
	w.query(t, w.Buyer, greenmint.QueryGetAttestation, greenmint.IDQuery{ID: res.AttestationID}, &rec)
	if rec.BatchID != res.BatchID || len(rec.Attestation.Signatures) != 2 {
		t.Fatalf("attestation record = batch %s with %d signatures", rec.BatchID, len(rec.Attestation.Signatures))
	}

	// Transfer to the buyer, which needs an account first.
	err := w.call(w.Miner, greenmint.TxTransfer, greenmint.TransferRequest{BatchID: res.BatchID, To: w.Buyer.MSPID, Quantity: 1000}, nil)
	wantCode(t, err, greenmint.ENOTFOUND)
	w.mustCall(t, w.Buyer, greenmint.TxOpenAccount, greenmint.OpenAccountRequest{}, nil)
	w.mustCall(t, w.Miner, greenmint.TxTransfer, greenmint.TransferRequest{BatchID: res.BatchID, To: w.Buyer.MSPID, Quantity: 1000}, nil)
	if h := w.holding(t, res.BatchID, w.Buyer.MSPID); h.Tradable != 1000 {
		t.Fatalf("buyer holds %d, want 1000", h.Tradable)
	}
	w.checkR3(t, res.BatchID)

	// List, reserve, release, reserve (another buyer: the first is held
	// back for a reservation period), confirm.
	var lst greenmint.Listing
	w.mustCall(t, w.Miner, greenmint.TxListForSale, greenmint.ListRequest{BatchID: res.BatchID, Quantity: 5_000_000, PriceMinor: 12_500_00, Currency: "EUR"}, &lst)
	if b := w.checkR3(t, res.BatchID); b.Escrowed != 5_000_000 {
		t.Fatalf("escrowed %d, want 5000000", b.Escrowed)
	}
	w.mustCall(t, w.Miner2, greenmint.TxReserveListing, greenmint.ListingRequest{ListingID: lst.ID}, nil)
	w.mustCall(t, w.Miner2, greenmint.TxReleaseReservation, greenmint.ListingRequest{ListingID: lst.ID}, nil)
	w.mustCall(t, w.Buyer, greenmint.TxReserveListing, greenmint.ListingRequest{ListingID: lst.ID}, nil)
	w.mustCall(t, w.Miner, greenmint.TxConfirmPayment, greenmint.ListingRequest{ListingID: lst.ID}, &lst)
	if lst.Status != greenmint.ListingSold || lst.Buyer != w.Buyer.MSPID {
		t.Fatalf("listing = %+v", lst)
	}
	if h := w.holding(t, res.BatchID, w.Buyer.MSPID); h.Tradable != 5_001_000 {
		t.Fatalf("buyer holds %d, want 5001000", h.Tradable)
	}
	w.checkR3(t, res.BatchID)

	// A listing cancelled returns its escrow.
	var lst2 greenmint.Listing
	w.mustCall(t, w.Miner, greenmint.TxListForSale, greenmint.ListRequest{BatchID: res.BatchID, Quantity: 7, PriceMinor: 1, Currency: "USD"}, &lst2)
	w.mustCall(t, w.Miner, greenmint.TxCancelListing, greenmint.ListingRequest{ListingID: lst2.ID}, nil)
	if b := w.checkR3(t, res.BatchID); b.Escrowed != 0 {
		t.Fatalf("escrow after cancel = %d", b.Escrowed)
	}

	// Retire two batches in one statement: mint an EAC batch for the next week first.
	week2 := greenminttest.Period{Start: greenminttest.DemoWeek.Start.Add(7 * 24 * time.Hour), Hours: 24}
	sa2, err := w.Attest(w.site, greenmint.EAC, week2, greenminttest.OracleAID, greenminttest.OracleBID)
	if err != nil {
		t.Fatal(err)
	}
	res2, err := w.Mint(ctx, sa2)
	if err != nil {
		t.Fatal(err)
	}
	if res2.Quantity != sa2.Attestation.Totals.MatchedWh {
		t.Fatalf("EAC quantity %d, want matched Wh %d", res2.Quantity, sa2.Attestation.Totals.MatchedWh)
	}
	var st greenmint.RetirementStatement
	w.mustCall(t, w.Miner, greenmint.TxRetire, greenmint.RetireRequest{
		Parts:       []greenmint.RetirePart{{BatchID: res.BatchID, Quantity: 100}, {BatchID: res2.BatchID, Quantity: 2_000}},
		Beneficiary: "MinerCo", Jurisdiction: "ES-AN", Purpose: greenmint.PurposeScope2, ReportingYear: 2023,
	}, &st)
	var got greenmint.RetirementStatement
	w.query(t, w.Buyer, greenmint.QueryGetRetirement, greenmint.IDQuery{ID: st.ID}, &got)
	if len(got.Parts) != 2 || got.Parts[1].Instrument != greenmint.EAC || got.Owner != w.Miner.MSPID {
		t.Fatalf("statement = %+v", got)
	}
	if b := w.checkR3(t, res.BatchID); b.Retired != 100 {
		t.Fatalf("retired = %d", b.Retired)
	}

	// Registry cancels units with a reason.
	w.mustCall(t, w.Registry, greenmint.TxCancelUnits, greenmint.CancelUnitsRequest{BatchID: res.BatchID, Owner: w.Buyer.MSPID, Quantity: 1, Reason: "duplicate claim found"}, nil)
	if b := w.checkR3(t, res.BatchID); b.Cancelled != 1 {
		t.Fatalf("cancelled = %d", b.Cancelled)
	}

	// Auditor flags, the batch freezes, the registry dismisses the flag.
	var flag greenmint.Flag
	w.mustCall(t, w.Auditor, greenmint.TxFlagBatch, greenmint.FlagRequest{BatchID: res.BatchID, Reason: "check meter calibration"}, &flag)
	err = w.call(w.Buyer, greenmint.TxTransfer, greenmint.TransferRequest{BatchID: res.BatchID, To: w.Miner.MSPID, Quantity: 1}, nil)
	wantCode(t, err, greenmint.ECONFLICT)
	w.mustCall(t, w.Registry, greenmint.TxResolveFlag, greenmint.ResolveFlagRequest{BatchID: res.BatchID, FlagID: flag.ID, Outcome: greenmint.FlagDismissed, Resolution: "calibration certificate checked"}, nil)
	w.mustCall(t, w.Buyer, greenmint.TxTransfer, greenmint.TransferRequest{BatchID: res.BatchID, To: w.Miner.MSPID, Quantity: 1}, nil)
	var flags []greenmint.Flag
	w.query(t, w.Auditor, greenmint.QueryListFlags, greenmint.IDQuery{ID: res.BatchID}, &flags)
	if len(flags) != 1 || flags[0].Status != greenmint.FlagDismissed {
		t.Fatalf("flags = %+v", flags)
	}

	// Withdraw with an open listing, then reissue a corrected attestation.
	var lst3 greenmint.Listing
	w.mustCall(t, w.Buyer, greenmint.TxListForSale, greenmint.ListRequest{BatchID: res.BatchID, Quantity: 10, PriceMinor: 1, Currency: "EUR"}, &lst3)
	var wb greenmint.Batch
	w.mustCall(t, w.Registry, greenmint.TxWithdrawBatch, greenmint.WithdrawRequest{BatchID: res.BatchID, Reason: "meter SITE0042-PV recalibrated"}, &wb)
	b = w.checkR3(t, res.BatchID)
	if b.Status != greenmint.BatchWithdrawn || b.Tradable != 0 || b.Escrowed != 0 || b.Retired != 100 {
		t.Fatalf("withdrawn batch = %+v", b)
	}
	w.query(t, w.Buyer, greenmint.QueryGetListing, greenmint.IDQuery{ID: lst3.ID}, &lst3)
	if lst3.Status != greenmint.ListingCancelled {
		t.Fatalf("listing after withdrawal = %s", lst3.Status)
	}
	corrected := sa1Corrected(t, w)
	var re greenmint.MintResult
	w.mustCall(t, w.Registry, greenmint.TxReissueBatch, greenmint.ReissueRequest{WithdrawnBatchID: res.BatchID, Attestation: *corrected}, &re)
	nb := w.checkR3(t, re.BatchID)
	if nb.Replaces != res.BatchID || nb.CarriedRetired != 100 || nb.Issued != corrected.Attestation.Quantity-100 {
		t.Fatalf("reissued batch = %+v", nb)
	}
	if ob := w.batch(t, res.BatchID); ob.ReplacedBy != re.BatchID {
		t.Fatalf("old batch replaced_by = %q", ob.ReplacedBy)
	}

	// History and claims.
	var hist []greenmint.HistoryEntry
	w.query(t, w.Buyer, greenmint.QueryBatchHistory, greenmint.IDQuery{ID: res.BatchID}, &hist)
	if len(hist) < 5 {
		t.Fatalf("batch history has %d entries", len(hist))
	}
	var first greenmint.Batch
	if err := json.Unmarshal(hist[0].Value, &first); err != nil || first.Issued != 42_116_006 || first.Tradable != first.Issued {
		t.Fatalf("first history entry = %+v (%v)", first, err)
	}
	var hh []greenmint.HistoryEntry
	w.query(t, w.Buyer, greenmint.QueryHoldingHistory, greenmint.HoldingQuery{BatchID: res.BatchID, Owner: w.Buyer.MSPID}, &hh)
	if len(hh) < 3 {
		t.Fatalf("holding history has %d entries", len(hh))
	}
	var claims []greenmint.Batch
	w.query(t, w.Buyer, greenmint.QueryClaimsBySite, greenmint.ClaimsQuery{SiteID: "SITE0042", From: "2023-06-07T00:00:00Z", To: "2023-06-09T00:00:00Z"}, &claims)
	if len(claims) != 3 {
		t.Fatalf("claims overlapping 7–9 June = %d batches, want 3 (withdrawn, reissued, EAC)", len(claims))
	}
	var oracles []greenmint.OracleRegistration
	w.query(t, w.Buyer, greenmint.QueryListOracles, struct{}{}, &oracles)
	if len(oracles) != 2 || oracles[0].ID != greenminttest.OracleAID {
		t.Fatalf("oracles = %+v", oracles)
	}
	var ds greenmint.Dataset
	w.query(t, w.Buyer, greenmint.QueryGetDataset, greenmint.DatasetQuery{ID: w.Dataset.ID, Version: w.Dataset.Version}, &ds)
	if ds.SHA256 != w.Dataset.SHA256 || len(ds.GridFactors) < 200 {
		t.Fatalf("dataset = %s with %d grid factors", ds.SHA256, len(ds.GridFactors))
	}
	if _, err := w.ledger.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

// sa1Corrected is the demo week re-attested with 1% less consumption.
func sa1Corrected(tb testing.TB, w *world) *greenmint.SignedAttestation {
	tb.Helper()
	s := *w.site
	s.LoadW = s.LoadW * 99 / 100
	sa, err := w.Attest(&s, greenmint.CO2E, greenminttest.DemoWeek, greenminttest.OracleAID, greenminttest.OracleBID)
	if err != nil {
		tb.Fatal(err)
	}
	return sa
}

// TestEvents checks that every write emits one event whose changes rebuild
// the written objects, readable from any block onward.
func TestEvents(t *testing.T) {
	w := newWorld(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res := w.mintWeek(t, greenmint.EAC)
	from := w.ledger.Height()
	w.mustCall(t, w.Buyer, greenmint.TxOpenAccount, greenmint.OpenAccountRequest{}, nil)
	w.mustCall(t, w.Miner, greenmint.TxTransfer, greenmint.TransferRequest{BatchID: res.BatchID, To: w.Buyer.MSPID, Quantity: 42}, nil)
	ch, err := w.Ledger.Events(ctx, from)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var transfer greenmint.EventPayload
	for len(names) < 2 {
		select {
		case ev := <-ch:
			names = append(names, ev.Name)
			if ev.Name == greenmint.TxTransfer {
				if err := json.Unmarshal(ev.Payload, &transfer); err != nil {
					t.Fatal(err)
				}
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("events so far %v", names)
		}
	}
	if names[0] != greenmint.TxOpenAccount || names[1] != greenmint.TxTransfer {
		t.Fatalf("events = %v", names)
	}
	var buyer greenmint.Holding
	for _, c := range transfer.Changes {
		if c.Kind == "holding" && c.Key[0] == w.Buyer.MSPID {
			if err := json.Unmarshal(c.Value, &buyer); err != nil {
				t.Fatal(err)
			}
		}
	}
	if buyer.Tradable != 42 || transfer.Creator != w.Miner.MSPID {
		t.Fatalf("transfer event: buyer holding %+v, creator %s", buyer, transfer.Creator)
	}
	// Live: a later transaction arrives on the same subscription.
	w.mustCall(t, w.Miner, greenmint.TxTransfer, greenmint.TransferRequest{BatchID: res.BatchID, To: w.Buyer.MSPID, Quantity: 1}, nil)
	select {
	case ev := <-ch:
		if ev.Name != greenmint.TxTransfer {
			t.Fatalf("live event = %s", ev.Name)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no live event")
	}
}

// TestIdempotency checks R10: a retried write with the same key applies
// once and returns the first result; the same key with another request is
// refused.
func TestIdempotency(t *testing.T) {
	w := newWorld(t)
	res := w.mintWeek(t, greenmint.EAC)
	w.mustCall(t, w.Buyer, greenmint.TxOpenAccount, greenmint.OpenAccountRequest{}, nil)
	req := greenmint.TransferRequest{Idempotent: greenmint.Idempotent{IdempotencyKey: "order-17"}, BatchID: res.BatchID, To: w.Buyer.MSPID, Quantity: 500}
	var first, second greenmint.Holding
	w.mustCall(t, w.Miner, greenmint.TxTransfer, req, &first)
	w.mustCall(t, w.Miner, greenmint.TxTransfer, req, &second)
	if h := w.holding(t, res.BatchID, w.Buyer.MSPID); h.Tradable != 500 {
		t.Fatalf("after a retried transfer the buyer holds %d, want 500", h.Tradable)
	}
	if mustJSON(t, first) != mustJSON(t, second) {
		t.Fatalf("retry returned %v, first call %v", second, first)
	}
	req.Quantity = 501
	wantCode(t, w.call(w.Miner, greenmint.TxTransfer, req, nil), greenmint.ECONFLICT)
	// Another organisation may use the same key for its own request.
	var lst greenmint.Listing
	w.mustCall(t, w.Buyer, greenmint.TxListForSale, greenmint.ListRequest{Idempotent: greenmint.Idempotent{IdempotencyKey: "order-17"}, BatchID: res.BatchID, Quantity: 1, PriceMinor: 1, Currency: "EUR"}, &lst)
	w.checkR3(t, res.BatchID)
}

// GetMeters returns the registered meters of a list in one evaluation,
// leaves out unregistered and impossible IDs, and refuses an empty or
// oversized list.
func TestGetMeters(t *testing.T) {
	w := newWorld(t)
	var got []greenmint.Meter
	w.query(t, w.OracleA, greenmint.QueryGetMeters, greenmint.IDsQuery{IDs: []string{w.site.Consumption, "NOPE", "bad\x00id", "", w.site.Generation}}, &got)
	if len(got) != 2 || got[0].ID != w.site.Consumption || got[1].ID != w.site.Generation || got[0].SiteID != w.site.ID {
		t.Fatalf("GetMeters = %+v", got)
	}
	ctx := context.Background()
	for name, ids := range map[string][]string{"empty": nil, "oversized": make([]string, greenmint.MaxIDsPerQuery+1)} {
		err := greenmint.EvaluateJSON(ctx, w.Ledger, w.OracleA, greenmint.QueryGetMeters, greenmint.IDsQuery{IDs: ids}, &got)
		if greenmint.ErrorCode(err) != greenmint.EINVALID {
			t.Fatalf("%s: %v, want invalid", name, err)
		}
	}
	if err := greenmint.EvaluateJSON(ctx, w.Ledger, w.OracleA, greenmint.QueryGetMeters, `{"ids":"M1"}`, &got); greenmint.ErrorCode(err) != greenmint.EINVALID {
		t.Fatalf("malformed request: %v, want invalid", err)
	}
}
