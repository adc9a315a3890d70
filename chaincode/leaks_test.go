package chaincode_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/ledger/embedded"
)

// Regression tests for the contract rules that leaked (issue 8, items 5 to
// 9): each goes through the real contract on the embedded ledger.

// clock is a settable client clock for the embedded ledger: the transaction
// timestamp the contract sees. It starts at the real time, so that it stays
// close to any clock the ledger itself keeps.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newClockedWorld is newWorld on a ledger whose transactions are stamped by
// the returned clock.
func newClockedWorld(tb testing.TB) (*world, *clock) {
	tb.Helper()
	clk := &clock{now: time.Now().UTC().Truncate(time.Second)}
	l, c, err := greenminttest.CreateEmbedded(tb.TempDir(), embedded.Options{Now: clk.Now})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	env, err := greenminttest.NewEnv(l, c)
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	if err := env.Bootstrap(ctx); err != nil {
		tb.Fatal(err)
	}
	site, err := env.RegisterSite(ctx, env.Miner, "SITE0042")
	if err != nil {
		tb.Fatal(err)
	}
	return &world{Env: env, ledger: l, c: c, site: site}, clk
}

// refused checks that a call was refused with the code and nothing was
// committed for it.
func (w *world) refused(tb testing.TB, err error, code string) {
	tb.Helper()
	wantCode(tb, err, code)
	if w.committedOnError {
		tb.Fatal("a refused transaction committed a block")
	}
}

func (w *world) list(tb testing.TB, batchID string, q int64) greenmint.Listing {
	tb.Helper()
	var l greenmint.Listing
	w.mustCall(tb, w.Miner, greenmint.TxListForSale, greenmint.ListRequest{BatchID: batchID, Quantity: q, PriceMinor: 100, Currency: "EUR"}, &l)
	return l
}

func (w *world) listing(tb testing.TB, id string) greenmint.Listing {
	tb.Helper()
	var l greenmint.Listing
	w.query(tb, w.Miner, greenmint.QueryGetListing, greenmint.IDQuery{ID: id}, &l)
	return l
}

func (w *world) flag(tb testing.TB, batchID string) greenmint.Flag {
	tb.Helper()
	var f greenmint.Flag
	w.mustCall(tb, w.Auditor, greenmint.TxFlagBatch, greenmint.FlagRequest{BatchID: batchID, Reason: "meter seal photographs missing"}, &f)
	return f
}

func (w *world) dismiss(tb testing.TB, f greenmint.Flag) {
	tb.Helper()
	w.mustCall(tb, w.Registry, greenmint.TxResolveFlag, greenmint.ResolveFlagRequest{BatchID: f.BatchID, FlagID: f.ID, Outcome: greenmint.FlagDismissed, Resolution: "photographs received"}, nil)
}

func (w *world) retire(tb testing.TB, batchID string, q int64) {
	tb.Helper()
	w.mustCall(tb, w.Miner, greenmint.TxRetire, greenmint.RetireRequest{Parts: []greenmint.RetirePart{{BatchID: batchID, Quantity: q}}, Beneficiary: "b", Jurisdiction: "ES", Purpose: greenmint.PurposeOther, ReportingYear: 2023}, nil)
}

func (w *world) withdraw(tb testing.TB, batchID string) {
	tb.Helper()
	w.mustCall(tb, w.Registry, greenmint.TxWithdrawBatch, greenmint.WithdrawRequest{BatchID: batchID, Reason: "meter recalibrated"}, nil)
}

func listingReq(id string) greenmint.ListingRequest { return greenmint.ListingRequest{ListingID: id} }

