// Package demo tells Greenmint's story end to end on a workspace of the
// demo consortium (consortium.Demo): the registry bootstraps the ledger, a
// miner registers a site in Spain with a consumption meter and a solar
// generation meter, two oracles build and co-sign a week of hourly
// matching from the measured Almería PV profile, the contract mints it,
// the miner sells part to a buyer, the buyer retires part, and each step
// is printed. `greenmint demo` runs it; the workspace package is the
// wiring, and the demo only one preset of it.
package demo

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/internal/store"
	"github.com/greenmint/greenmint/oracle"
	"github.com/greenmint/greenmint/refdata"
	"github.com/greenmint/greenmint/simulate"
	"github.com/greenmint/greenmint/workspace"
)

// Week is the demo's attestation period: the first week of June 2023.
var Week = simulate.Period{Start: time.Date(2023, 6, 1, 0, 0, 0, 0, time.UTC), Hours: 7 * 24}

// cast is who acts in the story.
type cast struct {
	registry, miner, oracle, auditor, buyer *greenmint.Identity
}

func castOf(w *workspace.Workspace) (*cast, error) {
	var c cast
	for _, m := range []struct {
		dst **greenmint.Identity
		as  string
	}{
		{&c.registry, consortium.RegistryMSP + ":registrar"},
		{&c.miner, consortium.MinerMSP + ":miner"},
		{&c.oracle, consortium.OracleAMSP + ":oracle"},
		{&c.auditor, consortium.AuditorMSP + ":auditor"},
		{&c.buyer, consortium.BuyerMSP + ":buyer"},
	} {
		id, err := w.Identity(m.as)
		if err != nil {
			return nil, fmt.Errorf("demo: the workspace is not of the demo consortium: %w", err)
		}
		*m.dst = id
	}
	return &c, nil
}

// freeSiteID returns the first of SITE0042, SITE0043, … not yet registered.
func freeSiteID(ctx context.Context, l greenmint.Ledger, reader *greenmint.Identity) (string, error) {
	for i := 42; i < 10_000; i++ {
		id := fmt.Sprintf("SITE%04d", i)
		err := greenmint.EvaluateJSON(ctx, l, reader, greenmint.QueryGetSite, greenmint.IDQuery{ID: id}, new(greenmint.Site))
		if greenmint.ErrorCode(err) == greenmint.ENOTFOUND {
			return id, nil
		}
		if err != nil {
			return "", err
		}
	}
	return "", greenmint.Errorf(greenmint.ECONFLICT, "no free demo site ID")
}

// Summary is what the story left on the ledger.
type Summary struct {
	SiteID        string          `json:"site_id"`
	AttestationID string          `json:"attestation_id"`
	BatchID       string          `json:"batch_id"`
	Quantity      int64           `json:"quantity"`
	ListingID     string          `json:"listing_id"`
	RetirementID  string          `json:"retirement_id"`
	Batch         greenmint.Batch `json:"batch"`
}

// Run tells the demo's story on w, a workspace of the demo consortium,
// printing each step to out. On a ledger bootstrapped before, it keeps what
// is there and registers the next free site.
func Run(ctx context.Context, w *workspace.Workspace, out io.Writer) error {
	_, err := Tell(ctx, w, out)
	return err
}

