package embedded_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/ledger/embedded"
)

// report prints a figure as `make bench` turns it into a BENCH line.
func report(b *testing.B, name string, v float64, unit string) {
	b.ReportMetric(v, "BENCH:"+name+":"+unit)
}

// BenchmarkEmbeddedTransfer measures committed transfers per second with 128
// concurrent clients (the median of three rounds of 12,800 transfers), every
// block fsynced before its transactions are acknowledged, then how fast the
// resulting chain verifies.
func BenchmarkEmbeddedTransfer(b *testing.B) {
	const clients, perClient, rounds = 128, 100, 3
	n := greenminttest.NewTransferNet(b, clients)
	n.Run(20) // warm up
	b.ResetTimer()
	var tps []float64
	for r := 0; r < rounds; r++ {
		elapsed, failed := n.Run(perClient)
		if failed > 0 {
			b.Fatalf("%d transfers failed", failed)
		}
		tps = append(tps, float64(clients*perClient)/elapsed.Seconds())
	}
	b.StopTimer()
	sort.Float64s(tps)
	report(b, "embedded_transfer_tps", tps[rounds/2], "tx/s") // the median round

	start := time.Now()
	rep, err := n.Ledger.Verify(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	secs := time.Since(start).Seconds()
	report(b, "embedded_verify_chain_blocks_per_s", float64(rep.Blocks)/secs, "blocks/s")
	report(b, "embedded_verify_chain_tx_per_s", float64(rep.Transactions)/secs, "tx/s")
	report(b, "embedded_transfer_mean_block_txs", float64(rep.Transactions)/float64(rep.Blocks), "tx/block")
}

// BenchmarkEmbeddedMint744h measures the latency of minting one 31-day
// hourly attestation (744 hours, signatures, R1 keys for every hour), the
// median of five mints on fresh sites.
func BenchmarkEmbeddedMint744h(b *testing.B) {
	ctx := context.Background()
	l, c, err := greenminttest.CreateEmbedded(b.TempDir(), embedded.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	e, err := greenminttest.NewEnv(l, c)
	if err != nil {
		b.Fatal(err)
	}
	if err := e.Bootstrap(ctx); err != nil {
		b.Fatal(err)
	}
	var times []time.Duration
	for i := 0; i < 5; i++ {
		site, err := e.RegisterSite(ctx, e.Miner, fmt.Sprintf("SITE%04d", i))
		if err != nil {
			b.Fatal(err)
		}
		sa, err := e.Attest(site, greenmint.CO2E, greenminttest.Period{Start: time.Date(2023, 7, 1, 0, 0, 0, 0, time.UTC), Hours: 744}, greenminttest.OracleAID, greenminttest.OracleBID)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if _, err := e.Mint(ctx, sa); err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(start))
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	report(b, "embedded_mint_744h_ms", float64(times[len(times)/2].Microseconds())/1000, "ms")
}
