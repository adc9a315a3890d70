// Package demo runs Greenmint's story end to end on any Ledger: the
// registry bootstraps the ledger, a miner registers a site in Spain with a
// consumption meter and a solar generation meter, two oracles build and
// co-sign a week of hourly matching from the measured Almería PV profile,
// the contract mints it, the miner sells part to a buyer and retires part,
// and the result is printed. The tests use its steps as fixtures.
package demo

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
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
)

// Env is a ledger and the identities that act on it.
type Env struct {
	Ledger   greenmint.Ledger
	Registry *greenmint.Identity
	Miner    *greenmint.Identity
	Miner2   *greenmint.Identity
	OracleA  *greenmint.Identity
	OracleB  *greenmint.Identity
	Auditor  *greenmint.Identity
	Buyer    *greenmint.Identity
	// OracleKeys are the oracles' Ed25519 attestation keys by oracle ID.
	OracleKeys map[string]ed25519.PrivateKey
	Dataset    greenmint.Dataset
	// Members are the consortium's members: Bootstrap admits their
	// organisations to their roles.
	Members []consortium.Member
}

// Oracle IDs of the demo consortium.
const (
	OracleAID = "oracle-a"
	OracleBID = "oracle-b"
)

// NewEnv loads the demo consortium's identities for use on l.
func NewEnv(l greenmint.Ledger, c *consortium.Consortium) (*Env, error) {
	e := &Env{Ledger: l, OracleKeys: map[string]ed25519.PrivateKey{}, Members: c.Members}
	for _, m := range []struct {
		dst  **greenmint.Identity
		msp  string
		user string
	}{
		{&e.Registry, consortium.RegistryMSP, "registrar"},
		{&e.Miner, consortium.MinerMSP, "miner"},
		{&e.Miner2, consortium.Miner2MSP, "miner"},
		{&e.OracleA, consortium.OracleAMSP, "oracle"},
		{&e.OracleB, consortium.OracleBMSP, "oracle"},
		{&e.Auditor, consortium.AuditorMSP, "auditor"},
		{&e.Buyer, consortium.BuyerMSP, "buyer"},
	} {
		id, err := c.Identity(m.msp, m.user)
		if err != nil {
			return nil, fmt.Errorf("demo.NewEnv: %w", err)
		}
		*m.dst = id
	}
	for id, msp := range map[string]string{OracleAID: consortium.OracleAMSP, OracleBID: consortium.OracleBMSP} {
		k, err := c.OracleKey(msp, "oracle")
		if err != nil {
			return nil, fmt.Errorf("demo.NewEnv: %w", err)
		}
		e.OracleKeys[id] = k
	}
	return e, nil
}

// Bootstrap makes the registry the registry authority (threshold 2 of the
// oracles, 5% tolerance), admits every member organisation to its members'
// roles (R11), registers both oracles and publishes the shipped
// emission-factor dataset. On a ledger where this was done before, it keeps
// what is there.
func (e *Env) Bootstrap(ctx context.Context) error {
	tolerate := func(err error) error {
		if greenmint.ErrorCode(err) == greenmint.ECONFLICT {
			return nil
		}
		return err
	}
	if _, err := greenmint.SubmitJSON(ctx, e.Ledger, e.Registry, greenmint.TxBootstrap, greenmint.PolicyRequest{Threshold: 2, ToleranceBP: 500}, nil); tolerate(err) != nil {
		return fmt.Errorf("demo.Bootstrap: %w", err)
	}
	for _, req := range consortium.Admissions(e.Members) {
		if _, err := greenmint.SubmitJSON(ctx, e.Ledger, e.Registry, greenmint.TxAdmitOrganization, req, nil); tolerate(err) != nil {
			return fmt.Errorf("demo.Bootstrap: admit %s: %w", req.MSPID, err)
		}
	}
	for _, o := range []struct{ id, msp string }{{OracleAID, consortium.OracleAMSP}, {OracleBID, consortium.OracleBMSP}} {
		req := greenmint.RegisterOracleRequest{OracleID: o.id, MSPID: o.msp, PublicKey: e.OracleKeys[o.id].Public().(ed25519.PublicKey)}
		if _, err := greenmint.SubmitJSON(ctx, e.Ledger, e.Registry, greenmint.TxRegisterOracle, req, nil); tolerate(err) != nil {
			return fmt.Errorf("demo.Bootstrap: %w", err)
		}
	}
	ds, err := refdata.DefaultDataset()
	if err != nil {
		return fmt.Errorf("demo.Bootstrap: %w", err)
	}
	sum, err := greenmint.DatasetSHA256(ds)
	if err != nil {
		return err
	}
	if _, err := greenmint.SubmitJSON(ctx, e.Ledger, e.Registry, greenmint.TxPublishDataset, greenmint.PublishDatasetRequest{Dataset: ds, SHA256: sum}, nil); tolerate(err) != nil {
		return fmt.Errorf("demo.Bootstrap: %w", err)
	}
	e.Dataset = greenmint.Dataset{DatasetContent: ds, SHA256: sum}
	return nil
}