// TestFrozenBatchUnitsDoNotChangeOwner holds R13 (item 5): while an
// auditor's flag is open, no path moves a unit to another owner: not a sale
// reserved before the flag (ConfirmPayment), not a new reservation or
// listing, not a reissue of the withdrawn batch. Undoing a listing stays
// possible, and everything works again once the flag is resolved.
func TestFrozenBatchUnitsDoNotChangeOwner(t *testing.T) {
	w := newWorld(t)
	res := w.mintWeek(t, greenmint.EAC)
	sold := w.list(t, res.BatchID, 1_000)
	w.mustCall(t, w.Buyer, greenmint.TxReserveListing, listingReq(sold.ID), nil)
	open := w.list(t, res.BatchID, 2_000)
	spare := w.list(t, res.BatchID, 3_000)
	f := w.flag(t, res.BatchID)

	w.refused(t, w.call(w.Miner, greenmint.TxConfirmPayment, listingReq(sold.ID), nil), greenmint.ECONFLICT)
	if h := w.holding(t, res.BatchID, w.Buyer.MSPID); h.Tradable != 0 {
		t.Fatalf("the buyer holds %d units of a frozen batch", h.Tradable)
	}
	if l := w.listing(t, sold.ID); l.Status != greenmint.ListingReserved {
		t.Fatalf("listing after the refused confirmation = %s", l.Status)
	}
	w.refused(t, w.call(w.Buyer, greenmint.TxReserveListing, listingReq(open.ID), nil), greenmint.ECONFLICT)
	w.refused(t, w.call(w.Miner, greenmint.TxListForSale, greenmint.ListRequest{BatchID: res.BatchID, Quantity: 1, PriceMinor: 1, Currency: "EUR"}, nil), greenmint.ECONFLICT)
	// Undoing a listing moves nothing to another owner: allowed.
	w.mustCall(t, w.Miner, greenmint.TxCancelListing, listingReq(spare.ID), nil)
	w.checkR3(t, res.BatchID)

	w.dismiss(t, f)
	w.mustCall(t, w.Miner, greenmint.TxConfirmPayment, listingReq(sold.ID), nil)
	if h := w.holding(t, res.BatchID, w.Buyer.MSPID); h.Tradable != 1_000 {
		t.Fatalf("after the flag, the buyer holds %d, want 1000", h.Tradable)
	}
	w.mustCall(t, w.Buyer, greenmint.TxReserveListing, listingReq(open.ID), nil)
	w.checkR3(t, res.BatchID)
}

// TestFrozenBatchIsNotReissued holds R13 on the reissue path (item 5): a
// withdrawn batch under an open flag is not replaced by an unfrozen one
// until the registry resolves the inquiry.
func TestFrozenBatchIsNotReissued(t *testing.T) {
	w := newWorld(t)
	res := w.mintWeek(t, greenmint.CO2E)
	f := w.flag(t, res.BatchID)
	w.withdraw(t, res.BatchID)
	corrected := sa1Corrected(t, w)
	err := w.call(w.Registry, greenmint.TxReissueBatch, greenmint.ReissueRequest{WithdrawnBatchID: res.BatchID, Attestation: *corrected}, nil)
	w.refused(t, err, greenmint.ECONFLICT)
	w.dismiss(t, f)
	w.mustCall(t, w.Registry, greenmint.TxReissueBatch, greenmint.ReissueRequest{WithdrawnBatchID: res.BatchID, Attestation: *corrected}, nil)
}

// TestNothingCertifiedAheadOfTime holds R12 (item 6): an attestation of
// hours that have not happened yet by the ledger's time, or attested before
// its period ended, does not mint.
func TestNothingCertifiedAheadOfTime(t *testing.T) {
	tests := []struct {
		name   string
		attest func(t *testing.T, w *world) *greenmint.SignedAttestation
	}{
		{"a week of June 2099", func(t *testing.T, w *world) *greenmint.SignedAttestation {
			sa, err := w.Attest(w.site, greenmint.EAC, greenminttest.Period{Start: time.Date(2099, 6, 1, 0, 0, 0, 0, time.UTC), Hours: 7 * 24}, greenminttest.OracleAID, greenminttest.OracleBID)
			if err != nil {
				t.Fatal(err)
			}
			return sa
		}},
		{"attested before its period ended", func(t *testing.T, w *world) *greenmint.SignedAttestation {
			return w.tampered(t, func(a *greenmint.Attestation) { a.AttestedAt = "2023-06-03T00:00:00Z" }, true)
		}},
		{"attested an hour before its period ended", func(t *testing.T, w *world) *greenmint.SignedAttestation {
			return w.tampered(t, func(a *greenmint.Attestation) { a.AttestedAt = "2023-06-07T23:00:00Z" }, true)
		}},
		{"attested after the ledger's time", func(t *testing.T, w *world) *greenmint.SignedAttestation {
			return w.tampered(t, func(a *greenmint.Attestation) { a.AttestedAt = "2099-01-01T00:00:00Z" }, true)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			err := w.mintAs(w.OracleA, tc.attest(t, w))
			t.Logf("refused: %v", err)
			w.refused(t, err, greenmint.EINVALID)
			if !strings.Contains(err.Error(), "R12") {
				t.Fatalf("refusal %q does not name R12", err)
			}
		})
	}
	// The oracle's own attestation of a past week, attested just after the
	// period ended, still mints.
	w := newWorld(t)
	sa := w.tampered(t, func(a *greenmint.Attestation) { a.AttestedAt = a.PeriodEnd }, false)
	if err := w.mintAs(w.OracleA, sa); err != nil {
		t.Fatalf("attested at the period's end: %v", err)
	}
}

