package chaincode_test

import (
	"context"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/internal/greenminttest"
)

// signedWeek returns the demo week's attestation signed by both oracles.
func (w *world) signedWeek(tb testing.TB, inst greenmint.Instrument) *greenmint.SignedAttestation {
	tb.Helper()
	sa, err := w.Attest(w.site, inst, greenminttest.DemoWeek, greenminttest.OracleAID, greenminttest.OracleBID)
	if err != nil {
		tb.Fatal(err)
	}
	return sa
}

// tampered applies f to a copy of the demo week's attestation, fixes up the
// totals and quantity unless f broke them on purpose, and re-signs it with
// both oracles, so only the contract's own checks can catch the fault.
func (w *world) tampered(tb testing.TB, f func(a *greenmint.Attestation), retotal bool) *greenmint.SignedAttestation {
	tb.Helper()
	a := w.signedWeek(tb, greenmint.CO2E).Attestation
	a.Hours = append([]greenmint.AttestedHour(nil), a.Hours...)
	for i := range a.Hours {
		a.Hours[i].Allocations = append([]greenmint.Allocation(nil), a.Hours[i].Allocations...)
	}
	f(&a)
	if retotal {
		a.Totals = greenmint.Totals{}
		for _, h := range a.Hours {
			a.Totals.ConsumptionWh += h.ConsumptionWh
			a.Totals.SupplyWh += h.SupplyWh
			a.Totals.MatchedWh += h.MatchedWh
		}
		q, err := greenmint.ComputeQuantity(&a)
		if err == nil {
			a.Quantity = q
		}
	}
	sa, err := w.Sign(&a, greenminttest.OracleAID, greenminttest.OracleBID)
	if err != nil {
		tb.Fatal(err)
	}
	return sa
}

func (w *world) mintAs(id *greenmint.Identity, sa *greenmint.SignedAttestation) error {
	return w.call(id, greenmint.TxMint, greenmint.MintRequest{Attestation: *sa}, nil)
}

