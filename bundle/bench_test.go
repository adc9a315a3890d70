package bundle_test

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/bundle"
	"github.com/greenmint/greenmint/internal/greenminttest"
)

// report prints a figure as `make bench` turns it into a BENCH line.
func report(b *testing.B, name string, v float64, unit string) {
	b.ReportMetric(v, "BENCH:"+name+":"+unit)
}

// BenchmarkBundleVerify measures greenmint verify's work on the bundle of a
// 744-hour (31-day) CO2E batch minted on an embedded ledger, with its
// 1,488 hourly readings: decoding the file and every check (the median of
// 5 runs after a warm-up that must pass).
func BenchmarkBundleVerify(b *testing.B) {
	ctx := context.Background()
	n := greenminttest.NewNetwork(b)
	period := greenminttest.Period{Start: time.Date(2023, 7, 1, 0, 0, 0, 0, time.UTC), Hours: 744}
	readings, err := n.Site.Readings(period)
	if err != nil {
		b.Fatal(err)
	}
	if err := n.DB.SaveReadings(ctx, readings, nil, period.End()); err != nil {
		b.Fatal(err)
	}
	sa, err := n.Attest(n.Site, greenmint.CO2E, period, greenminttest.OracleAID, greenminttest.OracleBID)
	if err != nil {
		b.Fatal(err)
	}
	res, err := n.Mint(ctx, sa)
	if err != nil {
		b.Fatal(err)
	}
	bd, err := bundle.BuildBatch(ctx, n.Ledger, nil, n.Auditor, res.BatchID, bundle.Options{Readings: n.DB})
	if err != nil {
		b.Fatal(err)
	}
	raw, err := bundle.Marshal(bd)
	if err != nil {
		b.Fatal(err)
	}
	verify := func() *bundle.Report {
		d, err := bundle.Decode(raw)
		if err != nil {
			b.Fatal(err)
		}
		return bundle.Verify(d, bundle.VerifyOptions{})
	}
	if rep := verify(); !rep.OK() || bd.Batches[0].Readings == nil || len(sa.Attestation.Hours)+len(sa.Attestation.Gaps) != 744 {
		b.Fatalf("the 744-hour bundle does not verify: %s", failures(rep))
	}
	b.ResetTimer()
	var ms []float64
	for i := 0; i < b.N; i++ {
		for r := 0; r < 5; r++ {
			start := time.Now()
			verify()
			ms = append(ms, float64(time.Since(start).Microseconds())/1000)
		}
	}
	b.StopTimer()
	sort.Float64s(ms)
	report(b, "bundle_verify_ms", ms[len(ms)/2], "ms")
	report(b, "bundle_bytes", float64(len(raw)), "bytes")
}