// TestNothingMintedBeforeTheLedgerReachesIt holds R12 against a ledger
// whose clock has not reached the attestation's time: the transaction's
// timestamp, not the attestation's own, decides.
func TestNothingMintedBeforeTheLedgerReachesIt(t *testing.T) {
	w, clk := newClockedWorld(t)
	end := clk.Now().Truncate(time.Hour)
	sa, err := w.Attest(w.site, greenmint.EAC, greenminttest.Period{Start: end.Add(-24 * time.Hour), Hours: 24}, greenminttest.OracleAID, greenminttest.OracleBID)
	if err != nil {
		t.Fatal(err)
	}
	a := sa.Attestation
	a.AttestedAt = greenmint.FormatTime(clk.Now().Add(30 * time.Second))
	if sa, err = w.Sign(&a, greenminttest.OracleAID, greenminttest.OracleBID); err != nil {
		t.Fatal(err)
	}
	w.refused(t, w.mintAs(w.OracleA, sa), greenmint.EINVALID)
	clk.advance(30 * time.Second)
	if err := w.mintAs(w.OracleA, sa); err != nil {
		t.Fatalf("mint once the ledger's time reached attested_at: %v", err)
	}
}

// weekAt returns the demo week's attestation of the world's site with the
// site's load scaled by percent: a corrected attestation of the same hours.
func (w *world) weekAt(tb testing.TB, inst greenmint.Instrument, percent int64) *greenmint.SignedAttestation {
	tb.Helper()
	s := *w.site
	s.LoadW = s.LoadW * percent / 100
	sa, err := w.Attest(&s, inst, greenminttest.DemoWeek, greenminttest.OracleAID, greenminttest.OracleBID)
	if err != nil {
		tb.Fatal(err)
	}
	return sa
}

// TestReissueKeepsTheInstrument holds item 7: an EAC batch (Wh) is not
// reissued as CO2E (g), which would subtract its retired watt-hours from
// grams.
func TestReissueKeepsTheInstrument(t *testing.T) {
	w := newWorld(t)
	res := w.mintWeek(t, greenmint.EAC)
	w.retire(t, res.BatchID, 1_000_000)
	w.withdraw(t, res.BatchID)
	err := w.call(w.Registry, greenmint.TxReissueBatch, greenmint.ReissueRequest{WithdrawnBatchID: res.BatchID, Attestation: *w.weekAt(t, greenmint.CO2E, 99)}, nil)
	w.refused(t, err, greenmint.EINVALID)
	if !strings.Contains(err.Error(), "instrument") {
		t.Fatalf("refusal %q does not name the instrument", err)
	}
	if b := w.batch(t, res.BatchID); b.ReplacedBy != "" {
		t.Fatalf("withdrawn batch replaced by %s", b.ReplacedBy)
	}
	var re greenmint.MintResult
	w.mustCall(t, w.Registry, greenmint.TxReissueBatch, greenmint.ReissueRequest{WithdrawnBatchID: res.BatchID, Attestation: *w.weekAt(t, greenmint.EAC, 99)}, &re)
	if nb := w.checkR3(t, re.BatchID); nb.Instrument != greenmint.EAC || nb.CarriedRetired != 1_000_000 {
		t.Fatalf("reissued batch = %+v", nb)
	}
}

