package oracle

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/greenmint/greenmint"
)

// readingReader is where the attester reads readings. *store.DB implements it.
type readingReader interface {
	Readings(ctx context.Context, meterIDs []string, from, to time.Time) ([]greenmint.Reading, error)
}

// gridStateReader gives a region's grid state per hour.
type gridStateReader interface {
	GridStates(ctx context.Context, region string, from, to time.Time) (map[time.Time]string, error)
}

// Attester builds attestations from the readings an oracle stored and what
// the ledger says: the site and its meters, the registered dataset, and what
// earlier attestations already took from each generation hour (R1).
type Attester struct {
	Readings readingReader
	// GridStates, when set, gives the region's surplus hours for requests
	// that do not carry their own. *store.DB implements it.
	GridStates gridStateReader
	Ledger     greenmint.Ledger
	ID         *greenmint.Identity // the oracle's ledger identity, for queries
	Now        func() time.Time
	// LedgerTimeout bounds each ledger query; zero means
	// DefaultLedgerTimeout.
	LedgerTimeout time.Duration
}

// AttestRequest names what to attest.
type AttestRequest struct {
	SiteID     string
	Instrument greenmint.Instrument
	From, To   time.Time // whole hours, at most 31 days
	Dataset    greenmint.DatasetPin
	GridStates map[time.Time]string // surplus or normal per hour, where known
	// AttestedAt, when set, is the attestation's time: a co-signing oracle
	// rebuilds with the requester's so that equal data give equal bytes.
	AttestedAt time.Time
}

// Build computes the attestation: per hour, consumption C from every
// consumption meter of the site (an hour missing any interval is a gap),
// the supply S of each generation meter of the site less what the ledger
// says was already allocated, and M = min(C, S).
func (a *Attester) Build(ctx context.Context, req AttestRequest) (*greenmint.Attestation, []greenmint.Reading, error) {
	if req.From.Truncate(time.Hour) != req.From || req.To.Truncate(time.Hour) != req.To || !req.To.After(req.From) {
		return nil, nil, greenmint.Errorf(greenmint.EINVALID, "the period must be whole hours, from before to")
	}
	if req.To.Sub(req.From) > greenmint.MaxAttestationHours*time.Hour {
		return nil, nil, greenmint.Errorf(greenmint.EINVALID, "the period exceeds 31 days")
	}
	l := withDeadline(a.Ledger, a.LedgerTimeout)
	var site greenmint.Site
	if err := greenmint.EvaluateJSON(ctx, l, a.ID, greenmint.QueryGetSite, greenmint.IDQuery{ID: req.SiteID}, &site); err != nil {
		return nil, nil, fmt.Errorf("oracle.Build: %w", err)
	}
	if err := a.checkUnclaimed(ctx, l, req); err != nil {
		return nil, nil, err
	}
	var meters []greenmint.Meter
	if err := greenmint.EvaluateJSON(ctx, l, a.ID, greenmint.QuerySiteMeters, greenmint.IDQuery{ID: req.SiteID}, &meters); err != nil {
		return nil, nil, fmt.Errorf("oracle.Build: %w", err)
	}
	var ds greenmint.Dataset
	if err := greenmint.EvaluateJSON(ctx, l, a.ID, greenmint.QueryGetDataset, greenmint.DatasetQuery{ID: req.Dataset.ID, Version: req.Dataset.Version}, &ds); err != nil {
		return nil, nil, fmt.Errorf("oracle.Build: %w", err)
	}
	var cons, gen []greenmint.Meter
	var ids []string
	for _, m := range meters {
		if m.Status != greenmint.StatusApproved {
			continue
		}
		ids = append(ids, m.ID)
		if m.Kind == greenmint.MeterConsumption {
			cons = append(cons, m)
		} else {
			gen = append(gen, m)
		}
	}
	if len(cons) == 0 {
		return nil, nil, greenmint.Errorf(greenmint.ECONFLICT, "site %s has no approved consumption meter", site.ID)
	}
	if req.GridStates == nil && a.GridStates != nil {
		states, err := a.GridStates.GridStates(ctx, site.GridRegion, req.From, req.To)
		if err != nil {
			return nil, nil, fmt.Errorf("oracle.Build: %w", err)
		}
		req.GridStates = states
	}
	readings, err := a.Readings.Readings(ctx, ids, req.From, req.To)
	if err != nil {
		return nil, nil, fmt.Errorf("oracle.Build: %w", err)
	}
	type hourKey struct {
		meter string
		hour  int64
	}
	energy := map[hourKey]int64{}
	count := map[hourKey]int{}
	for _, r := range readings {
		s, _ := greenmint.ParseTime(r.Start)
		k := hourKey{r.MeterID, s.Truncate(time.Hour).Unix()}
		var err error
		if energy[k], err = greenmint.AddQty(energy[k], r.EnergyWh); err != nil {
			return nil, nil, err
		}
		count[k]++
	}
	taken := map[hourKey]greenmint.GenerationHour{}
	for _, m := range gen {
		var hours []greenmint.GenerationHour
		q := greenmint.GenerationQuery{MeterID: m.ID, From: greenmint.FormatTime(req.From), To: greenmint.FormatTime(req.To)}
		if err := greenmint.EvaluateJSON(ctx, l, a.ID, greenmint.QueryGenerationHours, q, &hours); err != nil {
			return nil, nil, fmt.Errorf("oracle.Build: %w", err)
		}
		for _, h := range hours {
			t, _ := greenmint.ParseHour(h.Hour)
			taken[hourKey{m.ID, t.Unix()}] = h
		}
	}
	in := AttestationInput{
		SiteID: site.ID, Instrument: req.Instrument, PeriodStart: req.From, PeriodEnd: req.To,
		Dataset: ds, GridRegion: site.GridRegion, Readings: readings, AttestedAt: a.now(),
	}
	if !req.AttestedAt.IsZero() {
		in.AttestedAt = req.AttestedAt
	}
	for _, m := range cons {
		in.ConsumptionMeters = append(in.ConsumptionMeters, m.ID)
	}
	var spent []string // hours whose generation earlier batches took whole
	for t := req.From; t.Before(req.To); t = t.Add(time.Hour) {
		h := HourInput{Start: t, Complete: true, GridState: req.GridStates[t]}
		for _, m := range cons {
			k := hourKey{m.ID, t.Unix()}
			if count[k] != int(60/m.IntervalMinutes) {
				h.Complete = false
			}
			if h.ConsumptionWh, err = greenmint.AddQty(h.ConsumptionWh, energy[k]); err != nil {
				return nil, nil, err
			}
		}
		for _, m := range gen {
			k := hourKey{m.ID, t.Unix()}
			generated := energy[k]
			if prior, ok := taken[k]; ok {
				// The ledger fixed this hour's generation at the first
				// attestation that took from it; offer only what is left.
				generated = prior.GeneratedWh
			}
			avail := generated - taken[k].AllocatedWh
			if generated > 0 && avail <= 0 {
				spent = append(spent, fmt.Sprintf("%s %s", m.ID, greenmint.FormatTime(t)))
			}
			if generated == 0 || avail <= 0 {
				continue
			}
			h.Supplies = append(h.Supplies, greenmint.Allocation{MeterID: m.ID, Technology: m.Technology, GeneratedWh: generated, AvailableWh: avail})
		}
		in.Hours = append(in.Hours, h)
	}
	att, err := BuildAttestation(in)
	if err != nil {
		return nil, nil, err
	}
	if att.Totals.MatchedWh == 0 && len(spent) > 0 {
		return nil, nil, greenmint.Errorf(greenmint.ECONFLICT,
			"site %s matches no renewable supply from %s to %s: the generation of %d meter-hours is already allocated in full to earlier batches (R1): %s",
			site.ID, greenmint.FormatTime(req.From), greenmint.FormatTime(req.To), len(spent), abbreviate(spent, 12))
	}
	return att, readings, nil
}