// FreeSiteID returns the first of SITE0042, SITE0043, … not yet registered.
func (e *Env) FreeSiteID(ctx context.Context) (string, error) {
	for i := 42; i < 10_000; i++ {
		id := fmt.Sprintf("SITE%04d", i)
		err := greenmint.EvaluateJSON(ctx, e.Ledger, e.Auditor, greenmint.QueryGetSite, greenmint.IDQuery{ID: id}, new(greenmint.Site))
		if greenmint.ErrorCode(err) == greenmint.ENOTFOUND {
			return id, nil
		}
		if err != nil {
			return "", err
		}
	}
	return "", greenmint.Errorf(greenmint.ECONFLICT, "no free demo site ID")
}

// Site is a registered site with its meters and their keys.
type Site struct {
	ID             string
	Owner          *greenmint.Identity
	Country        string
	GridRegion     string
	CapacityW      int64
	LoadW          int64 // the mining load's nominal draw
	Consumption    string
	ConsumptionKey ed25519.PrivateKey
	Generation     string
	GenerationKey  ed25519.PrivateKey
	PVCapacityW    int64
	Technology     string
}

// RegisterSite registers a site in Spain with a consumption meter and a
// solar meter as owner, and has the registry approve all three.
func (e *Env) RegisterSite(ctx context.Context, owner *greenmint.Identity, siteID string) (*Site, error) {
	s := &Site{
		ID: siteID, Owner: owner, Country: "ES", GridRegion: "ES", CapacityW: 4_000_000, LoadW: 3_000_000,
		Consumption: siteID + "-CONS", Generation: siteID + "-PV", PVCapacityW: 5_000_000, Technology: "solar_pv_utility",
	}
	var err error
	if _, s.ConsumptionKey, err = ed25519.GenerateKey(rand.Reader); err != nil {
		return nil, err
	}
	if _, s.GenerationKey, err = ed25519.GenerateKey(rand.Reader); err != nil {
		return nil, err
	}
	site := greenmint.RegisterSiteRequest{
		SiteID: siteID, Name: "Almería mining site " + siteID, Country: s.Country, GridRegion: s.GridRegion,
		LatitudeMicro: 36_930_000, LongitudeMicro: -2_470_000, CapacityW: s.CapacityW,
		Fleet: greenmint.Fleet{HashrateTHs: 150_000, EfficiencyMJ: 20_000},
	}
	steps := []struct {
		id  *greenmint.Identity
		fn  string
		req any
	}{
		{owner, greenmint.TxRegisterSite, site},
		{owner, greenmint.TxRegisterMeter, greenmint.RegisterMeterRequest{MeterID: s.Consumption, SiteID: siteID, Kind: greenmint.MeterConsumption, CapacityW: s.CapacityW, IntervalMinutes: 60, PublicKey: s.ConsumptionKey.Public().(ed25519.PublicKey)}},
		{owner, greenmint.TxRegisterMeter, greenmint.RegisterMeterRequest{MeterID: s.Generation, SiteID: siteID, Kind: greenmint.MeterGeneration, Technology: s.Technology, CapacityW: s.PVCapacityW, IntervalMinutes: 60, PublicKey: s.GenerationKey.Public().(ed25519.PublicKey)}},
		{e.Registry, greenmint.TxApproveSite, greenmint.StatusRequest{ID: siteID}},
		{e.Registry, greenmint.TxApproveMeter, greenmint.StatusRequest{ID: s.Consumption}},
		{e.Registry, greenmint.TxApproveMeter, greenmint.StatusRequest{ID: s.Generation}},
	}
	for _, st := range steps {
		if _, err := greenmint.SubmitJSON(ctx, e.Ledger, st.id, st.fn, st.req, nil); err != nil {
			return nil, fmt.Errorf("demo.RegisterSite: %s: %w", st.fn, err)
		}
	}
	return s, nil
}

// Load returns the mining load's energy in hour h of the period: near
// constant, with a small deterministic ripple.
func (s *Site) Load(h int) int64 {
	return s.LoadW - 20_000 + int64((h*7919)%40_001)
}

