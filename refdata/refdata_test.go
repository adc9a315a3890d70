package refdata_test

import (
	"testing"

	"github.com/greenmint/greenmint/refdata"
)

func TestParseDecimal(t *testing.T) {
	tests := []struct {
		in    string
		scale int
		want  int64
		ok    bool
	}{
		{"0.000000", 6, 0, true},
		{"0.439000", 6, 439_000, true},
		{"1", 6, 1_000_000, true},
		{"329", 3, 329_000, true},
		{"123.71", 3, 123_710, true},
		{"0.0005", 3, 0, false},
		{"-1", 3, 0, false},
		{"abc", 3, 0, false},
		{"", 3, 0, false},
		{"99999999999999999999", 0, 0, false},
	}
	for _, tc := range tests {
		got, err := refdata.ParseDecimal(tc.in, tc.scale)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseDecimal(%q, %d) = %d, %v; want %d, ok %v", tc.in, tc.scale, got, err, tc.want, tc.ok)
		}
	}
}

func TestShippedData(t *testing.T) {
	pv, err := refdata.AlmeriaPV()
	if err != nil {
		t.Fatal(err)
	}
	if len(pv) != 8760 || pv[0].Start.Year() != 2023 || pv[8759].Start.Month() != 12 {
		t.Fatalf("PV profile has %d hours from %v to %v", len(pv), pv[0].Start, pv[len(pv)-1].Start)
	}
	grid, err := refdata.GridFactors()
	if err != nil {
		t.Fatal(err)
	}
	if len(grid) != 233 {
		t.Fatalf("%d grid factors, want 233", len(grid))
	}
	found := false
	for _, g := range grid {
		if g.Region == "ES" {
			found = true
			if g.Firm != 209_000 || g.Intermittent != 329_000 {
				t.Fatalf("Spain = %+v, want 209,000 / 329,000 g/MWh", g)
			}
		}
	}
	if !found {
		t.Fatal("no factor for ES")
	}
	ds, err := refdata.DefaultDataset()
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.LifecycleFactors) != 13 || ds.LifecycleFactors[0].Technology != "biomass" {
		t.Fatalf("lifecycle factors = %+v", ds.LifecycleFactors)
	}
	if len(ds.AverageIntensity) < 150 {
		t.Fatalf("%d average intensities", len(ds.AverageIntensity))
	}
	for _, a := range ds.AverageIntensity {
		if a.Region == "ES" && (a.Factor < 50_000 || a.Factor > 300_000) {
			t.Fatalf("Spain's average intensity %d g/MWh is implausible", a.Factor)
		}
	}
}
