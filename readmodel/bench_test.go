package readmodel_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/readmodel"
)

// BenchmarkCommitToVisible measures how long a committed transaction takes
// to show in the read model (SQLite): a projector follows the embedded
// ledger's events while 200 transfers are submitted one after another;
// each one's latency runs from Submit returning (committed) to the
// projector having applied its event. It reports the 99th percentile.
func BenchmarkCommitToVisible(b *testing.B) {
	const transfers = 200
	ctx := context.Background()
	n := greenminttest.NewNetwork(b)
	f := runFlow(b, n)
	db := greenminttest.NewOracleDB(b, b.TempDir()+"/readmodel.db")
	p, err := readmodel.New(ctx, n.Ledger, db)
	if err != nil {
		b.Fatal(err)
	}
	if err := p.SyncTo(ctx, f.Last.TxID); err != nil {
		b.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	// The flow's flag freezes the batch: dismiss it so that units move.
	if _, err := greenmint.SubmitJSON(ctx, n.Ledger, n.Registry, greenmint.TxResolveFlag, greenmint.ResolveFlagRequest{BatchID: f.BatchID, FlagID: f.Flag, Outcome: greenmint.FlagDismissed, Resolution: "checked"}, nil); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	lat := make([]time.Duration, 0, transfers)
	for i := 0; i < transfers; i++ {
		res, err := greenmint.SubmitJSON(ctx, n.Ledger, n.Miner, greenmint.TxTransfer, greenmint.TransferRequest{BatchID: f.BatchID, To: n.Buyer.MSPID, Quantity: 1}, nil)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
		err = p.WaitTx(wctx, res.TxID)
		wcancel()
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	p99 := lat[len(lat)*99/100-1]
	b.ReportMetric(float64(p99.Microseconds())/1000, "BENCH:readmodel_commit_to_visible_p99_ms:ms")
}