// Period is a span of whole hours.
type Period struct {
	Start time.Time
	Hours int
}

// Readings returns the signed hourly readings of both meters of a site
// over a period: the PV meter following the Almería profile scaled to the
// plant, the consumption meter the mining load.
func (s *Site) Readings(p Period) ([]greenmint.Reading, error) {
	pv, err := refdata.AlmeriaPV()
	if err != nil {
		return nil, err
	}
	byHour := make(map[time.Time]int64, len(pv))
	for _, h := range pv {
		byHour[h.Start] = h.PPM
	}
	var out []greenmint.Reading
	var consReg, genReg int64
	for h := 0; h < p.Hours; h++ {
		start := p.Start.Add(time.Duration(h) * time.Hour)
		ppm, ok := byHour[start.AddDate(2023-start.Year(), 0, 0)]
		if !ok {
			return nil, greenmint.Errorf(greenmint.EINVALID, "no PV data for %s", start)
		}
		gen := s.PVCapacityW * ppm / 1_000_000
		load := s.Load(h)
		consReg += load
		genReg += gen
		for _, r := range []struct {
			meter string
			key   ed25519.PrivateKey
			wh    int64
			reg   int64
		}{{s.Consumption, s.ConsumptionKey, load, consReg}, {s.Generation, s.GenerationKey, gen, genReg}} {
			rd := greenmint.Reading{MeterID: r.meter, Seq: int64(h + 1), Start: greenmint.FormatTime(start), End: greenmint.FormatTime(start.Add(time.Hour)), EnergyWh: r.wh, RegisterWh: r.reg}
			if err := greenmint.SignReading(&rd, r.key); err != nil {
				return nil, err
			}
			out = append(out, rd)
		}
	}
	return out, nil
}

// Attest builds the attestation of a site over a period from its readings
// (Readings) directly, without an oracle's storage, and has the given
// oracles sign it: the reference the oracle path is tested against.
func (e *Env) Attest(s *Site, inst greenmint.Instrument, p Period, signers ...string) (*greenmint.SignedAttestation, error) {
	readings, err := s.Readings(p)
	if err != nil {
		return nil, err
	}
	in := oracle.AttestationInput{
		SiteID: s.ID, Instrument: inst, PeriodStart: p.Start, PeriodEnd: p.Start.Add(time.Duration(p.Hours) * time.Hour),
		Dataset: e.Dataset, GridRegion: s.GridRegion, ConsumptionMeters: []string{s.Consumption}, AttestedAt: p.Start.Add(time.Duration(p.Hours+1) * time.Hour),
		Readings: readings,
	}
	for i := 0; i < len(readings); i += 2 {
		cons, gen := readings[i], readings[i+1]
		start, _ := greenmint.ParseTime(cons.Start)
		in.Hours = append(in.Hours, oracle.HourInput{
			Start: start, ConsumptionWh: cons.EnergyWh, Complete: true, GridState: greenmint.GridUnknown,
			Supplies: []greenmint.Allocation{{MeterID: s.Generation, Technology: s.Technology, GeneratedWh: gen.EnergyWh, AvailableWh: gen.EnergyWh}},
		})
	}
	a, err := oracle.BuildAttestation(in)
	if err != nil {
		return nil, err
	}
	return e.Sign(a, signers...)
}

// OraclePath sends readings through oracle A's ingestion into a temporary
// SQLite database, has oracle A build the attestation of the period and
// oracle B (from the same readings) co-sign it, and submits it for minting.
func (e *Env) OraclePath(ctx context.Context, s *Site, readings []greenmint.Reading, inst greenmint.Instrument, p Period) (*greenmint.SignedAttestation, *greenmint.MintResult, *oracle.Summary, error) {
	dir, err := os.MkdirTemp("", "greenmint-oracle-")
	if err != nil {
		return nil, nil, nil, err
	}
	defer os.RemoveAll(dir)
	db, err := store.Open(filepath.Join(dir, "oracle.db"))
	if err != nil {
		return nil, nil, nil, err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return nil, nil, nil, err
	}
	in := oracle.NewIngester(db, &oracle.LedgerMeters{Ledger: e.Ledger, ID: e.OracleA, TTL: time.Minute}, nil)
	batch := make([]oracle.Parsed, len(readings))
	for i, r := range readings {
		batch[i] = oracle.Parsed{Line: i + 1, Reading: r}
	}
	sum, err := in.Ingest(ctx, batch)
	if err != nil {
		return nil, nil, nil, err
	}
	sub := &oracle.Submitter{
		Attester: &oracle.Attester{Readings: db, Ledger: e.Ledger, ID: e.OracleA}, Store: db, Ledger: e.Ledger, ID: e.OracleA,
		OracleID: OracleAID, Key: e.OracleKeys[OracleAID],
		Peers: []oracle.Cosigner{&oracle.LocalCosigner{Attester: &oracle.Attester{Readings: db, Ledger: e.Ledger, ID: e.OracleB}, OracleID: OracleBID, Key: e.OracleKeys[OracleBID]}},
	}
	res, err := sub.Attest(ctx, oracle.AttestRequest{SiteID: s.ID, Instrument: inst, From: p.Start, To: p.Start.Add(time.Duration(p.Hours) * time.Hour),
		Dataset: greenmint.DatasetPin{ID: e.Dataset.ID, Version: e.Dataset.Version, SHA256: e.Dataset.SHA256}})
	if err != nil {
		return nil, nil, nil, err
	}
	recs, err := db.Attestations(ctx, store.AttestationMinted)
	if err != nil || len(recs) != 1 {
		return nil, nil, nil, greenmint.Errorf(greenmint.EINTERNAL, "the minted attestation is not on record: %v", err)
	}
	return &recs[0].Signed, res, sum, nil
}

