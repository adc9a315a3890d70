package oracle_test

import (
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/oracle"
	"github.com/greenmint/greenmint/refdata"
)

func TestBuildAttestationMatchesHourByHour(t *testing.T) {
	ds, err := refdata.DefaultDataset()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2023, 6, 1, 10, 0, 0, 0, time.UTC)
	h := func(i int, c int64, s ...greenmint.Allocation) oracle.HourInput {
		return oracle.HourInput{Start: start.Add(time.Duration(i) * time.Hour), ConsumptionWh: c, Complete: true, Supplies: s}
	}
	in := oracle.AttestationInput{
		SiteID: "S1", Instrument: greenmint.EAC, PeriodStart: start, PeriodEnd: start.Add(4 * time.Hour),
		Dataset: greenmint.Dataset{DatasetContent: ds, SHA256: "00"}, GridRegion: "DE", ConsumptionMeters: []string{"C1"}, AttestedAt: start.Add(5 * time.Hour),
		Hours: []oracle.HourInput{
			// supply below consumption: all supply matched
			h(0, 1000, greenmint.Allocation{MeterID: "W1", Technology: "wind_onshore", GeneratedWh: 300, AvailableWh: 300}),
			// two plants above consumption: taken in meter-ID order (P1 before W1)
			h(1, 1000, greenmint.Allocation{MeterID: "W1", Technology: "wind_onshore", GeneratedWh: 900, AvailableWh: 900}, greenmint.Allocation{MeterID: "P1", Technology: "solar_pv_rooftop", GeneratedWh: 700, AvailableWh: 700}),
			// a missing interval: a gap
			{Start: start.Add(2 * time.Hour), ConsumptionWh: 500, Complete: false},
			// supply partly taken by an earlier attestation
			h(3, 800, greenmint.Allocation{MeterID: "W1", Technology: "wind_onshore", GeneratedWh: 1000, AvailableWh: 250}),
		},
	}
	a, err := oracle.BuildAttestation(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Hours) != 3 || len(a.Gaps) != 1 || a.Gaps[0] != "2023-06-01T12:00:00Z" {
		t.Fatalf("hours %d gaps %v", len(a.Hours), a.Gaps)
	}
	h1 := a.Hours[1]
	if h1.MatchedWh != 1000 || h1.Allocations[0].MeterID != "P1" || h1.Allocations[0].MatchedWh != 700 || h1.Allocations[1].MatchedWh != 300 {
		t.Fatalf("hour 11:00 = %+v", h1)
	}
	// Totals by hand: C = 1000 + 1000 + 800, S = 300 + 1600 + 250, M = 300 + 1000 + 250.
	if a.Totals != (greenmint.Totals{ConsumptionWh: 2800, SupplyWh: 2150, MatchedWh: 1550}) || a.Quantity != 1550 {
		t.Fatalf("totals %+v quantity %d", a.Totals, a.Quantity)
	}
	if a.Factors.GridRegion != "DE" || a.Factors.Intermittent != 523_000 {
		t.Fatalf("factors = %+v", a.Factors)
	}
	if _, err := oracle.FactorsFor(ds, "ATLANTIS"); greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
		t.Fatalf("unknown region = %v", err)
	}
}
