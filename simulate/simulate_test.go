package simulate_test

import (
	"context"
	"crypto/ed25519"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/api"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/oracle"
	"github.com/greenmint/greenmint/simulate"
)

// simulatedSite registers three simulated meters at the test network's
// site and serves the real oracle handler with lim; it returns the meters,
// a collector token, the server and the network.
func simulatedSite(t *testing.T, lim api.Limits, wrap func(http.Handler) http.Handler) (map[string]*simulate.Meter, string, *httptest.Server, *greenminttest.Network) {
	t.Helper()
	ctx := context.Background()
	n := greenminttest.NewNetwork(t)
	e, l, site, db := n.Env, n.Ledger, n.Site, n.DB
	meters := map[string]*simulate.Meter{}
	for _, m := range []struct {
		id, tech string
		kind     greenmint.MeterKind
		capW     int64
	}{{"SIM-PV", "solar_pv_utility", greenmint.MeterGeneration, 5_000_000}, {"SIM-WIND", "wind_onshore", greenmint.MeterGeneration, 3_000_000}, {"SIM-LOAD", "", greenmint.MeterConsumption, 4_000_000}} {
		_, key, _ := ed25519.GenerateKey(nil)
		meters[m.id] = &simulate.Meter{ID: m.id, Key: key, CapacityW: m.capW}
		if _, err := greenmint.SubmitJSON(ctx, l, e.Miner, greenmint.TxRegisterMeter, greenmint.RegisterMeterRequest{MeterID: m.id, SiteID: site.ID, Kind: m.kind, Technology: m.tech, CapacityW: m.capW, IntervalMinutes: 15, PublicKey: key.Public().(ed25519.PublicKey)}, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := greenmint.SubmitJSON(ctx, l, e.Registry, greenmint.TxApproveMeter, greenmint.StatusRequest{ID: m.id}, nil); err != nil {
			t.Fatal(err)
		}
	}
	tokens := api.TokenConfig{Secret: []byte("sim-secret-sim-secret-sim-secret!"), Issuer: "o", Audience: "o", Store: db}
	issued, err := tokens.Issue(ctx, api.KindCollector, "simulator", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	in := oracle.NewIngester(db, &oracle.LedgerMeters{Ledger: l, ID: e.OracleA, TTL: time.Minute}, func() time.Time { return time.Date(2023, 7, 1, 0, 0, 0, 0, time.UTC) })
	h := api.NewOracleHandler(api.OracleConfig{Tokens: tokens, Limits: lim}, in)
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return meters, issued.Token, srv, n
}

func TestSimulatorFaults(t *testing.T) {
	ctx := context.Background()
	meters, token, srv, n := simulatedSite(t, api.Limits{}, nil)
	db := n.DB

	start := time.Date(2023, 6, 1, 8, 0, 0, 0, time.UTC)
	cfg := simulate.Config{
		OracleURL: srv.URL, Token: token, Start: start, Hours: 8, Interval: 15 * time.Minute,
		PV: meters["SIM-PV"], Wind: meters["SIM-WIND"], Load: meters["SIM-LOAD"], LoadW: 3_000_000,
		Surplus: map[time.Time]bool{start.Add(6 * time.Hour): true}, CurtailPct: 40,
		Faults: []string{simulate.FaultGap, simulate.FaultDuplicate, simulate.FaultReplay, simulate.FaultForged, simulate.FaultClockJump},
	}
	rep, err := simulate.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// 8 hours × 4 intervals × 3 meters = 96 readings, less the gap, plus the
	// duplicate, the replay and the clock-jumped one.
	if rep.Sent != 96-1+3 {
		t.Fatalf("sent %d", rep.Sent)
	}
	want := map[string]int{oracle.ReasonBadSignature: 1, oracle.ReasonSequence: 1, oracle.ReasonFuture: 1}
	for r, n := range want {
		if rep.Reasons[r] != n {
			t.Fatalf("reasons = %v, want %v", rep.Reasons, want)
		}
	}
	if rep.Duplicate != 1 || rep.Rejected != 3 || rep.Accepted != 96-1-1 {
		t.Fatalf("report = %+v", rep)
	}
	// The curtailed hour: 40% of the load.
	rs, err := db.Readings(ctx, []string{"SIM-LOAD"}, start.Add(6*time.Hour), start.Add(7*time.Hour))
	if err != nil || len(rs) != 4 || rs[0].EnergyWh != 3_000_000*40/100/4 {
		t.Fatalf("curtailed hour readings = %+v, %v", rs, err)
	}
}

// The simulator waits out the oracle's rate limit (429 with Retry-After)
// and sends the same batch again: every reading arrives. Before, the first
// 429 ended the run.
func TestSimulatorWaitsOutRateLimits(t *testing.T) {
	var limited atomic.Int64
	count := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := &statusRecorder{ResponseWriter: w}
			h.ServeHTTP(rec, r)
			if rec.status == http.StatusTooManyRequests {
				limited.Add(1)
			}
		})
	}
	meters, token, srv, _ := simulatedSite(t, api.Limits{CredentialRate: 2, CredentialBurst: 1}, count)
	rep, err := simulate.Run(context.Background(), simulate.Config{
		OracleURL: srv.URL, Token: token, Start: time.Date(2023, 6, 1, 8, 0, 0, 0, time.UTC), Hours: 4, Interval: 15 * time.Minute,
		PV: meters["SIM-PV"], Wind: meters["SIM-WIND"], Load: meters["SIM-LOAD"], LoadW: 3_000_000,
	})
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	if rep.Sent != 4*4*3 || rep.Accepted != 4*4*3 {
		t.Fatalf("report = %+v, want all %d readings accepted", rep, 4*4*3)
	}
	if limited.Load() == 0 {
		t.Fatal("the oracle never answered 429: the test did not exercise the rate limit")
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}
