package oracle

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/greenmint/greenmint"
)

// readingStore is where accepted readings go. *store.DB implements it.
type readingStore interface {
	Heads(ctx context.Context, meterIDs []string) (map[string]greenmint.MeterHead, error)
	Stored(ctx context.Context, keys []greenmint.IntervalKey) (map[greenmint.IntervalKey]greenmint.Reading, error)
	SaveReadings(ctx context.Context, readings []greenmint.Reading, heads map[string]greenmint.MeterHead, received time.Time) error
}

// MeterSource gives the registry's view of meters and the tolerance on
// physical bounds. LedgerMeters reads them from the ledger.
type MeterSource interface {
	// Meters returns the meters of ids; an ID that is not registered is
	// missing from the map.
	Meters(ctx context.Context, ids []string) (map[string]*greenmint.Meter, error)
	// ToleranceBP returns the registry's tolerance in basis points.
	ToleranceBP(ctx context.Context) (int64, error)
}

// Result is what became of one reading of a batch.
type Result struct {
	Index   int    `json:"index"` // 0-based position in the batch
	Line    int    `json:"line,omitempty"`
	MeterID string `json:"meter_id,omitempty"`
	Seq     int64  `json:"seq,omitempty"`
	Outcome string `json:"outcome"` // accepted, duplicate, rejected
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// Summary is the outcome of a batch.
type Summary struct {
	Accepted  int      `json:"accepted"`
	Duplicate int      `json:"duplicate"`
	Rejected  int      `json:"rejected"`
	Results   []Result `json:"results"`
}

// Ingester validates batches of readings (R6) and stores what is valid.
// Checks that need no history (signatures above all) run in parallel on
// every core; the sequence checks and the write run under one lock, so one
// Ingester must own its database.
type Ingester struct {
	store  readingStore
	meters MeterSource
	now    func() time.Time
	mu     sync.Mutex
}

// NewIngester returns an Ingester over a store and a meter source.
func NewIngester(s readingStore, m MeterSource, now func() time.Time) *Ingester {
	if now == nil {
		now = time.Now
	}
	return &Ingester{store: s, meters: m, now: now}
}

// Ingest checks every reading of the batch and stores the accepted ones.
// A rejected reading changes nothing and loses nothing valid beside it. An
// error means nothing of the batch was stored (and it may be sent again).
func (in *Ingester) Ingest(ctx context.Context, batch []Parsed) (*Summary, error) {
	now := in.now()
	tol, err := in.meters.ToleranceBP(ctx)
	if err != nil {
		return nil, fmt.Errorf("oracle.Ingest: %w", err)
	}
	seen := map[string]bool{}
	var ids []string
	for _, p := range batch {
		if p.Err == nil && !seen[p.Reading.MeterID] {
			seen[p.Reading.MeterID] = true
			ids = append(ids, p.Reading.MeterID)
		}
	}
	meters, err := in.meters.Meters(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("oracle.Ingest: %w", err)
	}

	// Phase 1, in parallel: everything that needs no history.
	res := make([]Result, len(batch))
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(batch); i += workers {
				p := batch[i]
				res[i] = Result{Index: i, Line: p.Line, MeterID: p.Reading.MeterID, Seq: p.Reading.Seq}
				if p.Err != nil {
					res[i].Outcome, res[i].Reason, res[i].Message = Rejected, ReasonMalformed, greenmint.ErrorMessage(p.Err)
					continue
				}
				v := CheckStatic(p.Reading, meters[p.Reading.MeterID], tol, now)
				res[i].Outcome, res[i].Reason, res[i].Message = v.Outcome, v.Reason, v.Message
			}
		}()
	}
	wg.Wait()

	// Phase 2, serially: sequence, overlap and register against the heads,
	// duplicates, and the write.
	in.mu.Lock()
	defer in.mu.Unlock()
	heads, err := in.store.Heads(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("oracle.Ingest: %w", err)
	}
	// A reading at or below its meter's head is a duplicate if the stored
	// reading of the same interval is Identical; otherwise a replay.
	keyOf := func(r greenmint.Reading) greenmint.IntervalKey {
		s, _ := greenmint.ParseTime(r.Start)
		return greenmint.IntervalKey{MeterID: r.MeterID, Start: s.Unix()}
	}
	var keys []greenmint.IntervalKey
	for i, p := range batch {
		if res[i].Outcome == Accepted {
			if h := heads[p.Reading.MeterID]; h.Known && p.Reading.Seq <= h.Seq {
				keys = append(keys, keyOf(p.Reading))
			}
		}
	}
	stored, err := in.store.Stored(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("oracle.Ingest: %w", err)
	}
	inBatch := map[greenmint.IntervalKey]greenmint.Reading{}
	changed := map[string]greenmint.MeterHead{}
	var accepted []greenmint.Reading
	for i, p := range batch {
		if res[i].Outcome != Accepted {
			continue
		}
		key := keyOf(p.Reading)
		if r, ok := stored[key]; ok && Identical(r, p.Reading) {
			res[i].Outcome = Duplicate
			continue
		}
		if r, ok := inBatch[key]; ok {
			if Identical(r, p.Reading) {
				res[i].Outcome = Duplicate
			} else {
				res[i] = rejectResult(res[i], ReasonSequence, "the batch holds two different readings of meter %s for %s", key.MeterID, p.Reading.Start)
			}
			continue
		}
		v := CheckSequence(p.Reading, heads[p.Reading.MeterID])
		if v.Outcome != Accepted {
			res[i].Outcome, res[i].Reason, res[i].Message = v.Outcome, v.Reason, v.Message
			continue
		}
		h := Advance(p.Reading)
		heads[p.Reading.MeterID], changed[p.Reading.MeterID] = h, h
		inBatch[key] = p.Reading
		accepted = append(accepted, p.Reading)
	}
	if err := in.store.SaveReadings(ctx, accepted, changed, now); err != nil {
		return nil, fmt.Errorf("oracle.Ingest: %w", err)
	}
	s := &Summary{Results: res}
	for _, r := range res {
		switch r.Outcome {
		case Accepted:
			s.Accepted++
		case Duplicate:
			s.Duplicate++
		default:
			s.Rejected++
		}
	}
	return s, nil
}