// TestAttacks attacks each rule and expects the exact error code, with
// nothing committed by the failed transaction.
func TestAttacks(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		code   string
		attack func(t *testing.T, w *world) error
	}{
		{"double mint (R5)", greenmint.ECONFLICT, func(t *testing.T, w *world) error {
			sa := w.signedWeek(t, greenmint.CO2E)
			if err := w.mintAs(w.OracleA, sa); err != nil {
				t.Fatal(err)
			}
			return w.mintAs(w.OracleB, sa)
		}},
		{"same hours as another instrument (R1)", greenmint.ECONFLICT, func(t *testing.T, w *world) error {
			w.mintWeek(t, greenmint.CO2E)
			return w.mintAs(w.OracleA, w.signedWeek(t, greenmint.EAC))
		}},
		{"overlapping site-hours (R1)", greenmint.ECONFLICT, func(t *testing.T, w *world) error {
			w.mintWeek(t, greenmint.EAC)
			p := greenminttest.Period{Start: greenminttest.DemoWeek.Start.Add(6 * 24 * time.Hour), Hours: 48}
			sa, err := w.Attest(w.site, greenmint.EAC, p, greenminttest.OracleAID, greenminttest.OracleBID)
			if err != nil {
				t.Fatal(err)
			}
			return w.mintAs(w.OracleA, sa)
		}},
		{"over-allocated supply hour across sites (R1)", greenmint.ECONFLICT, func(t *testing.T, w *world) error {
			w.mintWeek(t, greenmint.EAC)
			other, err := w.RegisterSite(ctx, w.Miner, "SITE0043")
			if err != nil {
				t.Fatal(err)
			}
			// The second site claims the first site's PV plant as if none of it were taken.
			other.Generation, other.GenerationKey, other.PVCapacityW = w.site.Generation, w.site.GenerationKey, w.site.PVCapacityW
			sa, err := w.Attest(other, greenmint.EAC, greenminttest.DemoWeek, greenminttest.OracleAID, greenminttest.OracleBID)
			if err != nil {
				t.Fatal(err)
			}
			return w.mintAs(w.OracleA, sa)
		}},
		{"generation attested differently than before (R1)", greenmint.ECONFLICT, func(t *testing.T, w *world) error {
			p := greenminttest.Period{Start: greenminttest.DemoWeek.Start, Hours: 24}
			sa, _ := w.Attest(w.site, greenmint.EAC, p, greenminttest.OracleAID, greenminttest.OracleBID)
			if err := w.mintAs(w.OracleA, sa); err != nil {
				t.Fatal(err)
			}
			other, _ := w.RegisterSite(ctx, w.Miner, "SITE0044")
			other.Generation, other.GenerationKey, other.PVCapacityW = w.site.Generation, w.site.GenerationKey, w.site.PVCapacityW*11/10
			sa2, _ := w.Attest(other, greenmint.EAC, p, greenminttest.OracleAID, greenminttest.OracleBID)
			return w.mintAs(w.OracleA, sa2)
		}},
		{"too few oracle signatures (R5)", greenmint.EFORBIDDEN, func(t *testing.T, w *world) error {
			sa, _ := w.Attest(w.site, greenmint.CO2E, greenminttest.DemoWeek, greenminttest.OracleAID)
			return w.mintAs(w.OracleA, sa)
		}},
		{"the same oracle twice (R5)", greenmint.EINVALID, func(t *testing.T, w *world) error {
			sa, _ := w.Attest(w.site, greenmint.CO2E, greenminttest.DemoWeek, greenminttest.OracleAID, greenminttest.OracleAID)
			return w.mintAs(w.OracleA, sa)
		}},
		{"forged oracle signature (R5)", greenmint.EFORBIDDEN, func(t *testing.T, w *world) error {
			sa := w.signedWeek(t, greenmint.CO2E)
			sa.Signatures[1].Signature[7] ^= 0x40
			return w.mintAs(w.OracleA, sa)
		}},
		{"signatures over other bytes (R5)", greenmint.EFORBIDDEN, func(t *testing.T, w *world) error {
			sa := w.signedWeek(t, greenmint.CO2E)
			sa.Attestation.AttestedAt = "2023-06-08T02:00:00Z"
			return w.mintAs(w.OracleA, sa)
		}},
		{"unregistered oracle (R5)", greenmint.EFORBIDDEN, func(t *testing.T, w *world) error {
			w.OracleKeys["oracle-x"] = w.OracleKeys[greenminttest.OracleAID]
			sa, _ := w.Attest(w.site, greenmint.CO2E, greenminttest.DemoWeek, greenminttest.OracleBID, "oracle-x")
			return w.mintAs(w.OracleA, sa)
		}},
		{"revoked oracle (R5)", greenmint.EFORBIDDEN, func(t *testing.T, w *world) error {
			w.mustCall(t, w.Registry, greenmint.TxRevokeOracle, greenmint.RevokeOracleRequest{OracleID: greenminttest.OracleBID, Reason: "key leaked"}, nil)
			return w.mintAs(w.OracleA, w.signedWeek(t, greenmint.CO2E))
		}},
		{"unapproved site", greenmint.EFORBIDDEN, func(t *testing.T, w *world) error {
			w.mustCall(t, w.Registry, greenmint.TxSuspendSite, greenmint.StatusRequest{ID: w.site.ID, Reason: "inspection"}, nil)
			return w.mintAs(w.OracleA, w.signedWeek(t, greenmint.CO2E))
		}},
		{"suspended generation meter", greenmint.EFORBIDDEN, func(t *testing.T, w *world) error {
			w.mustCall(t, w.Registry, greenmint.TxSuspendMeter, greenmint.StatusRequest{ID: w.site.Generation, Reason: "tamper seal broken"}, nil)
			return w.mintAs(w.OracleA, w.signedWeek(t, greenmint.CO2E))
		}},
		{"mint by a buyer (wrong role)", greenmint.EFORBIDDEN, func(t *testing.T, w *world) error {
			return w.mintAs(w.Buyer, w.signedWeek(t, greenmint.CO2E))
		}},
		{"matched above min(C, S) (R2)", greenmint.EINVALID, func(t *testing.T, w *world) error {
			return w.mintAs(w.OracleA, w.tampered(t, func(a *greenmint.Attestation) {
				h := &a.Hours[12]
				h.MatchedWh = h.SupplyWh + 1
				h.Allocations[0].MatchedWh = h.MatchedWh
			}, true))
		}},
		{"matched above consumption (R2)", greenmint.EINVALID, func(t *testing.T, w *world) error {
			return w.mintAs(w.OracleA, w.tampered(t, func(a *greenmint.Attestation) {
				h := &a.Hours[12]
				h.ConsumptionWh = h.MatchedWh - 1
			}, true))
		}},
		{"totals not the sum of the hours (R2)", greenmint.EINVALID, func(t *testing.T, w *world) error {
			return w.mintAs(w.OracleA, w.tampered(t, func(a *greenmint.Attestation) { a.Totals.MatchedWh++ }, false))
		}},
		{"inflated quantity", greenmint.EINVALID, func(t *testing.T, w *world) error {
			return w.mintAs(w.OracleA, w.tampered(t, func(a *greenmint.Attestation) { a.Quantity++ }, false))
		}},
		{"overflowing consumption", greenmint.EINVALID, func(t *testing.T, w *world) error {
			return w.mintAs(w.OracleA, w.tampered(t, func(a *greenmint.Attestation) {
				a.Hours[0].ConsumptionWh, a.Hours[1].ConsumptionWh = math.MaxInt64, math.MaxInt64
			}, false))
		}},
		{"consumption beyond capacity", greenmint.EINVALID, func(t *testing.T, w *world) error {
			return w.mintAs(w.OracleA, w.tampered(t, func(a *greenmint.Attestation) { a.Hours[3].ConsumptionWh = 4_300_000 }, true))
		}},
		{"generation beyond capacity", greenmint.EINVALID, func(t *testing.T, w *world) error {
			return w.mintAs(w.OracleA, w.tampered(t, func(a *greenmint.Attestation) {
				h := &a.Hours[12]
				h.Allocations[0].GeneratedWh, h.Allocations[0].AvailableWh = 6_000_000, 6_000_000
				h.SupplyWh = 6_000_000
			}, true))
		}},
		{"grid factor not the dataset's (R9)", greenmint.EINVALID, func(t *testing.T, w *world) error {
			return w.mintAs(w.OracleA, w.tampered(t, func(a *greenmint.Attestation) { a.Factors.Intermittent = 900_000 }, true))
		}},
		{"dataset pin with another hash (R9)", greenmint.EINVALID, func(t *testing.T, w *world) error {
			return w.mintAs(w.OracleA, w.tampered(t, func(a *greenmint.Attestation) {
				a.Dataset.SHA256 = string(make([]byte, 0)) + "00" + a.Dataset.SHA256[2:]
			}, true))
		}},
		{"unregistered dataset (R9)", greenmint.ENOTFOUND, func(t *testing.T, w *world) error {
			return w.mintAs(w.OracleA, w.tampered(t, func(a *greenmint.Attestation) { a.Dataset.Version = "2099" }, true))
		}},
		{"non-renewable technology", greenmint.EINVALID, func(t *testing.T, w *world) error {
			return w.mintAs(w.OracleA, w.tampered(t, func(a *greenmint.Attestation) { a.Hours[12].Allocations[0].Technology = "coal" }, false))
		}},
		{"hour outside the period", greenmint.EINVALID, func(t *testing.T, w *world) error {
			return w.mintAs(w.OracleA, w.tampered(t, func(a *greenmint.Attestation) { a.PeriodEnd = "2023-06-07T00:00:00Z" }, true))
		}},
		{"non-canonical hour spelling", greenmint.EINVALID, func(t *testing.T, w *world) error {
			return w.mintAs(w.OracleA, w.tampered(t, func(a *greenmint.Attestation) { a.Hours[0].Start = "2023-06-01T00:00:00.0Z" }, true))
		}},
		{"meter registered on another org's site", greenmint.EFORBIDDEN, func(t *testing.T, w *world) error {
			return w.call(w.Miner2, greenmint.TxRegisterMeter, greenmint.RegisterMeterRequest{MeterID: "X1", SiteID: w.site.ID, Kind: greenmint.MeterConsumption, CapacityW: 1, IntervalMinutes: 15, PublicKey: make([]byte, 32)}, nil)
		}},
		{"approval by a miner", greenmint.EFORBIDDEN, func(t *testing.T, w *world) error {
			w.mustCall(t, w.Miner, greenmint.TxRegisterSite, greenmint.RegisterSiteRequest{SiteID: "SITE0099", Name: "x", Country: "ES", GridRegion: "ES", CapacityW: 1}, nil)
			return w.call(w.Miner, greenmint.TxApproveSite, greenmint.StatusRequest{ID: "SITE0099"}, nil)
		}},
		{"registry role from another organisation", greenmint.EFORBIDDEN, func(t *testing.T, w *world) error {
			e, err := w.c.Store.Enroll(consortium.MinerMSP, "rogue", greenmint.RoleRegistry)
			if err != nil {
				t.Fatal(err)
			}
			return w.call(e.Identity(), greenmint.TxApproveSite, greenmint.StatusRequest{ID: w.site.ID}, nil)
		}},
		{"dataset published by an auditor", greenmint.EFORBIDDEN, func(t *testing.T, w *world) error {
			return w.call(w.Auditor, greenmint.TxPublishDataset, greenmint.PublishDatasetRequest{Dataset: w.Dataset.DatasetContent, SHA256: w.Dataset.SHA256}, nil)
		}},
		{"second bootstrap", greenmint.ECONFLICT, func(t *testing.T, w *world) error {
			return w.call(w.Registry, greenmint.TxBootstrap, greenmint.PolicyRequest{Threshold: 1}, nil)
		}},
		{"zero quantity", greenmint.EINVALID, func(t *testing.T, w *world) error {
			res := w.mintWeek(t, greenmint.EAC)
			return w.call(w.Miner, greenmint.TxTransfer, greenmint.TransferRequest{BatchID: res.BatchID, To: w.Miner2.MSPID, Quantity: 0}, nil)
		}},
		{"negative quantity", greenmint.EINVALID, func(t *testing.T, w *world) error {
			res := w.mintWeek(t, greenmint.EAC)
			return w.call(w.Miner, greenmint.TxTransfer, greenmint.TransferRequest{BatchID: res.BatchID, To: w.Miner2.MSPID, Quantity: -5}, nil)
		}},
		{"more than the holding", greenmint.ECONFLICT, func(t *testing.T, w *world) error {
			res := w.mintWeek(t, greenmint.EAC)
			w.mustCall(t, w.Miner2, greenmint.TxOpenAccount, greenmint.OpenAccountRequest{}, nil)
			return w.call(w.Miner, greenmint.TxTransfer, greenmint.TransferRequest{BatchID: res.BatchID, To: w.Miner2.MSPID, Quantity: math.MaxInt64}, nil)
		}},
		{"quantity beyond int64 in JSON", greenmint.EINVALID, func(t *testing.T, w *world) error {
			_, err := w.Ledger.Submit(ctx, w.Miner, greenmint.TxTransfer, `{"batch_id":"B","to":"Miner2MSP","quantity":9223372036854775808}`)
			return err
		}},
		{"moving retired units (R4)", greenmint.ECONFLICT, func(t *testing.T, w *world) error {
			res := w.mintWeek(t, greenmint.EAC)
			w.mustCall(t, w.Miner, greenmint.TxRetire, greenmint.RetireRequest{Parts: []greenmint.RetirePart{{BatchID: res.BatchID, Quantity: res.Quantity}}, Beneficiary: "b", Jurisdiction: "ES", Purpose: greenmint.PurposeOther, ReportingYear: 2023}, nil)
			w.mustCall(t, w.Miner2, greenmint.TxOpenAccount, greenmint.OpenAccountRequest{}, nil)
			return w.call(w.Miner, greenmint.TxTransfer, greenmint.TransferRequest{BatchID: res.BatchID, To: w.Miner2.MSPID, Quantity: 1}, nil)
		}},
		{"cancelling retired units (R4)", greenmint.ECONFLICT, func(t *testing.T, w *world) error {
			res := w.mintWeek(t, greenmint.EAC)
			w.mustCall(t, w.Miner, greenmint.TxRetire, greenmint.RetireRequest{Parts: []greenmint.RetirePart{{BatchID: res.BatchID, Quantity: res.Quantity}}, Beneficiary: "b", Jurisdiction: "ES", Purpose: greenmint.PurposeOther, ReportingYear: 2023}, nil)
			return w.call(w.Registry, greenmint.TxCancelUnits, greenmint.CancelUnitsRequest{BatchID: res.BatchID, Owner: w.Miner.MSPID, Quantity: 1, Reason: "x"}, nil)
		}},
		{"moving escrowed units", greenmint.ECONFLICT, func(t *testing.T, w *world) error {
			res := w.mintWeek(t, greenmint.EAC)
			w.mustCall(t, w.Miner, greenmint.TxListForSale, greenmint.ListRequest{BatchID: res.BatchID, Quantity: res.Quantity, PriceMinor: 1, Currency: "EUR"}, nil)
			w.mustCall(t, w.Miner2, greenmint.TxOpenAccount, greenmint.OpenAccountRequest{}, nil)
			return w.call(w.Miner, greenmint.TxTransfer, greenmint.TransferRequest{BatchID: res.BatchID, To: w.Miner2.MSPID, Quantity: 1}, nil)
		}},
		{"retiring escrowed units", greenmint.ECONFLICT, func(t *testing.T, w *world) error {
			res := w.mintWeek(t, greenmint.EAC)
			w.mustCall(t, w.Miner, greenmint.TxListForSale, greenmint.ListRequest{BatchID: res.BatchID, Quantity: res.Quantity, PriceMinor: 1, Currency: "EUR"}, nil)
			return w.call(w.Miner, greenmint.TxRetire, greenmint.RetireRequest{Parts: []greenmint.RetirePart{{BatchID: res.BatchID, Quantity: 1}}, Beneficiary: "b", Jurisdiction: "ES", Purpose: greenmint.PurposeOther, ReportingYear: 2023}, nil)
		}},
		{"reserving one's own listing", greenmint.EFORBIDDEN, func(t *testing.T, w *world) error {
			res := w.mintWeek(t, greenmint.EAC)
			var l greenmint.Listing
			w.mustCall(t, w.Miner, greenmint.TxListForSale, greenmint.ListRequest{BatchID: res.BatchID, Quantity: 1, PriceMinor: 1, Currency: "EUR"}, &l)
			return w.call(w.Miner, greenmint.TxReserveListing, greenmint.ListingRequest{ListingID: l.ID}, nil)
		}},
		{"buyer confirming payment", greenmint.EFORBIDDEN, func(t *testing.T, w *world) error {
			res := w.mintWeek(t, greenmint.EAC)
			var l greenmint.Listing
			w.mustCall(t, w.Miner, greenmint.TxListForSale, greenmint.ListRequest{BatchID: res.BatchID, Quantity: 1, PriceMinor: 1, Currency: "EUR"}, &l)
			w.mustCall(t, w.Buyer, greenmint.TxReserveListing, greenmint.ListingRequest{ListingID: l.ID}, nil)
			return w.call(w.Buyer, greenmint.TxConfirmPayment, greenmint.ListingRequest{ListingID: l.ID}, nil)
		}},
		{"reserving a reserved listing", greenmint.ECONFLICT, func(t *testing.T, w *world) error {
			res := w.mintWeek(t, greenmint.EAC)
			var l greenmint.Listing
			w.mustCall(t, w.Miner, greenmint.TxListForSale, greenmint.ListRequest{BatchID: res.BatchID, Quantity: 1, PriceMinor: 1, Currency: "EUR"}, &l)
			w.mustCall(t, w.Buyer, greenmint.TxReserveListing, greenmint.ListingRequest{ListingID: l.ID}, nil)
			return w.call(w.Miner2, greenmint.TxReserveListing, greenmint.ListingRequest{ListingID: l.ID}, nil)
		}},
		{"holdings of another organisation", greenmint.EFORBIDDEN, func(t *testing.T, w *world) error {
			return greenmint.EvaluateJSON(ctx, w.Ledger, w.Buyer, greenmint.QueryHoldingsByOwner, greenmint.PageQuery{Owner: w.Miner.MSPID}, new(greenmint.HoldingsPage))
		}},
		{"flag by a miner", greenmint.EFORBIDDEN, func(t *testing.T, w *world) error {
			res := w.mintWeek(t, greenmint.EAC)
			return w.call(w.Miner, greenmint.TxFlagBatch, greenmint.FlagRequest{BatchID: res.BatchID, Reason: "x"}, nil)
		}},
		{"retiring a frozen batch", greenmint.ECONFLICT, func(t *testing.T, w *world) error {
			res := w.mintWeek(t, greenmint.EAC)
			w.mustCall(t, w.Auditor, greenmint.TxFlagBatch, greenmint.FlagRequest{BatchID: res.BatchID, Reason: "x"}, nil)
			return w.call(w.Miner, greenmint.TxRetire, greenmint.RetireRequest{Parts: []greenmint.RetirePart{{BatchID: res.BatchID, Quantity: 1}}, Beneficiary: "b", Jurisdiction: "ES", Purpose: greenmint.PurposeOther, ReportingYear: 2023}, nil)
		}},
		{"retirement with a bad jurisdiction", greenmint.EINVALID, func(t *testing.T, w *world) error {
			res := w.mintWeek(t, greenmint.EAC)
			return w.call(w.Miner, greenmint.TxRetire, greenmint.RetireRequest{Parts: []greenmint.RetirePart{{BatchID: res.BatchID, Quantity: 1}}, Beneficiary: "b", Jurisdiction: "Spain", Purpose: greenmint.PurposeOther, ReportingYear: 2023}, nil)
		}},
		{"malformed JSON", greenmint.EINVALID, func(t *testing.T, w *world) error {
			_, err := w.Ledger.Submit(ctx, w.Miner, greenmint.TxTransfer, `{"batch_id":`)
			return err
		}},
		{"unknown field", greenmint.EINVALID, func(t *testing.T, w *world) error {
			_, err := w.Ledger.Submit(ctx, w.Miner, greenmint.TxTransfer, `{"batch_id":"B","to":"X","quantity":1,"from":"MinerMSP"}`)
			return err
		}},
		{"missing batch", greenmint.ENOTFOUND, func(t *testing.T, w *world) error {
			w.mustCall(t, w.Miner2, greenmint.TxOpenAccount, greenmint.OpenAccountRequest{}, nil)
			return w.call(w.Miner, greenmint.TxTransfer, greenmint.TransferRequest{BatchID: "EAC-ES-NOPE-20230101-0001", To: w.Miner2.MSPID, Quantity: 1}, nil)
		}},
		{"caller from a CA outside the channel", greenmint.EUNAUTHENTICATED, func(t *testing.T, w *world) error {
			c, err := consortium.Create(filepath.Join(t.TempDir(), "orgs"), []consortium.Member{{MSPID: consortium.MinerMSP, User: "miner", Role: greenmint.RoleMiner}})
			if err != nil {
				t.Fatal(err)
			}
			impostor, _ := c.Identity(consortium.MinerMSP, "miner")
			return w.call(impostor, greenmint.TxRegisterSite, greenmint.RegisterSiteRequest{SiteID: "SITE0100", Name: "x", Country: "ES", GridRegion: "ES", CapacityW: 1}, nil)
		}},
		{"caller signing with another key", greenmint.EUNAUTHENTICATED, func(t *testing.T, w *world) error {
			id := *w.Miner
			id.Signer = w.Buyer.Signer
			return w.call(&id, greenmint.TxOpenAccount, greenmint.OpenAccountRequest{}, nil)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			err := tc.attack(t, w)
			t.Logf("refused: %v", err)
			wantCode(t, err, tc.code)
			if w.committedOnError {
				t.Fatal("a refused transaction committed a block")
			}
			if _, err := w.ledger.Verify(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestHonestSecondAllocation checks the supply side of R1 from the good
// side: a second site may take what the first left of a shared plant.
func TestHonestSecondAllocation(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	p := greenminttest.Period{Start: greenminttest.DemoWeek.Start.Add(10 * time.Hour), Hours: 3}
	w.site.LoadW = 1_000_000 // leaves most of the midday PV output untaken
	first, err := w.Attest(w.site, greenmint.EAC, p, greenminttest.OracleAID, greenminttest.OracleBID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Mint(ctx, first); err != nil {
		t.Fatal(err)
	}
	other, err := w.RegisterSite(ctx, w.Miner, "SITE0043")
	if err != nil {
		t.Fatal(err)
	}
	other.Generation, other.GenerationKey, other.PVCapacityW = w.site.Generation, w.site.GenerationKey, w.site.PVCapacityW
	sa, err := w.Attest(other, greenmint.EAC, p, greenminttest.OracleAID, greenminttest.OracleBID)
	if err != nil {
		t.Fatal(err)
	}
	a := sa.Attestation
	var total int64
	for i := range a.Hours {
		h, prev := &a.Hours[i], first.Attestation.Hours[i]
		al := &h.Allocations[0]
		al.AvailableWh = al.GeneratedWh - prev.MatchedWh
		al.MatchedWh = min(h.ConsumptionWh, al.AvailableWh)
		h.SupplyWh, h.MatchedWh = al.AvailableWh, al.MatchedWh
		total += h.MatchedWh
	}
	a.Totals.SupplyWh, a.Totals.MatchedWh, a.Quantity = 0, total, total
	for _, h := range a.Hours {
		a.Totals.SupplyWh += h.SupplyWh
	}
	if total == 0 {
		t.Fatal("test period leaves no surplus to take")
	}
	sa2, err := w.Sign(&a, greenminttest.OracleAID, greenminttest.OracleBID)
	if err != nil {
		t.Fatal(err)
	}
	res, err := w.Mint(ctx, sa2)
	if err != nil {
		t.Fatalf("honest second allocation refused: %v", err)
	}
	if res.Quantity != total {
		t.Fatalf("minted %d, want %d", res.Quantity, total)
	}
}
