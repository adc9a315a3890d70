package embedded_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/demo"
	"github.com/greenmint/greenmint/ledger/embedded"
)

// report prints a figure as `make bench` turns it into a BENCH line.
func report(b *testing.B, name string, v float64, unit string) {
	b.ReportMetric(v, "BENCH:"+name+":"+unit)
}

// transferNet is a network whose senders each hold units of one batch and
// whose receivers have accounts, so that clients never contend for a key.
type transferNet struct {
	ledger    *embedded.Ledger
	batchID   string
	senders   []*greenmint.Identity
	receivers []*greenmint.Identity
}

func newTransferNet(tb testing.TB, clients int) *transferNet {
	tb.Helper()
	ctx := context.Background()
	members := append([]consortium.Member(nil), consortium.DemoMembers...)
	for i := 0; i < clients; i++ {
		members = append(members,
			consortium.Member{MSPID: fmt.Sprintf("Sender%03dMSP", i), User: "trader", Role: greenmint.RoleBuyer},
			consortium.Member{MSPID: fmt.Sprintf("Receiver%03dMSP", i), User: "trader", Role: greenmint.RoleBuyer})
	}
	l, c, err := demo.CreateEmbeddedWith(tb.TempDir(), members, embedded.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	e, err := demo.NewEnv(l, c)
	if err != nil {
		tb.Fatal(err)
	}
	if err := e.Bootstrap(ctx); err != nil {
		tb.Fatal(err)
	}
	site, err := e.RegisterSite(ctx, e.Miner, "SITE0001")
	if err != nil {
		tb.Fatal(err)
	}
	sa, err := e.Attest(site, greenmint.EAC, demo.DemoWeek, demo.OracleAID, demo.OracleBID)
	if err != nil {
		tb.Fatal(err)
	}
	res, err := e.Mint(ctx, sa)
	if err != nil {
		tb.Fatal(err)
	}
	n := &transferNet{ledger: l, batchID: res.BatchID}
	for i := 0; i < clients; i++ {
		s, _ := c.Identity(fmt.Sprintf("Sender%03dMSP", i), "trader")
		r, _ := c.Identity(fmt.Sprintf("Receiver%03dMSP", i), "trader")
		for _, id := range []*greenmint.Identity{s, r} {
			if _, err := greenmint.SubmitJSON(ctx, l, id, greenmint.TxOpenAccount, greenmint.OpenAccountRequest{}, nil); err != nil {
				tb.Fatal(err)
			}
		}
		if _, err := greenmint.SubmitJSON(ctx, l, e.Miner, greenmint.TxTransfer, greenmint.TransferRequest{BatchID: res.BatchID, To: s.MSPID, Quantity: 100_000}, nil); err != nil {
			tb.Fatal(err)
		}
		n.senders, n.receivers = append(n.senders, s), append(n.receivers, r)
	}
	return n
}

// run has every client transfer 1 unit to its receiver, perClient times,
// each waiting for its commit, and returns the wall time and failures.
func (n *transferNet) run(perClient int) (time.Duration, int64) {
	var wg sync.WaitGroup
	var failed atomic.Int64
	start := time.Now()
	for i := range n.senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := greenmint.TransferRequest{BatchID: n.batchID, To: n.receivers[i].MSPID, Quantity: 1}
			for j := 0; j < perClient; j++ {
				if _, err := greenmint.SubmitJSON(context.Background(), n.ledger, n.senders[i], greenmint.TxTransfer, req, nil); err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start), failed.Load()
}

// BenchmarkEmbeddedTransfer measures committed transfers per second with 128
// concurrent clients (the median of three rounds of 12,800 transfers), every
// block fsynced before its transactions are acknowledged, then how fast the
// resulting chain verifies.
func BenchmarkEmbeddedTransfer(b *testing.B) {
	const clients, perClient, rounds = 128, 100, 3
	n := newTransferNet(b, clients)
	n.run(20) // warm up
	b.ResetTimer()
	var tps []float64
	for r := 0; r < rounds; r++ {
		elapsed, failed := n.run(perClient)
		if failed > 0 {
			b.Fatalf("%d transfers failed", failed)
		}
		tps = append(tps, float64(clients*perClient)/elapsed.Seconds())
	}
	b.StopTimer()
	sort.Float64s(tps)
	report(b, "embedded_transfer_tps", tps[rounds/2], "tx/s") // the median round

	start := time.Now()
	rep, err := n.ledger.Verify(context.Background())
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
	l, c, err := demo.CreateEmbedded(b.TempDir(), embedded.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	e, err := demo.NewEnv(l, c)
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
		sa, err := e.Attest(site, greenmint.CO2E, demo.Period{Start: time.Date(2023, 7, 1, 0, 0, 0, 0, time.UTC), Hours: 744}, demo.OracleAID, demo.OracleBID)
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
