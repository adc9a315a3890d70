package api_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/api"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/oracle"
	"golang.org/x/time/rate"
)

func report(b *testing.B, name string, v float64, unit string) {
	b.ReportMetric(v, "BENCH:"+name+":"+unit)
}

// BenchmarkOracleIngest measures readings ingested per second through the
// HTTP batch endpoint: a day of 15-minute readings of 1,000 meters
// registered on the embedded ledger (96,000 readings) sent by 4 concurrent
// collectors in JSON requests of 1,000 readings (250 meters × 4 intervals),
// every signature verified, every batch stored durably in SQLite (WAL,
// synchronous=FULL) before it is answered, the oracle starting with no
// meter known (it reads them from the ledger as batches name them); and, in
// the same run, Ed25519 verifications per second on all cores, and the
// ratio of the two.
func BenchmarkOracleIngest(b *testing.B) {
	const meters, intervals, collectors = 1000, 96, 4
	ctx := context.Background()
	n := greenminttest.NewNetwork(b)
	e, l, site, db := n.Env, n.Ledger, n.Site, n.DB
	keys := make([]ed25519.PrivateKey, meters)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < meters; i += 16 {
				_, k, _ := ed25519.GenerateKey(nil)
				keys[i] = k
				id := fmt.Sprintf("M%04d", i)
				if _, err := greenmint.SubmitJSON(ctx, l, e.Miner, greenmint.TxRegisterMeter, greenmint.RegisterMeterRequest{MeterID: id, SiteID: site.ID, Kind: greenmint.MeterConsumption, CapacityW: 1_000_000, IntervalMinutes: 15, PublicKey: k.Public().(ed25519.PublicKey)}, nil); err != nil {
					failed.Add(1)
				}
				if _, err := greenmint.SubmitJSON(ctx, l, e.Registry, greenmint.TxApproveMeter, greenmint.StatusRequest{ID: id}, nil); err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if failed.Load() > 0 {
		b.Fatalf("%d meter registrations failed", failed.Load())
	}
	tokens := api.TokenConfig{Secret: []byte("bench-secret-bench-secret-bench!!"), Issuer: "oracle", Audience: "oracle", Store: db}
	issued, err := tokens.Issue(ctx, api.KindCollector, "bench", time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	token := issued.Token
	ms := &oracle.LedgerMeters{Ledger: l, ID: e.OracleA, TTL: time.Hour}
	in := oracle.NewIngester(db, ms, func() time.Time { return time.Date(2023, 7, 1, 0, 0, 0, 0, time.UTC) })
	srv := httptest.NewServer(api.NewOracleHandler(api.OracleConfig{Tokens: tokens, Limits: api.Limits{CredentialRate: rate.Inf}}, in))
	defer srv.Close()

	// Pre-sign every reading: collector g sends meters g, g+4, … interval by
	// interval, 4 intervals × 250 meters per request.
	start := time.Date(2023, 6, 1, 0, 0, 0, 0, time.UTC)
	bodies := make([][][]byte, collectors)
	for g := 0; g < collectors; g++ {
		var batch []greenmint.Reading
		for iv := 0; iv < intervals; iv++ {
			t0 := start.Add(time.Duration(iv) * 15 * time.Minute)
			for m := g; m < meters; m += collectors {
				r := greenmint.Reading{MeterID: fmt.Sprintf("M%04d", m), Seq: int64(iv + 1), Start: greenmint.FormatTime(t0), End: greenmint.FormatTime(t0.Add(15 * time.Minute)),
					EnergyWh: 200_000, RegisterWh: int64(iv+1) * 200_000}
				if err := greenmint.SignReading(&r, keys[m]); err != nil {
					b.Fatal(err)
				}
				batch = append(batch, r)
			}
			if (iv+1)%4 == 0 {
				body, _ := json.Marshal(map[string]any{"readings": batch})
				bodies[g] = append(bodies[g], body)
				batch = nil
			}
		}
	}
	b.ResetTimer()
	t0 := time.Now()
	var accepted atomic.Int64
	errs := make(chan error, collectors)
	for g := 0; g < collectors; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, body := range bodies[g] {
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/readings", bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					errs <- err
					return
				}
				var s oracle.Summary
				err = json.NewDecoder(resp.Body).Decode(&s)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 {
					errs <- fmt.Errorf("status %d: %v", resp.StatusCode, err)
					return
				}
				accepted.Add(int64(s.Accepted))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(t0)
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	if accepted.Load() != meters*intervals {
		b.Fatalf("%d readings accepted, want %d", accepted.Load(), meters*intervals)
	}
	if stored, err := db.CountReadings(ctx); err != nil || stored != meters*intervals {
		b.Fatalf("%d readings stored (%v), want %d", stored, err, meters*intervals)
	}
	ingest := float64(accepted.Load()) / elapsed.Seconds()
	verify := verifyRate(b)
	report(b, "oracle_ingest_readings_per_s", ingest, "readings/s")
	report(b, "ed25519_verify_per_s", verify, "verifications/s")
	report(b, "oracle_ingest_vs_verify_ratio", ingest/verify, "x")
}

// verifyRate measures Ed25519 verifications of a reading's signing bytes
// per second on all cores for two seconds.
func verifyRate(b *testing.B) float64 {
	_, k, _ := ed25519.GenerateKey(nil)
	r := greenmint.Reading{MeterID: "M0001", Seq: 1, Start: "2023-06-01T00:00:00Z", End: "2023-06-01T00:15:00Z", EnergyWh: 200_000, RegisterWh: 200_000}
	msg, err := greenmint.ReadingSigningBytes(r)
	if err != nil {
		b.Fatal(err)
	}
	sig := ed25519.Sign(k, msg)
	pub := k.Public().(ed25519.PublicKey)
	var n atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(2 * time.Second)
	t0 := time.Now()
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				for i := 0; i < 100; i++ {
					if !ed25519.Verify(pub, msg, sig) {
						b.Error("verify failed")
						return
					}
				}
				n.Add(100)
			}
		}()
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(t0).Seconds()
}
