package oracle_test

import (
	"context"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/oracle"
)

// fakeMeters is a hand-written MeterSource.
type fakeMeters map[string]*greenmint.Meter

func (f fakeMeters) Meters(_ context.Context, ids []string) (map[string]*greenmint.Meter, error) {
	out := map[string]*greenmint.Meter{}
	for _, id := range ids {
		if m, ok := f[id]; ok {
			out[id] = m
		}
	}
	return out, nil
}
func (f fakeMeters) ToleranceBP(context.Context) (int64, error) { return 500, nil }

func parsed(rs ...greenmint.Reading) []oracle.Parsed {
	out := make([]oracle.Parsed, len(rs))
	for i, r := range rs {
		out[i] = oracle.Parsed{Line: i + 1, Reading: r}
	}
	return out
}

func TestIngest(t *testing.T) {
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			now := func() time.Time { return time.Date(2023, 6, 2, 0, 0, 0, 0, time.UTC) }
			in := oracle.NewIngester(db, fakeMeters{"M1": testMeter()}, now)
			r1 := signed(t, 1, "2023-06-01T12:00:00Z", 100, 100)
			r2 := signed(t, 2, "2023-06-01T12:15:00Z", 50, 150)
			r3 := signed(t, 3, "2023-06-01T12:30:00Z", 70, 220)
			forged := signed(t, 4, "2023-06-01T12:45:00Z", 1, 221)
			forged.EnergyWh = 999
			unknown := r3
			unknown.MeterID = "M9"
			batch := parsed(r1, r2, forged, unknown, r3)
			batch = append(batch, oracle.Parsed{Line: 6, Err: greenmint.Errorf(greenmint.EINVALID, "seq is not a number")})
			s, err := in.Ingest(ctx, batch)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{oracle.Accepted, oracle.Accepted, oracle.ReasonBadSignature, oracle.ReasonUnknownMeter, oracle.Accepted, oracle.ReasonMalformed}
			for i, w := range want {
				got := s.Results[i].Outcome
				if got == oracle.Rejected {
					got = s.Results[i].Reason
				}
				if got != w {
					t.Fatalf("reading %d: %+v, want %s", i, s.Results[i], w)
				}
			}
			if s.Accepted != 3 || s.Rejected != 3 {
				t.Fatalf("summary %d accepted, %d rejected", s.Accepted, s.Rejected)
			}
			// The same batch again: duplicates acknowledged, nothing stored twice.
			s, err = in.Ingest(ctx, parsed(r1, r2, r3))
			if err != nil {
				t.Fatal(err)
			}
			if s.Duplicate != 3 || s.Accepted != 0 {
				t.Fatalf("replayed batch: %+v", s)
			}
			// A different reading under a used sequence, an overlap, a register jump.
			replay := signed(t, 2, "2023-06-01T12:15:00Z", 51, 151)
			overlap := signed(t, 4, "2023-06-01T12:30:00Z", 1, 221)
			jump := signed(t, 5, "2023-06-01T12:45:00Z", 10, 300)
			next := signed(t, 6, "2023-06-01T12:45:00Z", 10, 230)
			s, err = in.Ingest(ctx, parsed(replay, overlap, jump, next))
			if err != nil {
				t.Fatal(err)
			}
			reasons := []string{oracle.ReasonSequence, oracle.ReasonOverlap, oracle.ReasonRegister, ""}
			for i, r := range reasons {
				if s.Results[i].Reason != r {
					t.Fatalf("reading %d: %+v, want reason %q", i, s.Results[i], r)
				}
			}
			if n, _ := db.CountReadings(ctx); n != 4 {
				t.Fatalf("%d readings stored, want 4", n)
			}
			heads, _ := db.Heads(ctx, []string{"M1"})
			if h := heads["M1"]; h.Seq != 6 || h.RegisterWh != 230 {
				t.Fatalf("head = %+v", h)
			}
		})
	}
}

// LedgerMeters answers from the ledger, leaves out unregistered meters,
// keeps what it read for TTL and reads again after it: a suspension shows
// once the TTL has passed.
func TestLedgerMeters(t *testing.T) {
	n := greenminttest.NewNetwork(t)
	ctx := context.Background()
	lm := &oracle.LedgerMeters{Ledger: n.Ledger, ID: n.Env.OracleA, TTL: time.Hour}
	ids := []string{n.Site.Consumption, "UNKNOWN", n.Site.Generation}
	got, err := lm.Meters(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[n.Site.Consumption].Status != greenmint.StatusApproved || got["UNKNOWN"] != nil {
		t.Fatalf("Meters = %+v", got)
	}
	if _, err := greenmint.SubmitJSON(ctx, n.Ledger, n.Env.Registry, greenmint.TxSuspendMeter, greenmint.StatusRequest{ID: n.Site.Consumption, Reason: "test"}, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := lm.Meters(ctx, ids); got[n.Site.Consumption].Status != greenmint.StatusApproved {
		t.Fatal("a cached meter was read again within the TTL")
	}
	lm.TTL = 0
	if got, _ := lm.Meters(ctx, ids); got[n.Site.Consumption].Status != greenmint.StatusSuspended || len(got) != 2 {
		t.Fatalf("after the TTL: %+v", got)
	}
}