// Tell is Run, returning what the story left on the ledger.
func Tell(ctx context.Context, w *workspace.Workspace, out io.Writer) (*Summary, error) {
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	e, err := castOf(w)
	if err != nil {
		return nil, err
	}
	l := w.Ledger
	p := w.File().Policy
	say("1. Registry bootstraps the ledger: oracle threshold %d of %d, tolerance %d.%02d%%, dataset %s %s", p.Threshold, len(w.File().Oracles), p.ToleranceBP/100, p.ToleranceBP%100, refdata.DefaultDatasetID, refdata.DefaultDatasetVersion)
	ds, err := w.Bootstrap(ctx)
	if err != nil {
		return nil, err
	}
	say("   %d organisations admitted to their roles (R11); dataset SHA-256 %s registered on the ledger", len(w.File().Admissions()), ds.SHA256)
	siteID, err := freeSiteID(ctx, l, e.auditor)
	if err != nil {
		return nil, err
	}
	site, err := simulate.NewSite(siteID)
	if err != nil {
		return nil, err
	}
	reg := site.Registration()
	for _, st := range []struct {
		id  *greenmint.Identity
		fn  string
		req any
	}{
		{e.miner, greenmint.TxRegisterSite, reg.Sites[0]},
		{e.miner, greenmint.TxRegisterMeter, reg.Meters[0]},
		{e.miner, greenmint.TxRegisterMeter, reg.Meters[1]},
		{e.registry, greenmint.TxApproveSite, greenmint.StatusRequest{ID: siteID}},
		{e.registry, greenmint.TxApproveMeter, greenmint.StatusRequest{ID: site.Consumption}},
		{e.registry, greenmint.TxApproveMeter, greenmint.StatusRequest{ID: site.Generation}},
	} {
		if _, err := greenmint.SubmitJSON(ctx, l, st.id, st.fn, st.req, nil); err != nil {
			return nil, fmt.Errorf("demo: %s: %w", st.fn, err)
		}
	}
	say("2. %s registers site %s (ES, %d W) with meters %s and %s (PV %d W); the registry approves them", e.miner.MSPID, site.ID, site.CapacityW, site.Consumption, site.Generation, site.PVCapacityW)
	readings, err := site.Readings(Week)
	if err != nil {
		return nil, err
	}
	sa, res, sum, err := oraclePath(ctx, w, e, site, readings, ds)
	if err != nil {
		return nil, err
	}
	a := sa.Attestation
	aid, err := a.ID()
	if err != nil {
		return nil, err
	}
	say("3. The meters send %d signed hourly readings to oracle A: %d accepted, %d duplicate, %d rejected (SQLite)", len(readings), sum.Accepted, sum.Duplicate, sum.Rejected)
	say("   Oracle A builds a %d-hour attestation from the Almería 2023 PV profile, %s to %s; oracle B rebuilds it and co-signs:", len(a.Hours), a.PeriodStart, a.PeriodEnd)
	say("   consumption %s, renewable supply %s, matched %s", greenmint.FormatMWh(a.Totals.ConsumptionWh), greenmint.FormatMWh(a.Totals.SupplyWh), greenmint.FormatMWh(a.Totals.MatchedWh))
	lifecycle, _ := a.Factors.LifecycleFor(site.Technology)
	say("   grid factor %d gCO2e/MWh (intermittent, %s) − lifecycle %d gCO2e/MWh (solar PV utility) ⇒ %s avoided", a.Factors.Intermittent, a.Factors.GridRegion, lifecycle, greenmint.FormatTonnes(a.Quantity))
	say("   readings Merkle root %s, signed by %d oracles", a.ReadingsRoot, len(sa.Signatures))
	say("4. The contract re-verifies and mints batch %s: %d units (gCO2e) to %s", res.BatchID, res.Quantity, e.miner.MSPID)
	if _, err := greenmint.SubmitJSON(ctx, l, e.oracle, greenmint.TxMint, greenmint.MintRequest{Attestation: *sa}, nil); greenmint.ErrorCode(err) != greenmint.ECONFLICT {
		return nil, &greenmint.Error{Code: greenmint.EINTERNAL, Op: "demo", Message: "minting the same attestation twice was not refused as a conflict", Err: err}
	}
	if _, err := greenmint.SubmitJSON(ctx, l, e.buyer, greenmint.TxMint, greenmint.MintRequest{Attestation: *sa}, nil); greenmint.ErrorCode(err) != greenmint.EFORBIDDEN {
		return nil, &greenmint.Error{Code: greenmint.EINTERNAL, Op: "demo", Message: "a buyer minting was not refused as forbidden", Err: err}
	}
	say("   Attacks refused: the same attestation again (conflict, R5) and a mint by a buyer (forbidden)")

	sell := res.Quantity / 2
	var lst greenmint.Listing
	if _, err := greenmint.SubmitJSON(ctx, l, e.miner, greenmint.TxListForSale, greenmint.ListRequest{BatchID: res.BatchID, Quantity: sell, PriceMinor: 2_500_00 * (sell / 1_000_000), Currency: "EUR"}, &lst); err != nil {
		return nil, err
	}
	say("5. %s lists %s for sale as %s (escrowed), price %d.%02d %s", e.miner.MSPID, greenmint.FormatTonnes(sell), lst.ID, lst.PriceMinor/100, lst.PriceMinor%100, lst.Currency)
	if _, err := greenmint.SubmitJSON(ctx, l, e.buyer, greenmint.TxReserveListing, greenmint.ListingRequest{ListingID: lst.ID}, nil); err != nil {
		return nil, err
	}
	if _, err := greenmint.SubmitJSON(ctx, l, e.miner, greenmint.TxConfirmPayment, greenmint.ListingRequest{ListingID: lst.ID}, nil); err != nil {
		return nil, err
	}
	say("   %s reserves it, pays off-ledger; %s confirms payment and the escrow moves to the buyer", e.buyer.MSPID, e.miner.MSPID)

	retire := sell / 2
	var st greenmint.RetirementStatement
	if _, err := greenmint.SubmitJSON(ctx, l, e.buyer, greenmint.TxRetire, greenmint.RetireRequest{
		Parts:       []greenmint.RetirePart{{BatchID: res.BatchID, Quantity: retire}},
		Beneficiary: "Acme Offsets GmbH", Jurisdiction: "DE-BE", Purpose: greenmint.PurposeVoluntary, ReportingYear: 2023,
		Reason: "2023 voluntary offset of office electricity", Idempotent: greenmint.Idempotent{IdempotencyKey: "demo-retire-" + res.BatchID},
	}, &st); err != nil {
		return nil, err
	}
	say("6. %s retires %s for %q (%s, %s, %d): statement %s", e.buyer.MSPID, greenmint.FormatTonnes(retire), st.Beneficiary, st.Jurisdiction, st.Purpose, st.ReportingYear, st.ID)

	var b greenmint.Batch
	if err := greenmint.EvaluateJSON(ctx, l, e.auditor, greenmint.QueryGetBatch, greenmint.IDQuery{ID: res.BatchID}, &b); err != nil {
		return nil, err
	}
	say("7. Final state of batch %s (R3: issued = tradable + escrowed + retired + cancelled):", b.ID)
	say("   issued %s = tradable %s + escrowed %s + retired %s + cancelled %s", greenmint.FormatTonnes(b.Issued), greenmint.FormatTonnes(b.Tradable), greenmint.FormatTonnes(b.Escrowed), greenmint.FormatTonnes(b.Retired), greenmint.FormatTonnes(b.Cancelled))
	say("   holdings:")
	for _, who := range []*greenmint.Identity{e.miner, e.buyer} {
		var page greenmint.HoldingsPage
		if err := greenmint.EvaluateJSON(ctx, l, e.auditor, greenmint.QueryHoldingsByOwner, greenmint.PageQuery{Owner: who.MSPID}, &page); err != nil {
			return nil, err
		}
		for _, h := range page.Holdings {
			say("   %-10s %s  tradable %s  escrowed %s", h.Owner, h.BatchID, greenmint.FormatTonnes(h.Tradable), greenmint.FormatTonnes(h.Escrowed))
		}
	}
	return &Summary{SiteID: site.ID, AttestationID: aid, BatchID: res.BatchID, Quantity: res.Quantity, ListingID: lst.ID, RetirementID: st.ID, Batch: b}, nil
}

