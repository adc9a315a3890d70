package oracle_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/oracle"
)

// countingLedger is the real ledger with a tally of the meter IDs that
// GetMeters queries named.
type countingLedger struct {
	greenmint.Ledger
	mu    sync.Mutex
	asked map[string]int
}

func (c *countingLedger) Evaluate(ctx context.Context, id *greenmint.Identity, function string, args ...string) ([]byte, error) {
	if function == greenmint.QueryGetMeters {
		var q greenmint.IDsQuery
		if err := json.Unmarshal([]byte(args[0]), &q); err != nil {
			return nil, err
		}
		c.mu.Lock()
		if c.asked == nil {
			c.asked = map[string]int{}
		}
		for _, id := range q.IDs {
			c.asked[id]++
		}
		c.mu.Unlock()
	}
	return c.Ledger.Evaluate(ctx, id, function, args...)
}

// Meter IDs that no meter can have are rejected as malformed without a
// ledger lookup, and made-up IDs of the right form leave the caches within
// their bounds. Before, every ID was asked and remembered for ever (10
// requests of 100,000 made-up IDs grew the server from 187 MB to 1 GB).
func TestMeterIDsValidatedAndCachesBounded(t *testing.T) {
	ctx := context.Background()
	n := greenminttest.NewNetwork(t)
	l := &countingLedger{Ledger: n.Ledger}
	const maxUnknown = 100
	lm := &oracle.LedgerMeters{Ledger: l, ID: n.Env.OracleA, TTL: time.Hour, MaxUnknown: maxUnknown}
	in := oracle.NewIngester(n.DB, lm, readingsNow)

	readings, err := n.Site.Readings(greenminttest.Period{Start: greenminttest.DemoWeek.Start, Hours: 2})
	if err != nil {
		t.Fatal(err)
	}
	malformed := []string{"", "has space", "../../etc/passwd", "-lead", ".lead", "M1\n", "é", `M"1`, strings.Repeat("x", 65), strings.Repeat("y", 100_000)}
	batch := parsed(readings...)
	for _, id := range malformed {
		r := readings[0]
		r.MeterID = id
		batch = append(batch, oracle.Parsed{Line: len(batch) + 1, Reading: r})
	}
	s, err := in.Ingest(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if s.Accepted != len(readings) || s.Rejected != len(malformed) {
		t.Fatalf("%d accepted, %d rejected; want %d and %d", s.Accepted, s.Rejected, len(readings), len(malformed))
	}
	for _, r := range s.Results[len(readings):] {
		if r.Reason != oracle.ReasonMalformed || !strings.Contains(r.Message, "meter_id") || len(r.Message) > 300 {
			t.Fatalf("malformed ID %.20q: %+v, want malformed naming meter_id, briefly", r.MeterID, r)
		}
	}
	for _, id := range malformed {
		if l.asked[id] > 0 {
			t.Fatalf("the ledger was asked for malformed ID %.20q", id)
		}
	}
	if l.asked[n.Site.Consumption] != 1 {
		t.Fatalf("the ledger was asked %d times for %s, want once", l.asked[n.Site.Consumption], n.Site.Consumption)
	}
	// Made-up IDs of the right form: asked (the ledger decides), rejected
	// as unknown, and kept only within the bound.
	const batches, perBatch = 10, 2_000
	for b := 0; b < batches; b++ {
		var fake []oracle.Parsed
		for i := 0; i < perBatch; i++ {
			r := readings[0]
			r.MeterID = fmt.Sprintf("FAKE-%d-%d", b, i)
			fake = append(fake, oracle.Parsed{Line: i + 1, Reading: r})
		}
		s, err := in.Ingest(ctx, fake)
		if err != nil {
			t.Fatal(err)
		}
		if s.Rejected != perBatch || s.Results[0].Reason != oracle.ReasonUnknownMeter {
			t.Fatalf("made-up IDs: %d rejected, first %+v", s.Rejected, s.Results[0])
		}
		if known, unknown := lm.Cached(); unknown > maxUnknown || known != 2 {
			t.Fatalf("after %d made-up IDs the caches hold %d meters and %d unknown IDs; want 2 and at most %d", (b+1)*perBatch, known, unknown, maxUnknown)
		}
	}
	// The registered meters are still answered from the cache.
	if _, err := in.Ingest(ctx, parsed(readings...)); err != nil {
		t.Fatal(err)
	}
	if l.asked[n.Site.Consumption] != 1 {
		t.Fatalf("a cached meter was asked again: %d", l.asked[n.Site.Consumption])
	}
}

// Unknown IDs are remembered briefly (UnknownTTL), so that a meter
// registered meanwhile is found; registered meters for TTL.
func TestLedgerMetersUnknownTTL(t *testing.T) {
	ctx := context.Background()
	n := greenminttest.NewNetwork(t)
	l := &countingLedger{Ledger: n.Ledger}
	now := time.Date(2023, 7, 1, 0, 0, 0, 0, time.UTC)
	lm := &oracle.LedgerMeters{Ledger: l, ID: n.Env.OracleA, TTL: time.Hour, Now: func() time.Time { return now }}
	ids := []string{"NOT-YET", n.Site.Consumption}
	for i := 0; i < 2; i++ {
		if _, err := lm.Meters(ctx, ids); err != nil {
			t.Fatal(err)
		}
	}
	if l.asked["NOT-YET"] != 1 {
		t.Fatalf("an unknown ID was asked %d times within its TTL, want once", l.asked["NOT-YET"])
	}
	now = now.Add(oracle.DefaultUnknownTTL)
	if _, err := lm.Meters(ctx, ids); err != nil {
		t.Fatal(err)
	}
	if l.asked["NOT-YET"] != 2 || l.asked[n.Site.Consumption] != 1 {
		t.Fatalf("after the unknown TTL: asked %d and %d times, want 2 and 1", l.asked["NOT-YET"], l.asked[n.Site.Consumption])
	}
	// The registered meters' cache has its bound too.
	small := &oracle.LedgerMeters{Ledger: l, ID: n.Env.OracleA, TTL: time.Hour, MaxMeters: 1}
	got, err := small.Meters(ctx, []string{n.Site.Consumption, n.Site.Generation})
	if err != nil {
		t.Fatal(err)
	}
	if known, _ := small.Cached(); len(got) != 2 || known > 1 {
		t.Fatalf("MaxMeters 1: %d meters answered, %d kept; want 2 and at most 1", len(got), known)
	}
}