// checkUnclaimed refuses, before anything is built or signed, a period
// whose site-hours already back a batch (R1): the ledger would refuse the
// attestation, so the oracle says which hours and batches instead of
// signing it. A withdrawn batch's hours are free again.
func (a *Attester) checkUnclaimed(ctx context.Context, l greenmint.Ledger, req AttestRequest) error {
	var batches []greenmint.Batch
	q := greenmint.ClaimsQuery{SiteID: req.SiteID, From: greenmint.FormatTime(req.From), To: greenmint.FormatTime(req.To)}
	if err := greenmint.EvaluateJSON(ctx, l, a.ID, greenmint.QueryClaimsBySite, q, &batches); err != nil {
		return fmt.Errorf("oracle.Build: %w", err)
	}
	var claims []string
	for _, b := range batches {
		if b.Status == greenmint.BatchWithdrawn {
			continue
		}
		var rec greenmint.AttestationRecord
		if err := greenmint.EvaluateJSON(ctx, l, a.ID, greenmint.QueryGetAttestation, greenmint.IDQuery{ID: b.AttestationID}, &rec); err != nil {
			return fmt.Errorf("oracle.Build: batch %s: %w", b.ID, err)
		}
		var first, last time.Time
		n := 0
		for _, h := range rec.Attestation.Attestation.Hours {
			t, err := greenmint.ParseHour(h.Start)
			if err != nil || t.Before(req.From) || !t.Before(req.To) {
				continue
			}
			if n == 0 {
				first = t
			}
			last, n = t, n+1
		}
		if n > 0 {
			claims = append(claims, fmt.Sprintf("%d hours from %s to %s back batch %s", n, greenmint.FormatTime(first), greenmint.FormatTime(last.Add(time.Hour)), b.ID))
		}
	}
	if len(claims) > 0 {
		return greenmint.Errorf(greenmint.ECONFLICT, "site %s: %s (R1: a site-hour backs at most one batch); attest hours no batch holds yet",
			req.SiteID, strings.Join(claims, "; "))
	}
	return nil
}

// abbreviate joins at most n items, saying how many more there are.
func abbreviate(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}

func (a *Attester) now() time.Time {
	if a.Now != nil {
		return a.Now().UTC().Truncate(time.Second)
	}
	return time.Now().UTC().Truncate(time.Second)
}

// Proof returns the Merkle inclusion proof of one reading among those an
// attestation committed to, with its leaf.
func Proof(readings []greenmint.Reading, meterID string, seq int64) ([32]byte, []greenmint.MerkleStep, error) {
	_, ordered, err := ReadingsRoot(readings)
	if err != nil {
		return [32]byte{}, nil, err
	}
	leaves := make([][32]byte, len(ordered))
	at := -1
	for i, r := range ordered {
		leaves[i], _ = greenmint.ReadingLeaf(r)
		if r.MeterID == meterID && r.Seq == seq {
			at = i
		}
	}
	if at < 0 {
		return [32]byte{}, nil, greenmint.Errorf(greenmint.ENOTFOUND, "reading %d of meter %s is not among the attested readings", seq, meterID)
	}
	p, err := greenmint.MerkleProof(leaves, at)
	return leaves[at], p, err
}