func rejectResult(r Result, reason, format string, args ...any) Result {
	r.Outcome, r.Reason, r.Message = Rejected, reason, fmt.Sprintf(format, args...)
	return r
}

// LedgerMeters reads meters and the tolerance from the ledger as id, and
// keeps them for ttl so that a batch does not query the ledger per meter;
// a suspension takes effect within ttl.
type LedgerMeters struct {
	Ledger greenmint.Ledger
	ID     *greenmint.Identity
	TTL    time.Duration
	mu     sync.Mutex
	cache  map[string]cachedMeter
	tol    int64
	tolAt  time.Time
}

type cachedMeter struct {
	m  *greenmint.Meter
	at time.Time
}

// Meters implements MeterSource: the meters it has not seen within TTL come
// from the ledger in one GetMeters evaluation per greenmint.MaxIDsPerQuery.
func (lm *LedgerMeters) Meters(ctx context.Context, ids []string) (map[string]*greenmint.Meter, error) {
	out := make(map[string]*greenmint.Meter, len(ids))
	var missing []string
	lm.mu.Lock()
	for _, id := range ids {
		if c, ok := lm.cache[id]; ok && time.Since(c.at) < lm.TTL {
			if c.m != nil {
				out[id] = c.m
			}
		} else {
			missing = append(missing, id)
		}
	}
	lm.mu.Unlock()
	for len(missing) > 0 {
		n := min(len(missing), greenmint.MaxIDsPerQuery)
		var found []greenmint.Meter
		if err := greenmint.EvaluateJSON(ctx, lm.Ledger, lm.ID, greenmint.QueryGetMeters, greenmint.IDsQuery{IDs: missing[:n]}, &found); err != nil {
			return nil, err
		}
		at := time.Now()
		lm.mu.Lock()
		if lm.cache == nil {
			lm.cache = map[string]cachedMeter{}
		}
		for _, id := range missing[:n] {
			lm.cache[id] = cachedMeter{at: at} // not registered, unless found below
		}
		for i := range found {
			m := &found[i]
			lm.cache[m.ID], out[m.ID] = cachedMeter{m: m, at: at}, m
		}
		lm.mu.Unlock()
		missing = missing[n:]
	}
	return out, nil
}

// ToleranceBP implements MeterSource.
func (lm *LedgerMeters) ToleranceBP(ctx context.Context) (int64, error) {
	lm.mu.Lock()
	if !lm.tolAt.IsZero() && time.Since(lm.tolAt) < lm.TTL {
		defer lm.mu.Unlock()
		return lm.tol, nil
	}
	lm.mu.Unlock()
	var p greenmint.Policy
	if err := greenmint.EvaluateJSON(ctx, lm.Ledger, lm.ID, greenmint.QueryGetPolicy, struct{}{}, &p); err != nil {
		if greenmint.ErrorCode(err) == greenmint.ECONFLICT {
			return 0, errors.New("the ledger is not bootstrapped")
		}
		return 0, err
	}
	lm.mu.Lock()
	lm.tol, lm.tolAt = p.ToleranceBP, time.Now()
	lm.mu.Unlock()
	return p.ToleranceBP, nil
}
