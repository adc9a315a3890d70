package oracle

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/greenmint/greenmint"
)

// scheduleStore is what the scheduler reads of the oracle's attestations.
// *store.DB implements it.
type scheduleStore interface {
	LastAttestedEnd(ctx context.Context, siteID string) (time.Time, error)
	SignedAttestations(ctx context.Context, siteID string) ([]greenmint.SignedAttestation, error)
}

// Scheduler attests closed periods of sites: each run, for every site, the
// hours from the end of its last attested period (or Start) to the last
// hour that closed at least Lag ago, at most 31 days at a time.
//
// Sites are attested at the same time, at most Concurrency at once, each
// under its own deadline (SiteTimeout): a site whose peer oracle or ledger
// does not answer fails with a timeout and never delays the others.
type Scheduler struct {
	Submitter  *Submitter
	Store      scheduleStore
	Sites      []string
	Instrument greenmint.Instrument
	Dataset    greenmint.DatasetPin
	Start      time.Time     // where sites with no attestation yet begin
	Lag        time.Duration // how long after an hour ends its readings are awaited
	// Concurrency is how many sites are attested at once; zero means
	// DefaultConcurrency.
	Concurrency int
	// SiteTimeout bounds one site's attestation in a run (build,
	// co-signing, submission); zero means DefaultSiteTimeout.
	SiteTimeout time.Duration
}

// Outcome is what one run did for one site.
type Outcome struct {
	SiteID   string
	From, To time.Time
	Result   *greenmint.MintResult
	Err      error
}

// RunOnce attests every site's closed period as of now and returns the
// outcomes in the order of Sites (a site with nothing to attest has none).
func (s *Scheduler) RunOnce(ctx context.Context, now time.Time) []Outcome {
	bySite := map[string]Outcome{}
	var mu sync.Mutex
	s.run(ctx, now, func(o Outcome) {
		mu.Lock()
		bySite[o.SiteID] = o
		mu.Unlock()
	})
	var out []Outcome
	for _, site := range s.sites() {
		if o, ok := bySite[site]; ok {
			out = append(out, o)
		}
	}
	return out
}

// sites returns Sites without repeats: a site attested twice at once would
// sign the same hours twice.
func (s *Scheduler) sites() []string {
	seen := map[string]bool{}
	var out []string
	for _, site := range s.Sites {
		if !seen[site] {
			seen[site] = true
			out = append(out, site)
		}
	}
	return out
}

// run attests every site's closed period, at most Concurrency at once,
// and reports each outcome as soon as it is known (from several
// goroutines); it returns when every site is done.
func (s *Scheduler) run(ctx context.Context, now time.Time, report func(Outcome)) {
	workers, timeout := s.Concurrency, s.SiteTimeout
	if workers <= 0 {
		workers = DefaultConcurrency
	}
	if timeout <= 0 {
		timeout = DefaultSiteTimeout
	}
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for _, site := range s.sites() {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			sctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			if o, ok := s.attestSite(sctx, site, now); ok {
				if o.Err != nil && !errors.Is(o.Err, context.DeadlineExceeded) {
					o.Err = timedOut(sctx, o.Err, "site "+site, timeout)
				}
				report(o)
			}
		}()
	}
	wg.Wait()
}

// attestSite attests one site's closed period as of now; false when there
// is nothing to attest yet. It first submits again what an earlier run
// signed and stored but could not submit (a ledger that timed out, say):
// the stored attestation counts as attested, so nothing else would.
func (s *Scheduler) attestSite(ctx context.Context, site string, now time.Time) (Outcome, bool) {
	if o, ok := s.resumeSite(ctx, site); ok {
		return o, true
	}
	from, err := s.Store.LastAttestedEnd(ctx, site)
	if err != nil {
		return Outcome{SiteID: site, Err: err}, true
	}
	if from.IsZero() || from.Before(s.Start) {
		from = s.Start.Truncate(time.Hour)
	}
	to := now.Add(-s.Lag).Truncate(time.Hour)
	if max := from.Add(greenmint.MaxAttestationHours * time.Hour); to.After(max) {
		to = max
	}
	if from, to, err = s.unclaimed(ctx, site, from, to); err != nil {
		return Outcome{SiteID: site, Err: fmt.Errorf("oracle.Scheduler: site %s: %w", site, err)}, true
	}
	if !to.After(from) {
		return Outcome{}, false
	}
	res, err := s.Submitter.Attest(ctx, AttestRequest{SiteID: site, Instrument: s.Instrument, From: from, To: to, Dataset: s.Dataset})
	if err != nil {
		err = fmt.Errorf("oracle.Scheduler: site %s %s–%s: %w", site, greenmint.FormatTime(from), greenmint.FormatTime(to), err)
	}
	return Outcome{SiteID: site, From: from, To: to, Result: res, Err: err}, true
}

