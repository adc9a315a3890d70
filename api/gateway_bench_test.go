package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/api"
	"github.com/greenmint/greenmint/auth"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/keyring"
	"github.com/greenmint/greenmint/readmodel"
	"golang.org/x/time/rate"
)

// load has clients goroutines send req until d has passed and returns the
// requests answered per second and the latencies, sorted. Any answer other
// than 200 fails the benchmark.
func load(b *testing.B, clients int, d time.Duration, req func() (*http.Request, error)) (float64, []time.Duration) {
	b.Helper()
	tr := &http.Transport{MaxIdleConns: clients, MaxIdleConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	var mu sync.Mutex
	var lat []time.Duration
	var bad atomic.Int64
	stop := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for time.Now().Before(stop) {
				r, err := req()
				if err != nil {
					bad.Add(1)
					return
				}
				t0 := time.Now()
				res, err := c.Do(r)
				if err != nil {
					bad.Add(1)
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					bad.Add(1)
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if bad.Load() > 0 {
		b.Fatalf("%d requests failed", bad.Load())
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return float64(len(lat)) / elapsed.Seconds(), lat
}

func p99(lat []time.Duration) float64 {
	if len(lat) == 0 {
		return 0
	}
	return float64(lat[len(lat)*99/100]) / float64(time.Millisecond)
}

// BenchmarkGatewayVerify measures public verification of a batch from the
// read model (GET /v1/public/batches/{id}, no credential) with 64
// concurrent clients for 3 s, and, in the same run, a bare gin handler
// answering a fixed JSON body of the same size: their ratio, and the p99
// latency of verification.
func BenchmarkGatewayVerify(b *testing.B) {
	const clients, d = 64, 3 * time.Second
	db := greenminttest.StoreDBs(b)["sqlite"]
	e := newGatewayEnv(b, db, envOptions{})
	ctx := context.Background()
	sa, err := e.net.Attest(e.net.Site, greenmint.CO2E, greenminttest.DemoWeek, greenminttest.OracleAID, greenminttest.OracleBID)
	if err != nil {
		b.Fatal(err)
	}
	res, err := e.net.Mint(ctx, sa)
	if err != nil {
		b.Fatal(err)
	}
	var batch greenmint.Batch
	if err := greenmint.EvaluateJSON(ctx, e.net.Ledger, e.net.Auditor, greenmint.QueryGetBatch, greenmint.IDQuery{ID: res.BatchID}, &batch); err != nil {
		b.Fatal(err)
	}
	e.waitVisible(batch.MintTxID)
	url := e.srv.URL + "/v1/public/batches/" + res.BatchID
	body := e.call("GET", "/v1/public/batches/"+res.BatchID, "", nil, 200, nil).Body

	bare := gin.New()
	bare.GET("/v1/public/batches/:id", func(c *gin.Context) { c.Data(http.StatusOK, "application/json", body) })
	bareSrv := httptest.NewServer(bare)
	defer bareSrv.Close()
	bareURL := bareSrv.URL + "/v1/public/batches/" + res.BatchID

	b.ResetTimer()
	load(b, clients, 300*time.Millisecond, func() (*http.Request, error) { return http.NewRequest("GET", url, nil) }) // warm up
	apiRPS, lat := load(b, clients, d, func() (*http.Request, error) { return http.NewRequest("GET", url, nil) })
	bareRPS, _ := load(b, clients, d, func() (*http.Request, error) { return http.NewRequest("GET", bareURL, nil) })
	b.StopTimer()
	report(b, "api_verify_rps", apiRPS, "req/s")
	report(b, "bare_gin_rps", bareRPS, "req/s")
	report(b, "api_verify_vs_bare_gin_ratio", apiRPS/bareRPS, "ratio")
	report(b, "api_verify_p99_ms", p99(lat), "ms")
	report(b, "api_verify_body_bytes", float64(len(body)), "bytes")
}

// BenchmarkGatewayTransfer measures authenticated transfers over HTTP on
// the embedded ledger, each signed as its own user's ledger identity (64
// users of 64 organisations, 100 transfers each, the read model's
// projector running as in greenmint serve), and in the same run the same
// transfers submitted to the ledger directly (each run starting with the
// read model caught up); then, transfer by transfer,
// the time from a write's answer to its visibility in the read model.
func BenchmarkGatewayTransfer(b *testing.B) {
	const clients, perClient = 64, 100
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := greenminttest.NewTransferNet(b, clients)
	db := greenminttest.NewOracleDB(b, filepath.Join(b.TempDir(), "gateway.db"))
	kek := make([]byte, 32)
	_, _ = rand.Read(kek)
	a, err := auth.New(ctx, db, auth.Config{Issuer: "https://greenmint.test", Audience: "greenmint-api", KEK: kek, PasswordParams: cheapPasswords, AccessTTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	kr, err := keyring.New(db, n.Consortium.Store, keyring.Options{KEKs: []keyring.KEK{{ID: "k1", Key: kek}}})
	if err != nil {
		b.Fatal(err)
	}
	p, err := readmodel.New(ctx, n.Ledger, db)
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = p.Run(ctx) }()
	g, err := api.NewGateway(ctx, api.GatewayConfig{Ledger: n.Ledger, DB: db, Auth: a, Keyring: kr, Projector: p, RegistryMSP: consortium.RegistryMSP,
		Limits: api.Limits{AnonymousRate: rate.Inf, CredentialRate: rate.Inf}})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(g.Handler())
	defer srv.Close()
	tokens := make([]string, clients)
	for i, s := range n.Senders {
		u, err := a.CreateUser(ctx, auth.NewUser{Login: fmt.Sprintf("trader%03d", i), Org: s.MSPID, Role: greenmint.RoleBuyer, Password: testPassword})
		if err != nil {
			b.Fatal(err)
		}
		if tokens[i], _, err = a.IssueAccess(u); err != nil {
			b.Fatal(err)
		}
	}
	tr := &http.Transport{MaxIdleConns: clients, MaxIdleConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	transfer := func(i int) (api.Written[greenmint.Holding], error) {
		var out api.Written[greenmint.Holding]
		raw, _ := json.Marshal(map[string]any{"batch_id": n.BatchID, "to": n.Receivers[i].MSPID, "quantity": 1})
		req, _ := http.NewRequest("POST", srv.URL+"/v1/transfers", bytes.NewReader(raw))
		req.Header.Set("Authorization", "Bearer "+tokens[i])
		req.Header.Set("Content-Type", "application/json")
		res, err := hc.Do(req)
		if err != nil {
			return out, err
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK {
			return out, fmt.Errorf("%d %s", res.StatusCode, body)
		}
		return out, json.Unmarshal(body, &out)
	}
	overHTTP := func(per int) (time.Duration, int64) {
		var wg sync.WaitGroup
		var failed atomic.Int64
		start := time.Now()
		for i := 0; i < clients; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := 0; j < per; j++ {
					if _, err := transfer(i); err != nil {
						failed.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		return time.Since(start), failed.Load()
	}
	if _, failed := overHTTP(5); failed > 0 { // warm up: every user enrolled
		b.Fatalf("%d warm-up transfers failed", failed)
	}
	// caughtUp waits until the read model has applied everything so far,
	// so that each run starts with the projector idle and pays for its own
	// events only (the projector runs during both, as in greenmint serve).
	caughtUp := func() {
		w, err := transfer(0)
		if err != nil {
			b.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		if err := p.WaitTx(wctx, w.TxID); err != nil {
			b.Fatal(err)
		}
	}
	caughtUp()
	b.ResetTimer()
	httpTime, failed := overHTTP(perClient)
	if failed > 0 {
		b.Fatalf("%d transfers over HTTP failed", failed)
	}
	b.StopTimer()
	caughtUp()
	b.StartTimer()
	ledgerTime, failed := n.Run(perClient)
	if failed > 0 {
		b.Fatalf("%d transfers on the ledger failed", failed)
	}
	b.StopTimer()
	apiTPS := float64(clients*perClient) / httpTime.Seconds()
	ledgerTPS := float64(clients*perClient) / ledgerTime.Seconds()
	report(b, "api_transfer_tps", apiTPS, "tx/s")
	report(b, "embedded_transfer_tps_same_run", ledgerTPS, "tx/s")
	report(b, "api_transfer_vs_ledger_ratio", apiTPS/ledgerTPS, "ratio")

	// The read model catches up with the bursts above, then each of 200
	// transfers is timed from its answer to its visibility.
	caughtUp()
	var lat []time.Duration
	for j := 0; j < 200; j++ {
		w, err := transfer(j % clients)
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
		err = p.WaitTx(wctx, w.TxID)
		wcancel()
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	report(b, "api_commit_to_visible_p99_ms", p99(lat), "ms")
}
