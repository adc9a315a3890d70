package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/api"
	"github.com/greenmint/greenmint/demo"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/internal/store"
	"github.com/greenmint/greenmint/oracle"
)

// oracleServer is a real oracle service on loopback: the embedded ledger
// holding the registered meters, SQLite storage, the HTTP handler.
type oracleServer struct {
	url    string
	tokens api.TokenConfig
	site   *demo.Site
	db     *store.DB
}

func newOracleServer(tb testing.TB) *oracleServer {
	tb.Helper()
	n := greenminttest.NewNetwork(tb)
	e, l, site, db := n.Env, n.Ledger, n.Site, n.DB
	meters := &oracle.LedgerMeters{Ledger: l, ID: e.OracleA, TTL: time.Minute}
	tokens := api.TokenConfig{Secret: []byte("test-secret-test-secret-test-secret"), Issuer: "greenmint-oracle-a", Audience: "greenmint-oracle"}
	in := oracle.NewIngester(db, meters, func() time.Time { return time.Date(2023, 7, 1, 0, 0, 0, 0, time.UTC) })
	srv := httptest.NewServer(api.NewOracleHandler(api.OracleConfig{Tokens: tokens, MaxBody: 1 << 20}, in))
	tb.Cleanup(srv.Close)
	return &oracleServer{url: srv.URL, tokens: tokens, site: site, db: db}
}

// pvReadings returns n signed hourly readings of the site's PV meter from
// 1 June 2023.
func (s *oracleServer) pvReadings(tb testing.TB, n int) []greenmint.Reading {
	tb.Helper()
	var out []greenmint.Reading
	var reg int64
	start := time.Date(2023, 6, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		t0 := start.Add(time.Duration(i) * time.Hour)
		reg += int64(1000 * i)
		r := greenmint.Reading{MeterID: s.site.Generation, Seq: int64(i + 1), Start: greenmint.FormatTime(t0), End: greenmint.FormatTime(t0.Add(time.Hour)), EnergyWh: int64(1000 * i), RegisterWh: reg}
		if err := greenmint.SignReading(&r, s.site.GenerationKey); err != nil {
			tb.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func (s *oracleServer) post(tb testing.TB, contentType, token string, body []byte) (int, []byte) {
	tb.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.url+"/v1/readings", bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func TestReadingsEndpoint(t *testing.T) {
	s := newOracleServer(t)
	token, err := s.tokens.IssueToken("collector-1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	rs := s.pvReadings(t, 6)
	batch, _ := json.Marshal(map[string]any{"readings": rs[:4]})
	code, body := s.post(t, "application/json", token, batch)
	var sum oracle.Summary
	if err := json.Unmarshal(body, &sum); err != nil || code != http.StatusOK || sum.Accepted != 4 {
		t.Fatalf("JSON batch = %d %s", code, body)
	}
	var csv strings.Builder
	csv.WriteString(oracle.CSVHeader + "\n")
	for _, r := range rs[2:] { // two duplicates, two new
		csv.WriteString(oracle.FormatCSVRow(r) + "\n")
	}
	code, body = s.post(t, "text/csv", token, []byte(csv.String()))
	sum = oracle.Summary{}
	if err := json.Unmarshal(body, &sum); err != nil || code != http.StatusOK || sum.Accepted != 2 || sum.Duplicate != 2 {
		t.Fatalf("CSV batch = %d %s", code, body)
	}
	if n, _ := s.db.CountReadings(context.Background()); n != 6 {
		t.Fatalf("%d readings stored, want 6", n)
	}

	otherAudience := s.tokens
	otherAudience.Audience = "somebody-else"
	foreign, _ := otherAudience.IssueToken("collector-1", time.Hour)
	expiredCfg := s.tokens
	expiredCfg.Now = func() time.Time { return time.Now().Add(-2 * time.Hour) }
	expired, _ := expiredCfg.IssueToken("collector-1", time.Hour)
	wrongKey := s.tokens
	wrongKey.Secret = []byte("another-secret-another-secret-xx")
	forged, _ := wrongKey.IssueToken("collector-1", time.Hour)
	tests := []struct {
		name        string
		contentType string
		token       string
		body        []byte
		status      int
		code        string
	}{
		{"no token", "application/json", "", batch, 401, greenmint.EUNAUTHENTICATED},
		{"token for another audience", "application/json", foreign, batch, 401, greenmint.EUNAUTHENTICATED},
		{"expired token", "application/json", expired, batch, 401, greenmint.EUNAUTHENTICATED},
		{"token signed with another key", "application/json", forged, batch, 401, greenmint.EUNAUTHENTICATED},
		{"malformed JSON", "application/json", token, []byte(`{"readings":[`), 400, greenmint.EINVALID},
		{"empty body", "application/json", token, nil, 400, greenmint.EINVALID},
		{"CSV without header", "text/csv", token, []byte("a,b\n"), 400, greenmint.EINVALID},
		{"unsupported type", "application/xml", token, []byte("<r/>"), 400, greenmint.EINVALID},
		{"too large", "application/json", token, bytes.Repeat([]byte(" "), 2<<20), 400, greenmint.EINVALID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := s.post(t, tc.contentType, tc.token, tc.body)
			var p api.Problem
			if err := json.Unmarshal(body, &p); err != nil || code != tc.status || p.Code != tc.code || p.Detail == "" || p.RequestID == "" {
				t.Fatalf("POST = %d %s, want %d with code %s", code, body, tc.status, tc.code)
			}
		})
	}
	if n, _ := s.db.CountReadings(context.Background()); n != 6 {
		t.Fatalf("refused requests changed the store: %d readings", n)
	}
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), `greenmint_oracle_readings_total{outcome="accepted"} 6`) {
		t.Fatalf("metrics lack the accepted count:\n%s", metrics)
	}
	resp, err = http.Get(s.url + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz = %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestRejectedReadingsKeepTheRest(t *testing.T) {
	s := newOracleServer(t)
	token, _ := s.tokens.IssueToken("collector-1", time.Hour)
	rs := s.pvReadings(t, 3)
	forged := rs[1]
	forged.EnergyWh++
	unknown := rs[2]
	unknown.MeterID = "NOPE"
	body, _ := json.Marshal(map[string]any{"readings": []any{rs[0], forged, unknown, map[string]any{"meter_id": 5}}})
	code, out := s.post(t, "application/json", token, body)
	var sum oracle.Summary
	if err := json.Unmarshal(out, &sum); err != nil || code != 200 {
		t.Fatalf("POST = %d %s", code, out)
	}
	want := []string{"", oracle.ReasonBadSignature, oracle.ReasonUnknownMeter, oracle.ReasonMalformed}
	for i, w := range want {
		if sum.Results[i].Reason != w {
			t.Fatalf("result %d = %+v, want %q", i, sum.Results[i], w)
		}
	}
	if sum.Accepted != 1 {
		t.Fatalf("summary = %+v", sum)
	}
}