// oraclePath sends readings through oracle A's ingestion into a temporary
// SQLite database, has oracle A build the attestation of the demo's week
// and oracle B (from the same readings) co-sign it, and submits it.
func oraclePath(ctx context.Context, w *workspace.Workspace, e *cast, s *simulate.Site, readings []greenmint.Reading, ds greenmint.Dataset) (*greenmint.SignedAttestation, *greenmint.MintResult, *oracle.Summary, error) {
	dir, err := os.MkdirTemp("", "greenmint-oracle-")
	if err != nil {
		return nil, nil, nil, err
	}
	defer os.RemoveAll(dir)
	db, err := workspace.Config{DB: filepath.Join(dir, "oracle.db")}.OpenStore(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	defer db.Close()
	in := oracle.NewIngester(db, &oracle.LedgerMeters{Ledger: w.Ledger, ID: e.oracle, TTL: time.Minute}, nil)
	batch := make([]oracle.Parsed, len(readings))
	for i, r := range readings {
		batch[i] = oracle.Parsed{Line: i + 1, Reading: r}
	}
	sum, err := in.Ingest(ctx, batch)
	if err != nil {
		return nil, nil, nil, err
	}
	sub, err := w.Submitter(db, consortium.OracleAMSP+":oracle")
	if err != nil {
		return nil, nil, nil, err
	}
	res, err := sub.Attest(ctx, oracle.AttestRequest{SiteID: s.ID, Instrument: greenmint.CO2E, From: Week.Start, To: Week.End(),
		Dataset: greenmint.DatasetPin{ID: ds.ID, Version: ds.Version, SHA256: ds.SHA256}})
	if err != nil {
		return nil, nil, nil, err
	}
	recs, err := db.Attestations(ctx, store.AttestationMinted)
	if err != nil {
		return nil, nil, nil, err
	}
	if len(recs) != 1 {
		return nil, nil, nil, greenmint.Errorf(greenmint.EINTERNAL, "the minted attestation is not on record (%d records)", len(recs))
	}
	return &recs[0].Signed, res, sum, nil
}