// TestReissueCarriesEveryRetirement: a batch reissued twice carries what
// both earlier batches retired, so no retired unit is issued again (R4).
func TestReissueCarriesEveryRetirement(t *testing.T) {
	w := newWorld(t)
	res := w.mintWeek(t, greenmint.EAC)
	w.retire(t, res.BatchID, 100)
	w.withdraw(t, res.BatchID)
	var second greenmint.MintResult
	w.mustCall(t, w.Registry, greenmint.TxReissueBatch, greenmint.ReissueRequest{WithdrawnBatchID: res.BatchID, Attestation: *w.weekAt(t, greenmint.EAC, 99)}, &second)
	w.retire(t, second.BatchID, 50)
	w.withdraw(t, second.BatchID)
	third := w.weekAt(t, greenmint.EAC, 98)
	var re greenmint.MintResult
	w.mustCall(t, w.Registry, greenmint.TxReissueBatch, greenmint.ReissueRequest{WithdrawnBatchID: second.BatchID, Attestation: *third}, &re)
	nb := w.checkR3(t, re.BatchID)
	if nb.CarriedRetired != 150 || nb.Issued != third.Attestation.Quantity-150 {
		t.Fatalf("third batch carries %d and issues %d, want 150 and %d", nb.CarriedRetired, nb.Issued, third.Attestation.Quantity-150)
	}
}

// TestReservationsExpire holds item 8: a reservation lasts the registry's
// reservation period in transaction time; then the seller can no longer
// confirm it, another buyer may reserve, and the lapsed buyer waits one
// more period before it may reserve the listing again.
func TestReservationsExpire(t *testing.T) {
	w, clk := newClockedWorld(t)
	var pol greenmint.Policy
	w.query(t, w.Registry, greenmint.QueryGetPolicy, struct{}{}, &pol)
	if pol.ReservationTTLSeconds != greenmint.DefaultReservationTTLSeconds {
		t.Fatalf("bootstrapped reservation period = %d s, want the default %d", pol.ReservationTTLSeconds, greenmint.DefaultReservationTTLSeconds)
	}
	for _, bad := range []int64{-1, 59, greenmint.MaxReservationTTLSeconds + 1} {
		err := w.call(w.Registry, greenmint.TxSetPolicy, greenmint.PolicyRequest{Threshold: pol.Threshold, ToleranceBP: pol.ToleranceBP, ReservationTTLSeconds: bad}, nil)
		w.refused(t, err, greenmint.EINVALID)
	}
	w.mustCall(t, w.Registry, greenmint.TxSetPolicy, greenmint.PolicyRequest{Threshold: pol.Threshold, ToleranceBP: pol.ToleranceBP, ReservationTTLSeconds: 60}, nil)
	// A policy change that leaves the period out keeps it.
	w.mustCall(t, w.Registry, greenmint.TxSetPolicy, greenmint.PolicyRequest{Threshold: pol.Threshold, ToleranceBP: pol.ToleranceBP}, &pol)
	if pol.ReservationTTLSeconds != 60 {
		t.Fatalf("reservation period after a SetPolicy without it = %d, want 60", pol.ReservationTTLSeconds)
	}

	res := w.mintWeek(t, greenmint.EAC)
	l := w.list(t, res.BatchID, 1_000)
	var got greenmint.Listing
	w.mustCall(t, w.Buyer, greenmint.TxReserveListing, listingReq(l.ID), &got)
	if want := greenmint.FormatTime(clk.Now().Add(time.Minute)); got.ReservedUntil != want {
		t.Fatalf("reserved_until = %q, want %q", got.ReservedUntil, want)
	}
	clk.advance(59 * time.Second)
	w.refused(t, w.call(w.Miner2, greenmint.TxReserveListing, listingReq(l.ID), nil), greenmint.ECONFLICT)

	clk.advance(time.Second) // the reservation lapses
	w.refused(t, w.call(w.Miner, greenmint.TxConfirmPayment, listingReq(l.ID), nil), greenmint.ECONFLICT)
	if h := w.holding(t, res.BatchID, w.Buyer.MSPID); h.Tradable != 0 {
		t.Fatalf("a lapsed reservation delivered %d units", h.Tradable)
	}
	w.refused(t, w.call(w.Buyer, greenmint.TxReleaseReservation, listingReq(l.ID), nil), greenmint.ECONFLICT)
	w.refused(t, w.call(w.Buyer, greenmint.TxReserveListing, listingReq(l.ID), nil), greenmint.ECONFLICT)
	w.mustCall(t, w.Miner2, greenmint.TxReserveListing, listingReq(l.ID), nil)
	w.mustCall(t, w.Miner, greenmint.TxConfirmPayment, listingReq(l.ID), nil)
	if h := w.holding(t, res.BatchID, w.Miner2.MSPID); h.Tradable != 1_000 {
		t.Fatalf("the second buyer holds %d, want 1000", h.Tradable)
	}
	w.checkR3(t, res.BatchID)

	// A buyer that releases its own reservation is held back too, so a
	// release and a new reservation never extend a hold; one period after
	// the release it may reserve again.
	l2 := w.list(t, res.BatchID, 10)
	w.mustCall(t, w.Buyer, greenmint.TxReserveListing, listingReq(l2.ID), nil)
	w.mustCall(t, w.Buyer, greenmint.TxReleaseReservation, listingReq(l2.ID), nil)
	w.refused(t, w.call(w.Buyer, greenmint.TxReserveListing, listingReq(l2.ID), nil), greenmint.ECONFLICT)
	clk.advance(time.Minute)
	w.mustCall(t, w.Buyer, greenmint.TxReserveListing, listingReq(l2.ID), nil)

	// A seller whose buyer's reservation lapsed may cancel the listing.
	l3 := w.list(t, res.BatchID, 20)
	w.mustCall(t, w.Buyer, greenmint.TxReserveListing, listingReq(l3.ID), nil)
	w.refused(t, w.call(w.Miner, greenmint.TxCancelListing, listingReq(l3.ID), nil), greenmint.ECONFLICT)
	clk.advance(time.Minute)
	w.mustCall(t, w.Miner, greenmint.TxCancelListing, listingReq(l3.ID), nil)
	w.checkR3(t, res.BatchID)
}

