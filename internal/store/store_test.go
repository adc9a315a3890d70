package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/internal/store"
	"github.com/greenmint/greenmint/migrations"
	"github.com/greenmint/greenmint/oracle"
)

func reading(meter string, seq int64, start time.Time) greenmint.Reading {
	return greenmint.Reading{MeterID: meter, Seq: seq, Start: greenmint.FormatTime(start), End: greenmint.FormatTime(start.Add(15 * time.Minute)),
		EnergyWh: 10 * seq, RegisterWh: 100 * seq, Signature: make([]byte, 64)}
}

func TestStore(t *testing.T) {
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			t0 := time.Date(2023, 6, 1, 0, 0, 0, 0, time.UTC)
			var rs []greenmint.Reading
			for i := int64(1); i <= 1200; i++ { // more than one insert batch
				rs = append(rs, reading("M1", i, t0.Add(time.Duration(i-1)*15*time.Minute)))
			}
			head := greenmint.MeterHead{Seq: 1200, End: t0.Add(1200 * 15 * time.Minute), RegisterWh: 120000, Known: true}
			if err := db.SaveReadings(ctx, rs, map[string]greenmint.MeterHead{"M1": head}, t0); err != nil {
				t.Fatal(err)
			}
			heads, err := db.Heads(ctx, []string{"M1", "M2"})
			if err != nil {
				t.Fatal(err)
			}
			if got := heads["M1"]; got != head {
				t.Fatalf("head = %+v, want %+v", got, head)
			}
			if heads["M2"].Known {
				t.Fatal("unknown meter has a head")
			}
			k7 := greenmint.IntervalKey{MeterID: "M1", Start: t0.Add(6 * 15 * time.Minute).Unix()}
			got, err := db.Stored(ctx, []greenmint.IntervalKey{k7, {MeterID: "M1", Start: 1}})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || !oracle.Identical(got[k7], rs[6]) {
				t.Fatalf("stored = %+v, want %+v", got, rs[6])
			}
			window, err := db.Readings(ctx, []string{"M1"}, t0.Add(time.Hour), t0.Add(2*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if len(window) != 4 || window[0].Seq != 5 || window[0].Start != "2023-06-01T01:00:00Z" {
				t.Fatalf("readings of 01:00–02:00 = %+v", window)
			}
			// Unaligned bounds, an empty period and a meter of another resolution.
			five := greenmint.Reading{MeterID: "M5", Seq: 1, Start: greenmint.FormatTime(t0.Add(20 * time.Minute)), End: greenmint.FormatTime(t0.Add(25 * time.Minute)), EnergyWh: 1, RegisterWh: 1, Signature: make([]byte, 64)}
			if err := db.SaveReadings(ctx, []greenmint.Reading{five}, nil, t0); err != nil {
				t.Fatal(err)
			}
			window, err = db.Readings(ctx, []string{"M5", "M1"}, t0.Add(2*time.Minute), t0.Add(31*time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if len(window) != 3 || window[0].Start != "2023-06-01T00:15:00Z" || window[1].Start != "2023-06-01T00:30:00Z" || window[2].MeterID != "M5" {
				t.Fatalf("readings of 00:02–00:31 = %+v", window)
			}
			if empty, err := db.Readings(ctx, []string{"M1"}, t0.Add(time.Hour), t0.Add(time.Hour)); err != nil || len(empty) != 0 {
				t.Fatalf("empty period = %+v, %v", empty, err)
			}
			// Storing the same reading twice is a conflict and stores nothing of the batch.
			err = db.SaveReadings(ctx, []greenmint.Reading{reading("M2", 1, t0), rs[0]}, nil, t0)
			if greenmint.ErrorCode(err) != greenmint.ECONFLICT {
				t.Fatalf("duplicate insert = %v, want conflict", err)
			}
			if n, _ := db.CountReadings(ctx); n != 1201 {
				t.Fatalf("%d readings after a failed batch, want 1201", n)
			}
			if v, err := db.Migrate(ctx); err != nil || v != migrations.Latest() {
				t.Fatalf("migrating again = %d, %v, want %d", v, err, migrations.Latest())
			}
		})
	}
}

// The schema goes down to version 4 (meter-first key, digest column) and
// back up with the readings intact, on both databases; a version that does
// not exist is refused and changes nothing.
func TestMigrateDownAndUp(t *testing.T) {
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			t0 := time.Date(2023, 6, 1, 0, 0, 0, 0, time.UTC)
			rs := []greenmint.Reading{reading("M1", 1, t0), reading("M2", 1, t0), reading("M1", 2, t0.Add(15*time.Minute))}
			if err := db.SaveReadings(ctx, rs, nil, t0); err != nil {
				t.Fatal(err)
			}
			if v, err := db.MigrateTo(ctx, 4); err != nil || v != 4 {
				t.Fatalf("down to 4 = %d, %v", v, err)
			}
			if n, err := db.CountReadings(ctx); err != nil || n != 3 {
				t.Fatalf("%d readings at version 4 (%v), want 3", n, err)
			}
			if v, err := db.MigrateTo(ctx, 99); greenmint.ErrorCode(err) != greenmint.EINVALID || v != 0 {
				t.Fatalf("to 99 = %d, %v, want invalid", v, err)
			}
			if v, err := db.Migrate(ctx); err != nil || v != migrations.Latest() {
				t.Fatalf("up again = %d, %v, want %d", v, err, migrations.Latest())
			}
			got, err := db.Readings(ctx, []string{"M1", "M2"}, t0, t0.Add(time.Hour))
			if err != nil || len(got) != 3 || !oracle.Identical(got[1], rs[2]) || got[2].MeterID != "M2" {
				t.Fatalf("readings after down and up = %+v, %v", got, err)
			}
		})
	}
}

