package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/store"
)

// BenchmarkSaveReadings measures the durable write of ingestion's hot
// path in SQLite: batches of 1,000 readings (250 meters × 4 intervals,
// as a collector sends them), heads included, one transaction each.
func BenchmarkSaveReadings(b *testing.B) {
	ctx := context.Background()
	db, err := store.Open(filepath.Join(b.TempDir(), "oracle.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	const meters, perMeter = 250, 4
	t0 := time.Date(2023, 6, 1, 0, 0, 0, 0, time.UTC)
	var cpu time.Duration
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		b.StopTimer()
		rs := make([]greenmint.Reading, 0, meters*perMeter)
		heads := map[string]greenmint.MeterHead{}
		for iv := 0; iv < perMeter; iv++ {
			seq := int64(n*perMeter + iv + 1)
			start := t0.Add(time.Duration(seq-1) * 15 * time.Minute)
			for m := 0; m < meters; m++ {
				id := fmt.Sprintf("M%04d", m)
				rs = append(rs, reading(id, seq, start))
				heads[id] = greenmint.MeterHead{Seq: seq, End: start.Add(15 * time.Minute), RegisterWh: 100 * seq, Known: true}
			}
		}
		c0 := cpuTime()
		b.StartTimer()
		if err := db.SaveReadings(ctx, rs, heads, t0); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cpu += cpuTime() - c0
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*meters*perMeter), "µs/reading")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*meters*perMeter), "cpu-µs/reading")
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkStoreAtScale fills a SQLite store the way 10,000 meters at 15
// minutes fill it (one batch of every meter's reading per interval) for
// GREENMINT_SCALE_DAYS days, then reads one site's 10 meters over the
// last 31 days (or all days) as the matcher does, after reopening the
// database. It is not part of `make bench` (31 days: ~30 million readings,
// a few minutes, ~3 GB): run it with
//
//	GREENMINT_SCALE_DAYS=31 go test -run '^$' -bench StoreAtScale -benchtime 1x -timeout 1h ./internal/store/
func BenchmarkStoreAtScale(b *testing.B) {
	days, _ := strconv.Atoi(os.Getenv("GREENMINT_SCALE_DAYS"))
	if days <= 0 {
		b.Skip("set GREENMINT_SCALE_DAYS to run it")
	}
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "oracle.db")
	db, err := store.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	const meters = 10_000
	ids := make([]string, meters)
	for m := range ids {
		ids[m] = fmt.Sprintf("SITE%04d-M%d", m/10, m%10)
	}
	t0 := time.Date(2023, 6, 1, 0, 0, 0, 0, time.UTC)
	intervals := days * 96
	var first, last time.Duration
	for iv := 0; iv < intervals; iv++ {
		start := t0.Add(time.Duration(iv) * 15 * time.Minute)
		rs := make([]greenmint.Reading, meters)
		heads := make(map[string]greenmint.MeterHead, meters)
		for m, id := range ids {
			rs[m] = reading(id, int64(iv+1), start)
			heads[id] = greenmint.MeterHead{Seq: int64(iv + 1), End: start.Add(15 * time.Minute), RegisterWh: 100 * int64(iv+1), Known: true}
		}
		began := time.Now()
		if err := db.SaveReadings(ctx, rs, heads, start); err != nil {
			b.Fatal(err)
		}
		switch took := time.Since(began); {
		case iv < intervals/10:
			first += took
		case iv >= intervals-intervals/10:
			last += took
		}
	}
	db.Close()
	perReading := func(d time.Duration) float64 {
		return float64(d.Microseconds()) / float64(meters*(intervals/10))
	}
	b.ReportMetric(perReading(first), "µs/reading-first-10%")
	b.ReportMetric(perReading(last), "µs/reading-last-10%")
	if db, err = store.Open(path); err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	span := min(days, 31)
	from, to := t0.AddDate(0, 0, days-span), t0.AddDate(0, 0, days)
	for _, label := range []string{"ms-site-read-cold", "ms-site-read-warm"} {
		began := time.Now()
		got, err := db.Readings(ctx, ids[4200:4210], from, to)
		if err != nil || len(got) != 10*span*96 {
			b.Fatalf("read %d readings (%v), want %d", len(got), err, 10*span*96)
		}
		b.ReportMetric(float64(time.Since(began).Microseconds())/1000, label)
	}
	if info, err := os.Stat(path); err == nil {
		b.ReportMetric(float64(info.Size())/float64(meters*intervals), "bytes/reading")
	}
}
