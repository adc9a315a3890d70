package oracle

import (
	"context"
	"fmt"
	"time"

	"github.com/greenmint/greenmint"
)

// scheduleStore is what the scheduler reads of the oracle's attestations.
// *store.DB implements it.
type scheduleStore interface {
	LastAttestedEnd(ctx context.Context, siteID string) (time.Time, error)
}

// Scheduler attests closed periods of sites: each run, for every site, the
// hours from the end of its last attested period (or Start) to the last
// hour that closed at least Lag ago, at most 31 days at a time.
type Scheduler struct {
	Submitter  *Submitter
	Store      scheduleStore
	Sites      []string
	Instrument greenmint.Instrument
	Dataset    greenmint.DatasetPin
	Start      time.Time     // where sites with no attestation yet begin
	Lag        time.Duration // how long after an hour ends its readings are awaited
}

// Outcome is what one run did for one site.
type Outcome struct {
	SiteID   string
	From, To time.Time
	Result   *greenmint.MintResult
	Err      error
}

// RunOnce attests every site's closed period as of now.
func (s *Scheduler) RunOnce(ctx context.Context, now time.Time) []Outcome {
	var out []Outcome
	closed := now.Add(-s.Lag).Truncate(time.Hour)
	for _, site := range s.Sites {
		from, err := s.Store.LastAttestedEnd(ctx, site)
		if err != nil {
			out = append(out, Outcome{SiteID: site, Err: err})
			continue
		}
		if from.IsZero() || from.Before(s.Start) {
			from = s.Start.Truncate(time.Hour)
		}
		to := closed
		if max := from.Add(greenmint.MaxAttestationHours * time.Hour); to.After(max) {
			to = max
		}
		if !to.After(from) {
			continue
		}
		res, err := s.Submitter.Attest(ctx, AttestRequest{SiteID: site, Instrument: s.Instrument, From: from, To: to, Dataset: s.Dataset})
		if err != nil {
			err = fmt.Errorf("oracle.Scheduler: site %s %s–%s: %w", site, greenmint.FormatTime(from), greenmint.FormatTime(to), err)
		}
		out = append(out, Outcome{SiteID: site, From: from, To: to, Result: res, Err: err})
	}
	return out
}

// Run calls RunOnce every interval until ctx ends, reporting each outcome.
func (s *Scheduler) Run(ctx context.Context, every time.Duration, now func() time.Time, report func(Outcome)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		for _, o := range s.RunOnce(ctx, now()) {
			report(o)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
