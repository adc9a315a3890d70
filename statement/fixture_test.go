package statement

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/oracle"
)

// The fixture's retirement, as the buyer asked for it.
const (
	beneficiary = "Müller & Søn Energía GmbH"
	reason      = "Électricité 2023 of the Berlin office <scope 2>"
	verifyURL   = "https://registry.greenmint.example/v1/public/retirements/"
	windMeter   = "SITE0042-WIND"
	windTech    = "wind_onshore"
)

// gridState is the grid state the fixture's oracle records for hour h of a
// period, and gap tells the hours it leaves out for missing data: a pattern
// the tests count independently of the package.
func gridState(h int) string {
	switch h % 4 {
	case 1:
		return greenmint.GridSurplus
	case 2:
		return greenmint.GridNormal
	}
	return greenmint.GridUnknown
}

func gap(h int) bool { return h%50 == 7 }

// windWh is what the fixture's wind meter generates in hour h: nothing in
// every third hour.
func windWh(h int) int64 {
	if h%3 == 0 {
		return 0
	}
	return 700_000 + int64(h%11)*10_000
}

// fixture is a retirement made on a real embedded ledger: the demo site
// SITE0042 with its PV meter and a wind meter, one batch minted per
// instrument over consecutive periods, part of each transferred to the
// buyer, and the buyer retiring parts of all of them in one statement.
type fixture struct {
	net     *greenminttest.Network
	periods []greenminttest.Period
	retire  *greenmint.TxResult
	asked   []greenmint.RetirePart // the parts the buyer asked to retire
	in      Input                  // read back from the ledger, as the gateway reads it
}

func newFixture(tb testing.TB, hours int, instruments ...greenmint.Instrument) *fixture {
	tb.Helper()
	ctx := context.Background()
	n := greenminttest.NewNetwork(tb)
	fx := &fixture{net: n}
	windPub, windKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	submit := func(id *greenmint.Identity, fn string, req, resp any) *greenmint.TxResult {
		tb.Helper()
		res, err := greenmint.SubmitJSON(ctx, n.Ledger, id, fn, req, resp)
		if err != nil {
			tb.Fatalf("%s: %v", fn, err)
		}
		return res
	}
	submit(n.Miner, greenmint.TxRegisterMeter, greenmint.RegisterMeterRequest{
		MeterID: windMeter, SiteID: n.Site.ID, Kind: greenmint.MeterGeneration, Technology: windTech,
		CapacityW: 2_000_000, IntervalMinutes: 60, PublicKey: windPub,
	}, nil)
	submit(n.Registry, greenmint.TxApproveMeter, greenmint.StatusRequest{ID: windMeter}, nil)
	submit(n.Buyer, greenmint.TxOpenAccount, greenmint.OpenAccountRequest{}, nil)

	start := greenminttest.DemoWeek.Start
	var parts []greenmint.RetirePart
	for i, inst := range instruments {
		p := greenminttest.Period{Start: start, Hours: hours}
		start = p.End()
		fx.periods = append(fx.periods, p)
		sa := fx.attest(tb, inst, p, windKey)
		var minted greenmint.MintResult
		submit(n.OracleA, greenmint.TxMint, greenmint.MintRequest{Attestation: *sa}, &minted)
		give := minted.Quantity/2 + int64(i)
		submit(n.Miner, greenmint.TxTransfer, greenmint.TransferRequest{BatchID: minted.BatchID, To: consortium.BuyerMSP, Quantity: give}, nil)
		parts = append(parts, greenmint.RetirePart{BatchID: minted.BatchID, Quantity: give/3 + 7})
	}
	fx.asked = parts
	var st greenmint.RetirementStatement
	fx.retire = submit(n.Buyer, greenmint.TxRetire, greenmint.RetireRequest{
		Parts: parts, Beneficiary: beneficiary, Jurisdiction: "DE-BE", Purpose: greenmint.PurposeScope2,
		ReportingYear: 2023, Reason: reason,
	}, &st)

	// Read everything back from the ledger.
	read := func(fn, id string, v any) {
		tb.Helper()
		if err := greenmint.EvaluateJSON(ctx, n.Ledger, n.Registry, fn, greenmint.IDQuery{ID: id}, v); err != nil {
			tb.Fatalf("%s %s: %v", fn, id, err)
		}
	}
	read(greenmint.QueryGetRetirement, st.ID, &fx.in.Statement)
	fx.in.Block = fx.retire.BlockNumber
	fx.in.VerifyURL = verifyURL + st.ID
	for _, p := range fx.in.Statement.Parts {
		var b Batch
		read(greenmint.QueryGetBatch, p.BatchID, &b.Batch)
		read(greenmint.QueryGetAttestation, b.Batch.AttestationID, &b.Attestation)
		read(greenmint.QueryGetSite, b.Batch.SiteID, &b.Site)
		fx.in.Batches = append(fx.in.Batches, b)
	}
	return fx
}

// attest builds and has both oracles sign the attestation of the site over
// p, with the wind meter beside the PV meter, the grid states of gridState
// and the gaps of gap.
func (fx *fixture) attest(tb testing.TB, inst greenmint.Instrument, p greenminttest.Period, windKey ed25519.PrivateKey) *greenmint.SignedAttestation {
	tb.Helper()
	n, s := fx.net, fx.net.Site
	readings, err := s.Readings(p)
	if err != nil {
		tb.Fatal(err)
	}
	in := oracle.AttestationInput{
		SiteID: s.ID, Instrument: inst, PeriodStart: p.Start, PeriodEnd: p.End(),
		Dataset: n.Dataset, GridRegion: s.GridRegion, ConsumptionMeters: []string{s.Consumption}, AttestedAt: p.End().Add(time.Hour),
	}
	var windReg int64
	for h := 0; h < p.Hours; h++ {
		cons, pv := readings[2*h], readings[2*h+1]
		start := p.Start.Add(time.Duration(h) * time.Hour)
		wind := windWh(h)
		windReg += wind
		wr := greenmint.Reading{MeterID: windMeter, Seq: int64(h + 1), Start: greenmint.FormatTime(start), End: greenmint.FormatTime(start.Add(time.Hour)), EnergyWh: wind, RegisterWh: windReg}
		if err := greenmint.SignReading(&wr, windKey); err != nil {
			tb.Fatal(err)
		}
		in.Readings = append(in.Readings, cons, pv, wr)
		in.Hours = append(in.Hours, oracle.HourInput{
			Start: start, ConsumptionWh: cons.EnergyWh, Complete: !gap(h), GridState: gridState(h),
			Supplies: []greenmint.Allocation{
				{MeterID: s.Generation, Technology: s.Technology, GeneratedWh: pv.EnergyWh, AvailableWh: pv.EnergyWh},
				{MeterID: windMeter, Technology: windTech, GeneratedWh: wind, AvailableWh: wind},
			},
		})
	}
	a, err := oracle.BuildAttestation(in)
	if err != nil {
		tb.Fatal(err)
	}
	sa, err := n.Sign(a, greenminttest.OracleAID, greenminttest.OracleBID)
	if err != nil {
		tb.Fatal(err)
	}
	return sa
}
