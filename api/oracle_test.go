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
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/internal/store"
	"github.com/greenmint/greenmint/oracle"
)

// oracleServer is a real oracle service on loopback: the embedded ledger
// holding the registered meters, SQLite storage (readings and tokens), the
// HTTP handler.
type oracleServer struct {
	url    string
	tokens api.TokenConfig
	site   *greenminttest.Site
	db     *store.DB
	net    *greenminttest.Network
}

// newOracleServer starts the service on loopback; edit changes its
// configuration before it starts.
func newOracleServer(tb testing.TB, edit ...func(*api.OracleConfig)) *oracleServer {
	tb.Helper()
	s, h := newOracleHandler(tb, edit...)
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

// newOracleHandler builds the service without serving it.
func newOracleHandler(tb testing.TB, edit ...func(*api.OracleConfig)) (*oracleServer, http.Handler) {
	tb.Helper()
	n := greenminttest.NewNetwork(tb)
	e, l, site, db := n.Env, n.Ledger, n.Site, n.DB
	meters := &oracle.LedgerMeters{Ledger: l, ID: e.OracleA, TTL: time.Minute}
	tokens := api.TokenConfig{Secret: []byte("test-secret-test-secret-test-secret"), Issuer: "greenmint-oracle-a", Audience: "greenmint-oracle", Store: db}
	in := oracle.NewIngester(db, meters, func() time.Time { return time.Date(2023, 7, 1, 0, 0, 0, 0, time.UTC) })
	cfg := api.OracleConfig{Tokens: tokens, MaxBody: 1 << 20}
	for _, f := range edit {
		f(&cfg)
	}
	return &oracleServer{tokens: cfg.Tokens, site: site, db: db, net: n}, api.NewOracleHandler(cfg, in)
}

// issue issues a token of kind for subject, valid for an hour.
func (s *oracleServer) issue(tb testing.TB, kind, subject string) api.Issued {
	tb.Helper()
	is, err := s.tokens.Issue(context.Background(), kind, subject, time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	return is
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
	resp, out := s.do(tb, http.MethodPost, "/v1/readings", contentType, token, body, nil)
	return resp.StatusCode, out
}

// do sends a request with a bearer token (when not empty) and more
// headers, and returns the answer and its body.
func (s *oracleServer) do(tb testing.TB, method, path, contentType, token string, body []byte, headers map[string]string) (*http.Response, []byte) {
	tb.Helper()
	req, _ := http.NewRequest(method, s.url+path, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, out
}

// problem decodes a problem+json answer.
func problem(tb testing.TB, resp *http.Response, body []byte) api.Problem {
	tb.Helper()
	var p api.Problem
	if err := json.Unmarshal(body, &p); err != nil {
		tb.Fatalf("answer %d is not problem+json: %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		tb.Fatalf("answer %d has content type %q, want application/problem+json", resp.StatusCode, ct)
	}
	return p
}

func TestReadingsEndpoint(t *testing.T) {
	s := newOracleServer(t)
	token := s.issue(t, api.KindCollector, "collector-1").Token
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
	tests := []struct {
		name        string
		contentType string
		token       string
		body        []byte
		status      int
		code        string
	}{
		{"no token", "application/json", "", batch, 401, greenmint.EUNAUTHENTICATED},
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
	token := s.issue(t, api.KindCollector, "collector-1").Token
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
