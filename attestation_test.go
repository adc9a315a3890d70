package greenmint_test

import (
	"bytes"
	"crypto/ed25519"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/oracle"
	"github.com/greenmint/greenmint/refdata"
)

var update = flag.Bool("update", false, "rewrite golden files")

// almeriaDay builds the attestation of 1 June 2023 for a site drawing a
// constant 3 MW, supplied by a 5 MW PV plant following the measured Almería
// profile, with meter keys from fixed seeds so the bytes are reproducible.
func almeriaDay(tb testing.TB) *greenmint.Attestation {
	tb.Helper()
	ds, err := refdata.DefaultDataset()
	if err != nil {
		tb.Fatal(err)
	}
	sum, err := greenmint.DatasetSHA256(ds)
	if err != nil {
		tb.Fatal(err)
	}
	pv, err := refdata.AlmeriaPV()
	if err != nil {
		tb.Fatal(err)
	}
	start := time.Date(2023, 6, 1, 0, 0, 0, 0, time.UTC)
	consKey := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32))
	pvKey := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, 32))
	in := oracle.AttestationInput{
		SiteID: "SITE0042", Instrument: greenmint.CO2E, PeriodStart: start, PeriodEnd: start.Add(24 * time.Hour),
		Dataset: greenmint.Dataset{DatasetContent: ds, SHA256: sum}, GridRegion: "ES",
		ConsumptionMeters: []string{"SITE0042-CONS"}, AttestedAt: start.Add(25 * time.Hour),
	}
	var i int
	for i = range pv {
		if pv[i].Start.Equal(start) {
			break
		}
	}
	for h := 0; h < 24; h++ {
		hs := start.Add(time.Duration(h) * time.Hour)
		gen := 5_000_000 * pv[i+h].PPM / 1_000_000
		for _, r := range []struct {
			m   string
			k   ed25519.PrivateKey
			wh  int64
			seq int64
		}{{"SITE0042-CONS", consKey, 3_000_000, int64(h + 1)}, {"SITE0042-PV", pvKey, gen, int64(h + 1)}} {
			rd := greenmint.Reading{MeterID: r.m, Seq: r.seq, Start: greenmint.FormatTime(hs), End: greenmint.FormatTime(hs.Add(time.Hour)), EnergyWh: r.wh, RegisterWh: r.wh * r.seq}
			if err := greenmint.SignReading(&rd, r.k); err != nil {
				tb.Fatal(err)
			}
			in.Readings = append(in.Readings, rd)
		}
		in.Hours = append(in.Hours, oracle.HourInput{Start: hs, ConsumptionWh: 3_000_000, Complete: h != 3, GridState: greenmint.GridNormal,
			Supplies: []greenmint.Allocation{{MeterID: "SITE0042-PV", Technology: "solar_pv_utility", GeneratedWh: gen, AvailableWh: gen}}})
	}
	a, err := oracle.BuildAttestation(in)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

func TestAlmeriaDayAttestation(t *testing.T) {
	a := almeriaDay(t)
	if err := greenmint.CheckAttestation(a); err != nil {
		t.Fatal(err)
	}
	// By hand: the profile's 24 values of 1 June sum to 4.114622; hour 03:00 is
	// a gap with output 0. A 5 MW plant gives 5 × ppm Wh each hour, so supply =
	// 5 × 4,114,622 = 20,573,110 Wh. The PV never exceeds the 3 MW load (peak
	// 0.470 × 5 MW = 2.35 MW), so all of it is matched. Consumption is 23 hours
	// × 3,000,000 Wh = 69,000,000 Wh. CO2E = floor(20,573,110 × (329,000 −
	// 48,000) / 10^6) = floor(5,781,043.91) = 5,781,043 g.
	want := greenmint.Totals{ConsumptionWh: 69_000_000, SupplyWh: 20_573_110, MatchedWh: 20_573_110}
	if a.Totals != want {
		t.Fatalf("totals = %+v, want %+v", a.Totals, want)
	}
	if a.Quantity != 5_781_043 {
		t.Fatalf("quantity = %d g, want 5781043", a.Quantity)
	}
	if len(a.Hours) != 23 || len(a.Gaps) != 1 || a.Gaps[0] != "2023-06-01T03:00:00Z" {
		t.Fatalf("%d hours, gaps %v", len(a.Hours), a.Gaps)
	}
	if h := a.Hours[11]; h.Start != "2023-06-01T12:00:00Z" || h.SupplyWh != 2_195_000 || h.MatchedWh != 2_195_000 {
		t.Fatalf("hour 12:00 = %+v, want 0.439 × 5 MW = 2,195,000 Wh matched", h)
	}
	got, err := a.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "attestation_almeria_day.golden")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want2, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want2) {
		t.Fatalf("canonical attestation differs from %s; if the change is intended, rerun with -update", golden)
	}
	// Decoding the canonical bytes and encoding again gives the same bytes.
	var back greenmint.Attestation
	if err := greenmint.DecodeStrict(got, &back); err != nil {
		t.Fatal(err)
	}
	again, _ := back.Canonical()
	if !bytes.Equal(again, got) {
		t.Fatal("canonical encoding does not round-trip")
	}
}

