package fabric_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/greenminttest"
)

// TestFabricSuccessiveWrites registers a site and, right after its commit,
// a meter on it, 200 times, while other clients keep transferring units
// (the load of BenchmarkFabric, where the failure was seen). Both peers
// endorse every transaction and the gateway answers as soon as its own
// peer has committed, so the meter's proposal can reach the other peer
// before that peer has the site's block; every registration must still
// succeed, once (R10: each write carries an idempotency key, and a
// retried key answers the first result).
func TestFabricSuccessiveWrites(t *testing.T) {
	e := freshEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	if err := e.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	stop := backgroundTransfers(t, ctx, e, 24)
	defer stop()
	const rounds = 200
	var failed int
	var first error
	var last greenmint.RegisterMeterRequest
	var lastRes *greenmint.TxResult
	for i := 0; i < rounds; i++ {
		site := greenmint.RegisterSiteRequest{
			Idempotent: greenmint.Idempotent{IdempotencyKey: fmt.Sprintf("site-%d", i)},
			SiteID:     fmt.Sprintf("SITE%04d", 2000+i), Name: "back to back", Country: "ES", GridRegion: "ES",
			LatitudeMicro: 36_930_000, LongitudeMicro: -2_470_000, CapacityW: 4_000_000,
			Fleet: greenmint.Fleet{HashrateTHs: 150_000, EfficiencyMJ: 20_000},
		}
		if _, err := greenmint.SubmitJSON(ctx, e.Ledger, e.Miner, greenmint.TxRegisterSite, site, nil); err != nil {
			failed++
			if first == nil {
				first = fmt.Errorf("round %d: RegisterSite: %w", i, err)
			}
			continue
		}
		meter := greenmint.RegisterMeterRequest{
			Idempotent: greenmint.Idempotent{IdempotencyKey: fmt.Sprintf("meter-%d", i)},
			MeterID:    site.SiteID + "-CONS", SiteID: site.SiteID, Kind: greenmint.MeterConsumption,
			CapacityW: 4_000_000, IntervalMinutes: 60, PublicKey: bytes.Repeat([]byte{byte(i)}, 32),
		}
		res, err := greenmint.SubmitJSON(ctx, e.Ledger, e.Miner, greenmint.TxRegisterMeter, meter, nil)
		if err != nil {
			failed++
			if first == nil {
				first = fmt.Errorf("round %d: RegisterMeter right after RegisterSite: %w", i, err)
			}
			continue
		}
		last, lastRes = meter, res
	}
	if n := stop(); n == 0 {
		t.Fatal("no background transfer committed: the load did not run")
	}
	if failed > 0 {
		t.Fatalf("%d of %d back-to-back registrations failed; first: %v", failed, rounds, first)
	}
	// The last meter, submitted again at once with its key: the first
	// result, nothing registered twice.
	again, err := greenmint.SubmitJSON(ctx, e.Ledger, e.Miner, greenmint.TxRegisterMeter, last, nil)
	if err != nil {
		t.Fatalf("retried RegisterMeter: %v", err)
	}
	if !bytes.Equal(again.Payload, lastRes.Payload) {
		t.Fatalf("retried RegisterMeter answered %s, first %s", again.Payload, lastRes.Payload)
	}
}

// backgroundTransfers mints one batch per client and starts the clients,
// each moving one unit of its own batch from the miner to the buyer again
// and again. stop ends them and returns how many transfers committed; a
// failed transfer fails the test.
func backgroundTransfers(t *testing.T, ctx context.Context, e *greenminttest.Env, clients int) (stop func() int64) {
	t.Helper()
	site, err := e.RegisterSite(ctx, e.Miner, "SITE0001")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := greenmint.SubmitJSON(ctx, e.Ledger, e.Buyer, greenmint.TxOpenAccount, greenmint.OpenAccountRequest{}, nil); err != nil {
		t.Fatal(err)
	}
	batches := make([]string, clients)
	for i := range batches {
		noon := greenminttest.Period{Start: time.Date(2023, 5, 1, 12, 0, 0, 0, time.UTC).AddDate(0, 0, i), Hours: 1}
		sa, err := e.Attest(site, greenmint.EAC, noon, greenminttest.OracleAID, greenminttest.OracleBID)
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.Mint(ctx, sa)
		if err != nil {
			t.Fatal(err)
		}
		batches[i] = res.BatchID
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	var committed atomic.Int64
	var once sync.Once
	for _, batch := range batches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				_, err := greenmint.SubmitJSON(ctx, e.Ledger, e.Miner, greenmint.TxTransfer, greenmint.TransferRequest{BatchID: batch, To: e.Buyer.MSPID, Quantity: 1}, nil)
				if err != nil {
					t.Errorf("background transfer: %v", err)
					return
				}
				committed.Add(1)
			}
		}()
	}
	return func() int64 {
		once.Do(func() { close(done); wg.Wait() })
		return committed.Load()
	}
}