// Sign has the named oracles sign an attestation.
func (e *Env) Sign(a *greenmint.Attestation, signers ...string) (*greenmint.SignedAttestation, error) {
	sa := &greenmint.SignedAttestation{Attestation: *a, Signatures: []greenmint.OracleSignature{}}
	for _, id := range signers {
		sig, err := greenmint.SignAttestation(a, id, e.OracleKeys[id])
		if err != nil {
			return nil, err
		}
		sa.Signatures = append(sa.Signatures, sig)
	}
	return sa, nil
}

// Mint submits a signed attestation as oracle A.
func (e *Env) Mint(ctx context.Context, sa *greenmint.SignedAttestation) (*greenmint.MintResult, error) {
	var res greenmint.MintResult
	if _, err := greenmint.SubmitJSON(ctx, e.Ledger, e.OracleA, greenmint.TxMint, greenmint.MintRequest{Attestation: *sa}, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// DemoWeek is the demo's attestation period: the first week of June 2023.
var DemoWeek = Period{Start: time.Date(2023, 6, 1, 0, 0, 0, 0, time.UTC), Hours: 7 * 24}

// Run tells the demo's story on e's ledger, printing each step to out.
func Run(ctx context.Context, e *Env, out io.Writer) error {
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	say("1. Registry bootstraps the ledger: oracle threshold 2 of 2, tolerance 5%%, dataset %s %s", refdata.DefaultDatasetID, refdata.DefaultDatasetVersion)
	if err := e.Bootstrap(ctx); err != nil {
		return err
	}
	say("   dataset SHA-256 %s registered on the ledger", e.Dataset.SHA256)
	siteID, err := e.FreeSiteID(ctx)
	if err != nil {
		return err
	}
	site, err := e.RegisterSite(ctx, e.Miner, siteID)
	if err != nil {
		return err
	}
	say("2. %s registers site %s (ES, %d W) with meters %s and %s (PV %d W); the registry approves them", e.Miner.MSPID, site.ID, site.CapacityW, site.Consumption, site.Generation, site.PVCapacityW)
	readings, err := site.Readings(DemoWeek)
	if err != nil {
		return err
	}
	sa, res, sum, err := e.OraclePath(ctx, site, readings, greenmint.CO2E, DemoWeek)
	if err != nil {
		return err
	}
	a := sa.Attestation
	say("3. The meters send %d signed hourly readings to oracle A: %d accepted, %d duplicate, %d rejected (SQLite)", len(readings), sum.Accepted, sum.Duplicate, sum.Rejected)
	say("   Oracle A builds a %d-hour attestation from the Almería 2023 PV profile, %s to %s; oracle B rebuilds it and co-signs:", len(a.Hours), a.PeriodStart, a.PeriodEnd)
	say("   consumption %s, renewable supply %s, matched %s", greenmint.FormatMWh(a.Totals.ConsumptionWh), greenmint.FormatMWh(a.Totals.SupplyWh), greenmint.FormatMWh(a.Totals.MatchedWh))
	say("   grid factor %d gCO2e/MWh (intermittent, %s) − lifecycle %d gCO2e/MWh (solar PV utility) ⇒ %s avoided", a.Factors.Intermittent, a.Factors.GridRegion, mustLifecycle(a.Factors, site.Technology), greenmint.FormatTonnes(a.Quantity))
	say("   readings Merkle root %s, signed by %d oracles", a.ReadingsRoot, len(sa.Signatures))
	say("4. The contract re-verifies and mints batch %s: %d units (gCO2e) to %s", res.BatchID, res.Quantity, e.Miner.MSPID)
	if _, err := e.Mint(ctx, sa); greenmint.ErrorCode(err) != greenmint.ECONFLICT {
		return fmt.Errorf("demo: minting the same attestation twice gave %v, want a conflict", err)
	}
	if _, err := greenmint.SubmitJSON(ctx, e.Ledger, e.Buyer, greenmint.TxMint, greenmint.MintRequest{Attestation: *sa}, nil); greenmint.ErrorCode(err) != greenmint.EFORBIDDEN {
		return fmt.Errorf("demo: a buyer minting gave %v, want forbidden", err)
	}
	say("   Attacks refused: the same attestation again (conflict, R5) and a mint by a buyer (forbidden)")

	sell := res.Quantity / 2
	var lst greenmint.Listing
	if _, err := greenmint.SubmitJSON(ctx, e.Ledger, e.Miner, greenmint.TxListForSale, greenmint.ListRequest{BatchID: res.BatchID, Quantity: sell, PriceMinor: 2_500_00 * (sell / 1_000_000), Currency: "EUR"}, &lst); err != nil {
		return err
	}
	say("5. %s lists %s for sale as %s (escrowed), price %d.%02d %s", e.Miner.MSPID, greenmint.FormatTonnes(sell), lst.ID, lst.PriceMinor/100, lst.PriceMinor%100, lst.Currency)
	if _, err := greenmint.SubmitJSON(ctx, e.Ledger, e.Buyer, greenmint.TxReserveListing, greenmint.ListingRequest{ListingID: lst.ID}, nil); err != nil {
		return err
	}
	if _, err := greenmint.SubmitJSON(ctx, e.Ledger, e.Miner, greenmint.TxConfirmPayment, greenmint.ListingRequest{ListingID: lst.ID}, nil); err != nil {
		return err
	}
	say("   %s reserves it, pays off-ledger; %s confirms payment and the escrow moves to the buyer", e.Buyer.MSPID, e.Miner.MSPID)

	retire := sell / 2
	var st greenmint.RetirementStatement
	if _, err := greenmint.SubmitJSON(ctx, e.Ledger, e.Buyer, greenmint.TxRetire, greenmint.RetireRequest{
		Parts:       []greenmint.RetirePart{{BatchID: res.BatchID, Quantity: retire}},
		Beneficiary: "Acme Offsets GmbH", Jurisdiction: "DE-BE", Purpose: greenmint.PurposeVoluntary, ReportingYear: 2023,
		Reason: "2023 voluntary offset of office electricity", Idempotent: greenmint.Idempotent{IdempotencyKey: "demo-retire-" + res.BatchID},
	}, &st); err != nil {
		return err
	}
	say("6. %s retires %s for %q (%s, %s, %d): statement %s", e.Buyer.MSPID, greenmint.FormatTonnes(retire), st.Beneficiary, st.Jurisdiction, st.Purpose, st.ReportingYear, st.ID)

	var b greenmint.Batch
	if err := greenmint.EvaluateJSON(ctx, e.Ledger, e.Auditor, greenmint.QueryGetBatch, greenmint.IDQuery{ID: res.BatchID}, &b); err != nil {
		return err
	}
	say("7. Final state of batch %s (R3: issued = tradable + escrowed + retired + cancelled):", b.ID)
	say("   issued %s = tradable %s + escrowed %s + retired %s + cancelled %s", greenmint.FormatTonnes(b.Issued), greenmint.FormatTonnes(b.Tradable), greenmint.FormatTonnes(b.Escrowed), greenmint.FormatTonnes(b.Retired), greenmint.FormatTonnes(b.Cancelled))
	say("   holdings:")
	for _, who := range []*greenmint.Identity{e.Miner, e.Buyer} {
		var page greenmint.HoldingsPage
		if err := greenmint.EvaluateJSON(ctx, e.Ledger, e.Auditor, greenmint.QueryHoldingsByOwner, greenmint.PageQuery{Owner: who.MSPID}, &page); err != nil {
			return err
		}
		for _, h := range page.Holdings {
			say("   %-10s %s  tradable %s  escrowed %s", h.Owner, h.BatchID, greenmint.FormatTonnes(h.Tradable), greenmint.FormatTonnes(h.Escrowed))
		}
	}
	return nil
}

func mustLifecycle(f greenmint.Factors, tech string) int64 {
	v, _ := f.LifecycleFor(tech)
	return v
}