func TestCO2EFormula(t *testing.T) {
	f := greenmint.Factors{GridRegion: "X", Firm: 200_000, Intermittent: 300_000, Lifecycle: []greenmint.LifecycleFactor{
		{Technology: "hydro", Factor: 24_000}, {Technology: "solar_pv_utility", Factor: 48_000}, {Technology: "wind_onshore", Factor: 11_000}}}
	hour := func(allocs ...greenmint.Allocation) greenmint.AttestedHour {
		return greenmint.AttestedHour{Allocations: allocs}
	}
	tests := []struct {
		name  string
		hours []greenmint.AttestedHour
		want  int64
	}{
		{"one Wh of solar", []greenmint.AttestedHour{hour(greenmint.Allocation{Technology: "solar_pv_utility", MatchedWh: 1})}, 0},                                                                               // 252,000/10^6 floors to 0
		{"floor after summing", []greenmint.AttestedHour{hour(greenmint.Allocation{Technology: "solar_pv_utility", MatchedWh: 4}), hour(greenmint.Allocation{Technology: "solar_pv_utility", MatchedWh: 0})}, 1}, // 4 × 252,000 = 1,008,000
		{"firm uses the firm factor", []greenmint.AttestedHour{hour(greenmint.Allocation{Technology: "hydro", MatchedWh: 1_000_000})}, 176_000},                                                                  // 1 MWh × (200,000 − 24,000)
		{"one MWh of wind", []greenmint.AttestedHour{hour(greenmint.Allocation{Technology: "wind_onshore", MatchedWh: 1_000_000})}, 289_000},
		{"mixed", []greenmint.AttestedHour{hour(greenmint.Allocation{Technology: "hydro", MatchedWh: 500_000}, greenmint.Allocation{Technology: "wind_onshore", MatchedWh: 500_000})}, 232_500},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := &greenmint.Attestation{Instrument: greenmint.CO2E, Factors: f, Hours: tc.hours}
			got, err := greenmint.ComputeQuantity(a)
			if err != nil || got != tc.want {
				t.Fatalf("ComputeQuantity = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
	// A grid cleaner than the technology's lifecycle contributes nothing.
	clean := greenmint.Factors{GridRegion: "NO", Firm: 10_000, Intermittent: 10_000, Lifecycle: f.Lifecycle}
	a := &greenmint.Attestation{Instrument: greenmint.CO2E, Factors: clean, Hours: []greenmint.AttestedHour{hour(greenmint.Allocation{Technology: "solar_pv_utility", MatchedWh: 1_000_000})}}
	if got, _ := greenmint.ComputeQuantity(a); got != 0 {
		t.Fatalf("negative difference contributed %d", got)
	}
	// Beyond int64 is an overflow error, never a wrap.
	big := &greenmint.Attestation{Instrument: greenmint.CO2E, Factors: greenmint.Factors{Intermittent: 1 << 62, Lifecycle: f.Lifecycle}, Hours: []greenmint.AttestedHour{hour(greenmint.Allocation{Technology: "solar_pv_utility", MatchedWh: 1 << 62})}}
	if _, err := greenmint.ComputeQuantity(big); greenmint.ErrorCode(err) != greenmint.EINVALID {
		t.Fatalf("overflow = %v, want invalid", err)
	}
}

func TestParseTime(t *testing.T) {
	tests := []struct {
		in   string
		hour bool
		ok   bool
	}{
		{"2023-06-01T00:00:00Z", true, true},
		{"2023-06-01T00:15:00Z", false, true},
		{"2023-06-01T00:00:00+00:00", false, false},
		{"2023-06-01T00:00:00.000Z", false, false},
		{"2023-06-01T00:00Z", false, false},
		{"2023-06-01", false, false},
		{"", false, false},
	}
	for _, tc := range tests {
		_, err := greenmint.ParseTime(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseTime(%q) = %v, want ok %v", tc.in, err, tc.ok)
		}
		_, err = greenmint.ParseHour(tc.in)
		if (err == nil) != (tc.ok && tc.hour) {
			t.Errorf("ParseHour(%q) = %v, want ok %v", tc.in, err, tc.ok && tc.hour)
		}
	}
}

// FuzzDecodeAttestation feeds outside bytes to the attestation decoder and
// checks that one attestation has one encoding: whatever the decoder and
// CheckAttestation accept reaches a fixed point under decode → encode with
// the same ID, and every respelling of it that means the same (null, absent
// or empty lists, any key order) has the same bytes and ID
// (checkOneEncoding). Failures are internal errors, never panics.
func FuzzDecodeAttestation(f *testing.F) {
	for _, a := range []*greenmint.Attestation{almeriaDay(f), almeriaDayEAC(f), almeriaDayNoGaps(f)} {
		seed, err := a.Canonical()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(seed)
	}
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`{"hours":[{"start":"2023-06-01T00:00:00Z","consumption_wh":-1}]}`))
	f.Add([]byte(`{"quantity":9223372036854775807,"totals":{"matched_wh":9223372036854775807}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var a greenmint.Attestation
		if err := greenmint.DecodeStrict(data, &a); err != nil {
			if greenmint.ErrorCode(err) != greenmint.EINVALID {
				t.Fatalf("decode error code %s", greenmint.ErrorCode(err))
			}
			return
		}
		if err := greenmint.CheckAttestation(&a); err != nil {
			if greenmint.ErrorCode(err) != greenmint.EINVALID {
				t.Fatalf("check error code %s: %v", greenmint.ErrorCode(err), err)
			}
			once, err := a.Canonical()
			if err != nil {
				t.Fatal(err)
			}
			var b greenmint.Attestation
			if err := greenmint.DecodeStrict(once, &b); err != nil {
				t.Fatalf("canonical bytes do not decode: %v", err)
			}
			if twice, _ := b.Canonical(); !bytes.Equal(once, twice) {
				t.Fatalf("canonical encoding is not a fixed point:\n%s\n%s", once, twice)
			}
			return
		}
		checkOneEncoding(t, data, &a)
	})
}