// An attestation goes signed → refused (with the ledger's reason, out of
// the scheduler's count) → signed again when submitted anew → minted, and
// a minted one is never changed by saving it again.
func TestAttestationStatuses(t *testing.T) {
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			now := time.Date(2023, 7, 1, 0, 0, 0, 0, time.UTC)
			sa := &greenmint.SignedAttestation{Attestation: greenmint.Attestation{SiteID: "SITE1", PeriodStart: "2023-06-01T00:00:00Z", PeriodEnd: "2023-06-02T00:00:00Z"}}
			status := func() store.AttestationRecord {
				t.Helper()
				all, err := db.Attestations(ctx, "")
				if err != nil || len(all) != 1 {
					t.Fatalf("attestations = %+v, %v", all, err)
				}
				return all[0]
			}
			if err := db.SaveAttestation(ctx, "A1", sa, now); err != nil {
				t.Fatal(err)
			}
			if err := db.MarkRefused(ctx, "A1", "conflict: site suspended", now); err != nil {
				t.Fatal(err)
			}
			if r := status(); r.Status != store.AttestationRefused || r.Refusal != "conflict: site suspended" {
				t.Fatalf("after refusal: %+v", r)
			}
			if end, err := db.LastAttestedEnd(ctx, "SITE1"); err != nil || !end.IsZero() {
				t.Fatalf("a refused period counts as attested: %v, %v", end, err)
			}
			if err := db.MarkRefused(ctx, "A1", "again", now); greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
				t.Fatalf("refusing a refused attestation = %v, want not_found", err)
			}
			if err := db.SaveAttestation(ctx, "A1", sa, now); err != nil {
				t.Fatal(err)
			}
			if r := status(); r.Status != store.AttestationSigned || r.Refusal != "" {
				t.Fatalf("saved anew: %+v", r)
			}
			if err := db.MarkMinted(ctx, "A1", "B1", now); err != nil {
				t.Fatal(err)
			}
			if err := db.SaveAttestation(ctx, "A1", sa, now); err != nil {
				t.Fatal(err)
			}
			if r := status(); r.Status != store.AttestationMinted || r.BatchID != "B1" {
				t.Fatalf("a minted attestation changed: %+v", r)
			}
			if end, _ := db.LastAttestedEnd(ctx, "SITE1"); !end.Equal(time.Date(2023, 6, 2, 0, 0, 0, 0, time.UTC)) {
				t.Fatalf("last attested end = %v", end)
			}
		})
	}
}
