package oracle

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
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
//
// A reading whose meter ID is not of the form meters are registered under
// is rejected as malformed without asking the ledger. Each meter's readings
// are checked in the order of their sequence numbers, whatever their order
// in the batch, so a batch that lists a meter's readings newest first is
// accepted as one that lists them oldest first.
func (in *Ingester) Ingest(ctx context.Context, batch []Parsed) (*Summary, error) {
	now := in.now()
	tol, err := in.meters.ToleranceBP(ctx)
	if err != nil {
		return nil, fmt.Errorf("oracle.Ingest: %w", err)
	}
	// Malformed rows and meter IDs no meter can have are rejected before
	// anything is looked up.
	malformed := make([]error, len(batch))
	seen := map[string]bool{}
	var ids []string
	for i, p := range batch {
		malformed[i] = p.Err
		if malformed[i] == nil {
			malformed[i] = greenmint.CheckMeterID(p.Reading.MeterID)
		}
		if malformed[i] == nil && !seen[p.Reading.MeterID] {
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
				if malformed[i] != nil {
					res[i].Outcome, res[i].Reason, res[i].Message = Rejected, ReasonMalformed, greenmint.ErrorMessage(malformed[i])
					continue
				}
				v := CheckStatic(p.Reading, meters[p.Reading.MeterID], tol, now)
				res[i].Outcome, res[i].Reason, res[i].Message = v.Outcome, v.Reason, v.Message
			}
		}()
	}
	wg.Wait()

	// Phase 2, serially: sequence, overlap and register against the heads,
	// duplicates, and the write; each meter's readings in sequence order.
	var order []int
	headIDs := ids[:0:0]
	inHeads := map[string]bool{}
	for i, p := range batch {
		if res[i].Outcome == Accepted {
			order = append(order, i)
			if !inHeads[p.Reading.MeterID] {
				inHeads[p.Reading.MeterID] = true
				headIDs = append(headIDs, p.Reading.MeterID)
			}
		}
	}
	sort.SliceStable(order, func(a, b int) bool {
		ra, rb := &batch[order[a]].Reading, &batch[order[b]].Reading
		if ra.MeterID != rb.MeterID {
			return ra.MeterID < rb.MeterID
		}
		return ra.Seq < rb.Seq
	})
	in.mu.Lock()
	defer in.mu.Unlock()
	heads, err := in.store.Heads(ctx, headIDs)
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
	for _, i := range order {
		if h := heads[batch[i].Reading.MeterID]; h.Known && batch[i].Reading.Seq <= h.Seq {
			keys = append(keys, keyOf(batch[i].Reading))
		}
	}
	stored, err := in.store.Stored(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("oracle.Ingest: %w", err)
	}
	inBatch := map[greenmint.IntervalKey]greenmint.Reading{}
	changed := map[string]greenmint.MeterHead{}
	var accepted []greenmint.Reading
	for _, i := range order {
		p := batch[i]
		key := keyOf(p.Reading)
		if r, ok := stored[key]; ok && Identical(r, p.Reading) {
			res[i].Outcome = Duplicate
			continue
		}
		if r, ok := inBatch[key]; ok && Identical(r, p.Reading) {
			res[i].Outcome = Duplicate
			continue
		}
		// A different reading of an interval accepted earlier in the batch
		// meets the head that reading left: the same sequence is a replay,
		// a higher one overlaps it.
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

// Bounds of LedgerMeters' caches, where its fields leave them zero.
const (
	// DefaultMaxMeters is how many registered meters LedgerMeters keeps.
	DefaultMaxMeters = 100_000
	// DefaultMaxUnknown is how many IDs the ledger does not know
	// LedgerMeters remembers as unknown.
	DefaultMaxUnknown = 10_000
	// DefaultUnknownTTL is how long an unknown ID is remembered, at most.
	DefaultUnknownTTL = 5 * time.Second
)

// LedgerMeters reads meters and the tolerance from the ledger as id, and
// keeps them for TTL so that a batch does not query the ledger per meter;
// a suspension takes effect within TTL. Every cache is bounded: at most
// MaxMeters registered meters, and at most MaxUnknown IDs the ledger does
// not know, each for UnknownTTL. An ID that is not of the form meters are
// registered under (greenmint.CheckMeterID) is never asked nor kept.
type LedgerMeters struct {
	Ledger greenmint.Ledger
	ID     *greenmint.Identity
	TTL    time.Duration
	// UnknownTTL is how long an ID the ledger does not know is remembered
	// as unknown; zero means the lesser of TTL and DefaultUnknownTTL.
	UnknownTTL time.Duration
	// MaxMeters and MaxUnknown bound the caches; zero means
	// DefaultMaxMeters and DefaultMaxUnknown.
	MaxMeters, MaxUnknown int
	// LedgerTimeout bounds each ledger query; zero means DefaultLedgerTimeout.
	LedgerTimeout time.Duration
	// Now is the clock of the caches; nil means time.Now.
	Now func() time.Time

	mu      sync.Mutex
	known   boundedCache[*greenmint.Meter]
	unknown boundedCache[struct{}]
	tol     int64
	tolAt   time.Time
}

// configure sets the caches' bounds from the fields (which a caller may
// change between calls). lm.mu is held.
func (lm *LedgerMeters) configure() {
	lm.known.ttl, lm.known.max = lm.TTL, lm.MaxMeters
	if lm.known.max == 0 {
		lm.known.max = DefaultMaxMeters
	}
	lm.unknown.ttl, lm.unknown.max = lm.UnknownTTL, lm.MaxUnknown
	if lm.unknown.ttl == 0 {
		lm.unknown.ttl = min(lm.TTL, DefaultUnknownTTL)
	}
	if lm.unknown.max == 0 {
		lm.unknown.max = DefaultMaxUnknown
	}
}

func (lm *LedgerMeters) now() time.Time {
	if lm.Now != nil {
		return lm.Now()
	}
	return time.Now()
}

// Meters implements MeterSource: the meters it has not seen within TTL come
// from the ledger in one GetMeters evaluation per greenmint.MaxIDsPerQuery.
// A malformed ID is left out of the map without asking the ledger.
func (lm *LedgerMeters) Meters(ctx context.Context, ids []string) (map[string]*greenmint.Meter, error) {
	out := make(map[string]*greenmint.Meter, len(ids))
	var missing []string
	asked := map[string]bool{}
	now := lm.now()
	lm.mu.Lock()
	lm.configure()
	for _, id := range ids {
		if asked[id] || greenmint.CheckMeterID(id) != nil {
			continue // names no meter: never asked, never kept
		}
		if m, ok := lm.known.get(id, now); ok {
			out[id] = m
		} else if _, ok := lm.unknown.get(id, now); !ok {
			asked[id] = true
			missing = append(missing, id)
		}
	}
	lm.mu.Unlock()
	l := withDeadline(lm.Ledger, lm.LedgerTimeout)
	for len(missing) > 0 {
		n := min(len(missing), greenmint.MaxIDsPerQuery)
		var found []greenmint.Meter
		if err := greenmint.EvaluateJSON(ctx, l, lm.ID, greenmint.QueryGetMeters, greenmint.IDsQuery{IDs: missing[:n]}, &found); err != nil {
			return nil, err
		}
		at := lm.now()
		lm.mu.Lock()
		lm.configure()
		for i := range found {
			m := &found[i]
			out[m.ID] = m
			lm.known.put(m.ID, m, at)
			lm.unknown.remove(m.ID)
		}
		for _, id := range missing[:n] {
			if out[id] == nil {
				lm.unknown.put(id, struct{}{}, at)
				lm.known.remove(id)
			}
		}
		lm.mu.Unlock()
		missing = missing[n:]
	}
	return out, nil
}

// Cached returns how many registered meters and how many unknown IDs the
// caches hold (expired entries included, until they are swept).
func (lm *LedgerMeters) Cached() (known, unknown int) {
	lm.mu.Lock()
	defer lm.mu.Unlock()
	return lm.known.len(), lm.unknown.len()
}

// ToleranceBP implements MeterSource.
func (lm *LedgerMeters) ToleranceBP(ctx context.Context) (int64, error) {
	lm.mu.Lock()
	if !lm.tolAt.IsZero() && lm.now().Sub(lm.tolAt) < lm.TTL {
		defer lm.mu.Unlock()
		return lm.tol, nil
	}
	lm.mu.Unlock()
	var p greenmint.Policy
	if err := greenmint.EvaluateJSON(ctx, withDeadline(lm.Ledger, lm.LedgerTimeout), lm.ID, greenmint.QueryGetPolicy, struct{}{}, &p); err != nil {
		if greenmint.ErrorCode(err) == greenmint.ECONFLICT {
			return 0, errors.New("the ledger is not bootstrapped")
		}
		return 0, err
	}
	lm.mu.Lock()
	lm.tol, lm.tolAt = p.ToleranceBP, lm.now()
	lm.mu.Unlock()
	return p.ToleranceBP, nil
}