// unclaimed narrows [from, to) to its first stretch that no active batch's
// period covers, by the ledger's claims: hours another oracle or an
// operator's `attestation create` minted are skipped instead of being
// refused on every run (R1). A batch's gap hours inside its period are
// left to `attestation create`.
func (s *Scheduler) unclaimed(ctx context.Context, site string, from, to time.Time) (time.Time, time.Time, error) {
	if !to.After(from) {
		return from, to, nil
	}
	var batches []greenmint.Batch
	q := greenmint.ClaimsQuery{SiteID: site, From: greenmint.FormatTime(from), To: greenmint.FormatTime(to)}
	if err := greenmint.EvaluateJSON(ctx, withDeadline(s.Submitter.Ledger, s.Submitter.LedgerTimeout), s.Submitter.ID, greenmint.QueryClaimsBySite, q, &batches); err != nil {
		return from, to, err
	}
	sort.Slice(batches, func(i, j int) bool { return batches[i].PeriodStart < batches[j].PeriodStart })
	for _, b := range batches {
		if b.Status == greenmint.BatchWithdrawn {
			continue
		}
		bs, err1 := greenmint.ParseHour(b.PeriodStart)
		be, err2 := greenmint.ParseHour(b.PeriodEnd)
		if err1 != nil || err2 != nil {
			continue
		}
		if !bs.After(from) {
			if be.After(from) {
				from = be
			}
			continue
		}
		if bs.Before(to) {
			to = bs
		}
		break
	}
	return from, to, nil
}

// resumeSite submits a site's stored, signed attestations again; it reports
// an outcome (and the run attests nothing new for the site) when one was
// minted now or could still not be submitted.
func (s *Scheduler) resumeSite(ctx context.Context, site string) (Outcome, bool) {
	signed, err := s.Store.SignedAttestations(ctx, site)
	if err != nil {
		return Outcome{SiteID: site, Err: fmt.Errorf("oracle.Scheduler: site %s: %w", site, err)}, true
	}
	if len(signed) == 0 {
		return Outcome{}, false
	}
	pending := make([]PendingAttestation, 0, len(signed))
	for _, sa := range signed {
		id, err := sa.Attestation.ID()
		if err != nil {
			return Outcome{SiteID: site, Err: fmt.Errorf("oracle.Scheduler: site %s: %w", site, err)}, true
		}
		pending = append(pending, PendingAttestation{ID: id, Signed: sa})
	}
	minted, refused, err := s.Submitter.Resume(ctx, pending)
	last := signed[len(signed)-1].Attestation
	from, _ := greenmint.ParseTime(signed[0].Attestation.PeriodStart)
	to, _ := greenmint.ParseTime(last.PeriodEnd)
	o := Outcome{SiteID: site, From: from, To: to, Err: err}
	if err != nil {
		o.Err = fmt.Errorf("oracle.Scheduler: site %s: submitting a stored attestation again: %w", site, err)
	} else if len(minted) > 0 {
		o.Result = &minted[len(minted)-1]
	} else if len(refused) > 0 {
		o.Err = fmt.Errorf("oracle.Scheduler: site %s: %w", site, refused[len(refused)-1])
	}
	return o, true
}

// Run calls RunOnce every interval until ctx ends, reporting each outcome
// as soon as its site is done. A run that outlasts the interval delays the
// next one; runs never overlap.
func (s *Scheduler) Run(ctx context.Context, every time.Duration, now func() time.Time, report func(Outcome)) {
	t := time.NewTicker(every)
	defer t.Stop()
	var mu sync.Mutex
	for {
		s.run(ctx, now(), func(o Outcome) {
			mu.Lock()
			defer mu.Unlock()
			report(o)
		})
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
