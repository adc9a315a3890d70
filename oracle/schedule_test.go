package oracle_test

import (
	"context"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/oracle"
	"github.com/greenmint/greenmint/refdata"
)

func TestSchedulerAttestsClosedPeriods(t *testing.T) {
	ctx := context.Background()
	n := greenminttest.NewNetwork(t)
	e, l, site, db := n.Env, n.Ledger, n.Site, n.DB
	readings, _ := site.Readings(greenminttest.Period{Start: greenminttest.DemoWeek.Start, Hours: 48})
	in := oracle.NewIngester(db, &oracle.LedgerMeters{Ledger: l, ID: e.OracleA, TTL: time.Minute}, func() time.Time { return time.Date(2023, 7, 1, 0, 0, 0, 0, time.UTC) })
	if _, err := in.Ingest(ctx, parsed(readings...)); err != nil {
		t.Fatal(err)
	}
	sub := &oracle.Submitter{Attester: &oracle.Attester{Readings: db, Ledger: l, ID: e.OracleA}, Store: db, Ledger: l, ID: e.OracleA,
		OracleID: greenminttest.OracleAID, Key: e.OracleKeys[greenminttest.OracleAID],
		Peers: []oracle.Cosigner{&oracle.LocalCosigner{Attester: &oracle.Attester{Readings: db, Ledger: l, ID: e.OracleB}, OracleID: greenminttest.OracleBID, Key: e.OracleKeys[greenminttest.OracleBID]}}}
	s := &oracle.Scheduler{Submitter: sub, Store: db, Sites: []string{site.ID}, Instrument: greenmint.EAC,
		Dataset: greenmint.DatasetPin{ID: refdata.DefaultDatasetID, Version: refdata.DefaultDatasetVersion}, Start: greenminttest.DemoWeek.Start, Lag: 30 * time.Minute}
	// Day one closed (and its lag passed) at 00:30 on day two.
	out := s.RunOnce(ctx, greenminttest.DemoWeek.Start.Add(24*time.Hour+40*time.Minute))
	if len(out) != 1 || out[0].Err != nil || out[0].Result == nil || !out[0].To.Equal(greenminttest.DemoWeek.Start.Add(24*time.Hour)) {
		t.Fatalf("first run = %+v", out)
	}
	// Nothing new has closed: nothing to do.
	if out := s.RunOnce(ctx, greenminttest.DemoWeek.Start.Add(24*time.Hour+50*time.Minute)); len(out) != 0 {
		t.Fatalf("second run = %+v", out)
	}
	// Day two closes: it is attested from where day one ended.
	out = s.RunOnce(ctx, greenminttest.DemoWeek.Start.Add(48*time.Hour+31*time.Minute))
	if len(out) != 1 || out[0].Err != nil || !out[0].From.Equal(greenminttest.DemoWeek.Start.Add(24*time.Hour)) {
		t.Fatalf("third run = %+v", out)
	}
	if out[0].Result.BatchID != "EAC-ES-SITE0042-20230602-0002" {
		t.Fatalf("second batch = %s", out[0].Result.BatchID)
	}
}
