// Package oracle turns meter readings into hourly-matched attestations: it
// sums each hour's consumption and available renewable supply, matches
// them, commits to the readings with a Merkle root, prices CO2E with the
// pinned dataset's factors and signs the result.
package oracle

import (
	"encoding/hex"
	"fmt"
	"sort"
	"time"

	"github.com/greenmint/greenmint"
)

// HourInput is what an oracle knows of one hour of a site.
type HourInput struct {
	Start         time.Time
	ConsumptionWh int64
	// Complete is false when a consumption interval of the hour is missing:
	// the hour is left out of the attestation and reported as a gap.
	Complete bool
	// Supplies are the generation meters that may supply the site, with
	// GeneratedWh and AvailableWh (generated less what earlier attestations
	// took) filled in. BuildAttestation sorts them by meter ID.
	Supplies  []greenmint.Allocation
	GridState string
}

// AttestationInput is everything an attestation is built from.
type AttestationInput struct {
	SiteID            string
	Instrument        greenmint.Instrument
	PeriodStart       time.Time
	PeriodEnd         time.Time
	Dataset           greenmint.Dataset // the registered dataset (pin and values)
	GridRegion        string
	ConsumptionMeters []string
	Readings          []greenmint.Reading // the readings used, for the Merkle root
	Hours             []HourInput
	AttestedAt        time.Time
}

// FactorsFor picks a dataset's factors for a grid region.
func FactorsFor(ds greenmint.DatasetContent, region string) (greenmint.Factors, error) {
	for _, g := range ds.GridFactors {
		if g.Region == region {
			return greenmint.Factors{GridRegion: region, Firm: g.Firm, Intermittent: g.Intermittent, Lifecycle: ds.LifecycleFactors}, nil
		}
	}
	return greenmint.Factors{}, greenmint.Errorf(greenmint.ENOTFOUND, "dataset %s has no factors for grid region %s", ds.ID, region)
}

// ReadingsRoot returns the Merkle root over readings, ordered by meter ID
// then interval start, and that order.
func ReadingsRoot(readings []greenmint.Reading) (string, []greenmint.Reading, error) {
	rs := append([]greenmint.Reading(nil), readings...)
	sort.Slice(rs, func(i, j int) bool {
		if rs[i].MeterID != rs[j].MeterID {
			return rs[i].MeterID < rs[j].MeterID
		}
		return rs[i].Start < rs[j].Start
	})
	leaves := make([][32]byte, len(rs))
	for i, r := range rs {
		l, err := greenmint.ReadingLeaf(r)
		if err != nil {
			return "", nil, err
		}
		leaves[i] = l
	}
	root := greenmint.MerkleRoot(leaves)
	return hex.EncodeToString(root[:]), rs, nil
}

// BuildAttestation computes an attestation: per complete hour M = min(C, S)
// allocated across the supplies in meter-ID order, totals, the quantity of
// the instrument and the readings' Merkle root. Every oracle that builds
// from the same input gets the same bytes.
func BuildAttestation(in AttestationInput) (*greenmint.Attestation, error) {
	factors, err := FactorsFor(in.Dataset.DatasetContent, in.GridRegion)
	if err != nil {
		return nil, err
	}
	root, _, err := ReadingsRoot(in.Readings)
	if err != nil {
		return nil, err
	}
	meters := append([]string(nil), in.ConsumptionMeters...)
	sort.Strings(meters)
	a := &greenmint.Attestation{
		Version: greenmint.AttestationVersion, SiteID: in.SiteID, Instrument: in.Instrument,
		PeriodStart: greenmint.FormatTime(in.PeriodStart), PeriodEnd: greenmint.FormatTime(in.PeriodEnd),
		Dataset:           greenmint.DatasetPin{ID: in.Dataset.ID, Version: in.Dataset.Version, SHA256: in.Dataset.SHA256},
		Factors:           factors,
		ReadingsRoot:      root,
		ConsumptionMeters: meters,
		Hours:             []greenmint.AttestedHour{},
		Gaps:              []string{},
		AttestedAt:        greenmint.FormatTime(in.AttestedAt),
	}
	hours := append([]HourInput(nil), in.Hours...)
	sort.Slice(hours, func(i, j int) bool { return hours[i].Start.Before(hours[j].Start) })
	for _, h := range hours {
		start := greenmint.FormatTime(h.Start)
		if !h.Complete {
			a.Gaps = append(a.Gaps, start)
			continue
		}
		sup := append([]greenmint.Allocation(nil), h.Supplies...)
		sort.Slice(sup, func(i, j int) bool { return sup[i].MeterID < sup[j].MeterID })
		state := h.GridState
		if state == "" {
			state = greenmint.GridUnknown
		}
		ah, err := greenmint.MatchHour(start, h.ConsumptionWh, sup, state)
		if err != nil {
			return nil, fmt.Errorf("oracle.BuildAttestation: hour %s: %w", start, err)
		}
		if greenmint.HasHourlySeries(in.Dataset.HourlyFactors, in.GridRegion) {
			f, ok := greenmint.HourlyFactorFor(in.Dataset.HourlyFactors, in.GridRegion, start)
			if !ok {
				return nil, greenmint.Errorf(greenmint.EINVALID, "the dataset's hourly series for %s has no factor for %s", in.GridRegion, start)
			}
			ah.GridFactor = &f
		}
		a.Hours = append(a.Hours, ah)
		for _, v := range []struct {
			dst *int64
			add int64
		}{{&a.Totals.ConsumptionWh, ah.ConsumptionWh}, {&a.Totals.SupplyWh, ah.SupplyWh}, {&a.Totals.MatchedWh, ah.MatchedWh}} {
			if *v.dst, err = greenmint.AddQty(*v.dst, v.add); err != nil {
				return nil, fmt.Errorf("oracle.BuildAttestation: %w", err)
			}
		}
	}
	if a.Quantity, err = greenmint.ComputeQuantity(a); err != nil {
		return nil, fmt.Errorf("oracle.BuildAttestation: %w", err)
	}
	return a, nil
}