// TestOneAttestationOneID holds item 9 through the contract: the same
// attestation spelled with "gaps": null instead of [] is the same
// attestation, so once minted (and its batch withdrawn, which frees its
// hours) it never mints again (R5).
func TestOneAttestationOneID(t *testing.T) {
	w := newWorld(t)
	sa := w.signedWeek(t, greenmint.EAC)
	if sa.Attestation.Gaps == nil || len(sa.Attestation.Gaps) != 0 {
		t.Fatalf("the demo week should have an empty, non-nil gaps list, got %#v", sa.Attestation.Gaps)
	}
	res, err := w.Mint(context.Background(), sa)
	if err != nil {
		t.Fatal(err)
	}
	w.withdraw(t, res.BatchID)

	// The oracles sign the nil spelling as well.
	respelled := sa.Attestation
	respelled.Gaps = nil
	sa2, err := w.Sign(&respelled, greenminttest.OracleAID, greenminttest.OracleBID)
	if err != nil {
		t.Fatal(err)
	}
	err = w.mintAs(w.OracleA, sa2)
	w.refused(t, err, greenmint.ECONFLICT)
	if !strings.Contains(err.Error(), "R5") {
		t.Fatalf("refusal %q is not R5's", err)
	}
	// The same bytes sent with "gaps":null and the original signatures are
	// the same attestation too.
	raw := strings.Replace(mustJSON(t, greenmint.MintRequest{Attestation: *sa}), `"gaps":[]`, `"gaps":null`, 1)
	if !strings.Contains(raw, `"gaps":null`) {
		t.Fatal("request has no gaps list to respell")
	}
	before := w.ledger.Height()
	_, err = w.Ledger.Submit(context.Background(), w.OracleA, greenmint.TxMint, raw)
	wantCode(t, err, greenmint.ECONFLICT)
	if !strings.Contains(err.Error(), "R5") || w.ledger.Height() != before {
		t.Fatalf("respelled request: %v", err)
	}
}
