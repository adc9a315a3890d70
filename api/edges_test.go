package api_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/api"
	"golang.org/x/time/rate"
)

// TestRequestIDs: a client's X-Request-ID is kept only when it is 1 to 64
// of A-Z a-z 0-9 . _ -; anything else is replaced by a generated one in the
// header and the body.
func TestRequestIDs(t *testing.T) {
	s := newOracleServer(t)
	tests := []struct {
		name, id string
		kept     bool
	}{
		{"safe", "collector-7.batch_0042", true},
		{"64 characters", strings.Repeat("a", 64), true},
		{"65 characters", strings.Repeat("a", 65), false},
		{"markup", "<script>alert(1)</script>", false},
		{"spaces and quotes", `a" level=ERROR msg="forged`, false},
		{"non-ASCII", "ïd", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := s.do(t, http.MethodPost, "/v1/readings", "application/json", "", []byte("{}"), map[string]string{"X-Request-ID": tc.id})
			got := resp.Header.Get("X-Request-ID")
			p := problem(t, resp, body)
			if (got == tc.id) != tc.kept || p.RequestID != got {
				t.Fatalf("X-Request-ID %q answered %q (body %q), kept = %v, want %v", tc.id, got, p.RequestID, got == tc.id, tc.kept)
			}
			if !tc.kept && (strings.Contains(string(body), tc.id) || got == "") {
				t.Fatalf("the unsafe ID is echoed or none generated: %q %s", got, body)
			}
		})
	}
}

// TestMethodsAndHeaders: a wrong method is answered 405 with Allow as
// problem+json; every answer says nosniff; authenticated routes answer
// Cache-Control: no-store; an unknown path is a problem+json 404.
func TestMethodsAndHeaders(t *testing.T) {
	s := newOracleServer(t)
	token := s.issue(t, api.KindCollector, "c").Token
	tests := []struct {
		method, path string
		token        string
		status       int
		allow        string
		noStore      bool
	}{
		{http.MethodGet, "/v1/readings", token, 405, "POST", false},
		{http.MethodDelete, "/v1/readings", "", 405, "POST", false},
		{http.MethodPost, "/healthz", "", 405, "GET", false},
		{http.MethodGet, "/nowhere", "", 404, "", false},
		{http.MethodGet, "/healthz", "", 200, "", false},
		{http.MethodPost, "/v1/readings", token, 400, "", true},
		{http.MethodPost, "/v1/readings", "", 401, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			resp, body := s.do(t, tc.method, tc.path, "application/json", tc.token, nil, nil)
			if resp.StatusCode != tc.status {
				t.Fatalf("%s %s = %d %s, want %d", tc.method, tc.path, resp.StatusCode, body, tc.status)
			}
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q", resp.Header.Get("X-Content-Type-Options"))
			}
			if got := resp.Header.Get("Allow"); got != tc.allow {
				t.Errorf("Allow = %q, want %q", got, tc.allow)
			}
			if got := resp.Header.Get("Cache-Control") == "no-store"; got != tc.noStore {
				t.Errorf("Cache-Control = %q, want no-store: %v", resp.Header.Get("Cache-Control"), tc.noStore)
			}
			if tc.status >= 400 {
				if p := problem(t, resp, body); p.Status != tc.status || p.RequestID == "" {
					t.Fatalf("problem = %+v", p)
				}
			}
		})
	}
}

// TestRateLimits: a credential over its burst is answered 429 with
// Retry-After and problem+json while another credential goes on; requests
// without a valid token are limited by client address.
func TestRateLimits(t *testing.T) {
	s := newOracleServer(t, func(c *api.OracleConfig) {
		c.Limits = api.Limits{CredentialRate: rate.Every(3 * time.Second), CredentialBurst: 2, AnonymousRate: rate.Every(3 * time.Second), AnonymousBurst: 3}
	})
	a := s.issue(t, api.KindCollector, "collector-a").Token
	b := s.issue(t, api.KindCollector, "collector-b").Token
	body := []byte(`{"readings":[{"meter_id":5}]}`)
	for i := 0; i < 2; i++ {
		if code, out := s.post(t, "application/json", a, body); code != 200 {
			t.Fatalf("request %d of collector a = %d %s", i+1, code, out)
		}
	}
	resp, out := s.do(t, http.MethodPost, "/v1/readings", "application/json", a, body, nil)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third request of collector a = %d %s, want 429", resp.StatusCode, out)
	}
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || secs < 1 || secs > 3 {
		t.Fatalf("Retry-After = %q, want 1 to 3 s", resp.Header.Get("Retry-After"))
	}
	if p := problem(t, resp, out); p.Status != 429 || p.Code != greenmint.EUNAVAILABLE {
		t.Fatalf("429 problem = %+v", p)
	}
	if code, out := s.post(t, "application/json", b, body); code != 200 {
		t.Fatalf("collector b while a is limited = %d %s", code, out)
	}
	// Without a valid token: three refusals, then 429 by address.
	for i := 0; i < 3; i++ {
		if code, out := s.post(t, "application/json", "forged", body); code != 401 {
			t.Fatalf("bad token %d = %d %s, want 401", i+1, code, out)
		}
	}
	resp, out = s.do(t, http.MethodPost, "/v1/readings", "application/json", "forged", body, nil)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("fourth bad token = %d %s, want 429 with Retry-After", resp.StatusCode, out)
	}
	if code, out := s.post(t, "application/json", b, body); code != 200 {
		t.Fatalf("a valid token from the same address = %d %s", code, out)
	}
}

// failingTokens is the real token store whose revocation check fails the
// way a database driver does, with hosts and users in its text.
type failingTokens struct{ api.TokenStore }

const driverText = "failed to connect to host=10.1.2.3 user=greenmint database=oracle: FATAL: password authentication failed"

func (f failingTokens) TokenRevoked(ctx context.Context, id string) (bool, error) {
	return false, &greenmint.Error{Code: greenmint.EINTERNAL, Op: "store.TokenRevoked", Err: errors.New(driverText)}
}

// TestServerErrorsKeepTheirCauseInTheLog: a 5xx never sends the text of
// what failed below the service (here a driver's, wrapped as unavailable
// on the way up): it goes to the log with the request ID. Before, a 503
// sent the driver's text, host and user included (found in review).
func TestServerErrorsKeepTheirCauseInTheLog(t *testing.T) {
	var logged strings.Builder
	s := newOracleServer(t, func(c *api.OracleConfig) {
		c.Tokens.Store = failingTokens{c.Tokens.Store}
		c.Tokens.RevocationTTL = -1
		c.Log = slog.New(slog.NewTextHandler(&logged, nil))
	})
	tok := s.issue(t, api.KindCollector, "collector-1")
	resp, body := s.do(t, http.MethodPost, "/v1/readings", "application/json", tok.Token, []byte(`{"readings":[]}`), nil)
	p := problem(t, resp, body)
	if resp.StatusCode < 500 || strings.Contains(string(body), "10.1.2.3") || strings.Contains(string(body), "password") {
		t.Fatalf("answer %d %s: want a 5xx without the driver's text", resp.StatusCode, body)
	}
	if !strings.Contains(logged.String(), "10.1.2.3") || !strings.Contains(logged.String(), p.RequestID) {
		t.Fatalf("the log %q lacks the cause or the request ID %s", logged.String(), p.RequestID)
	}
}
