package store_test

import (
	"context"
	"fmt"
	"path/filepath"
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
