// Package refdata reads the reference data Greenmint ships in its binary:
// the IFI combined-margin grid factors, the IPCC AR5 lifecycle factors,
// Ember's average grid intensities and a year of measured PV output from
// Almería. See README.md beside this file for sources and licences. Every
// number is parsed from its decimal text into integers, exactly.
package refdata

import (
	"bytes"
	"embed"
	"encoding/csv"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/greenmint/greenmint"
)

//go:embed *.csv
var files embed.FS

func readCSV(name string, header []string) ([][]string, error) {
	raw, err := files.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("refdata: %w", err)
	}
	rows, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("refdata: %s: %w", name, err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("refdata: %s is empty", name)
	}
	for i, h := range header {
		if i >= len(rows[0]) || rows[0][i] != h {
			return nil, fmt.Errorf("refdata: %s: column %d is %q, want %q", name, i, rows[0][i], h)
		}
	}
	return rows[1:], nil
}

// ParseDecimal parses a non-negative decimal string and returns it
// multiplied by 10^scale, failing if it has more than scale decimals or does
// not fit in int64.
func ParseDecimal(s string, scale int) (int64, error) {
	intPart, frac, _ := strings.Cut(strings.TrimSpace(s), ".")
	if len(frac) > scale {
		return 0, fmt.Errorf("%q has more than %d decimals", s, scale)
	}
	digits := intPart + frac + strings.Repeat("0", scale-len(frac))
	if intPart == "" || strings.Trim(intPart+frac, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a non-negative decimal", s)
	}
	v, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a decimal: %w", s, err)
	}
	return v, nil
}

// PVHour is one hour of the Almería PV profile: output as parts per million
// of peak capacity.
type PVHour struct {
	Start time.Time
	PPM   int64
}

// AlmeriaPV returns the 8,760 hours of 2023 of the Almería PV plant.
func AlmeriaPV() ([]PVHour, error) {
	rows, err := readCSV("almeria_2023_pv_hourly.csv", []string{"hour_start", "normalized_pv_power"})
	if err != nil {
		return nil, err
	}
	out := make([]PVHour, 0, len(rows))
	for i, r := range rows {
		t, err := time.Parse("2006-01-02T15:04", r[0])
		if err != nil {
			return nil, fmt.Errorf("refdata: PV row %d: %w", i+2, err)
		}
		ppm, err := ParseDecimal(r[1], 6)
		if err != nil || ppm > 1_000_000 {
			return nil, fmt.Errorf("refdata: PV row %d: bad output %q", i+2, r[1])
		}
		out = append(out, PVHour{Start: t.UTC(), PPM: ppm})
	}
	return out, nil
}

// GridFactors returns the IFI 2021 combined-margin factors in gCO2e/MWh,
// keyed by grid region (ifi_regions.csv), sorted by region.
func GridFactors() ([]greenmint.GridFactor, error) {
	regions, err := readCSV("ifi_regions.csv", []string{"country", "region"})
	if err != nil {
		return nil, err
	}
	region := make(map[string]string, len(regions))
	for _, r := range regions {
		region[r[0]] = r[1]
	}
	rows, err := readCSV("ifi_grid_factors_2021.csv", []string{"country", "cm_firm_g_per_kwh", "cm_intermittent_g_per_kwh"})
	if err != nil {
		return nil, err
	}
	out := make([]greenmint.GridFactor, 0, len(rows))
	for i, r := range rows {
		reg, ok := region[r[0]]
		if !ok {
			return nil, fmt.Errorf("refdata: IFI row %d: no region for %q", i+2, r[0])
		}
		firm, err := ParseDecimal(r[1], 3)
		if err != nil {
			return nil, fmt.Errorf("refdata: IFI row %d: %w", i+2, err)
		}
		inter, err := ParseDecimal(r[2], 3)
		if err != nil {
			return nil, fmt.Errorf("refdata: IFI row %d: %w", i+2, err)
		}
		out = append(out, greenmint.GridFactor{Region: reg, Firm: firm, Intermittent: inter})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Region < out[j].Region })
	return out, nil
}

// LifecycleFactors returns the IPCC AR5 median lifecycle factors in
// gCO2e/MWh, sorted by technology.
func LifecycleFactors() ([]greenmint.LifecycleFactor, error) {
	rows, err := readCSV("ipcc_ar5_lifecycle_factors.csv", []string{"technology", "median_g_per_kwh"})
	if err != nil {
		return nil, err
	}
	out := make([]greenmint.LifecycleFactor, 0, len(rows))
	for i, r := range rows {
		f, err := ParseDecimal(r[1], 3)
		if err != nil {
			return nil, fmt.Errorf("refdata: IPCC row %d: %w", i+2, err)
		}
		out = append(out, greenmint.LifecycleFactor{Technology: r[0], Factor: f})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Technology < out[j].Technology })
	return out, nil
}

// AverageIntensity returns Ember's yearly average grid intensity per
// country in gCO2e/MWh, keyed by the same grid regions as GridFactors (the
// countries whose Ember name matches an IFI name), sorted by region.
func AverageIntensity() ([]greenmint.RegionFactor, error) {
	regions, err := readCSV("ifi_regions.csv", []string{"country", "region"})
	if err != nil {
		return nil, err
	}
	region := make(map[string]string, len(regions))
	for _, r := range regions {
		region[r[0]] = r[1]
	}
	rows, err := readCSV("ember_average_intensity.csv", []string{"key", "iso3", "country_or_region", "year", "g_per_kwh"})
	if err != nil {
		return nil, err
	}
	var out []greenmint.RegionFactor
	for i, r := range rows {
		reg, ok := region[r[2]]
		if !ok || r[1] == "" {
			continue // a region of several countries, or a name the IFI spells otherwise
		}
		f, err := ParseDecimal(r[4], 3)
		if err != nil {
			return nil, fmt.Errorf("refdata: Ember row %d: %w", i+2, err)
		}
		out = append(out, greenmint.RegionFactor{Region: reg, Factor: f})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Region < out[j].Region })
	return out, nil
}

// Dataset names of the shipped default dataset.
const (
	DefaultDatasetID      = "IFI-IPCC"
	DefaultDatasetVersion = "2021-v3.1"
)

// DefaultDataset returns the emission-factor dataset Greenmint ships: IFI
// 2021 combined-margin grid factors and IPCC AR5 lifecycle factors.
func DefaultDataset() (greenmint.DatasetContent, error) {
	g, err := GridFactors()
	if err != nil {
		return greenmint.DatasetContent{}, err
	}
	l, err := LifecycleFactors()
	if err != nil {
		return greenmint.DatasetContent{}, err
	}
	avg, err := AverageIntensity()
	if err != nil {
		return greenmint.DatasetContent{}, err
	}
	return greenmint.DatasetContent{
		AverageIntensity: avg,
		ID:               DefaultDatasetID, Version: DefaultDatasetVersion,
		Source:           "UNFCCC/IFI TWG Default Grid Factors 2021 v3.1 (combined margin); IPCC AR5 WG III Annex III Table A.III.2 (lifecycle medians); Ember yearly average intensity (location-based)",
		License:          "CC BY-SA 4.0 (IFI factors, Ember); facts (IPCC)",
		GridFactors:      g,
		LifecycleFactors: l,
	}, nil
}
