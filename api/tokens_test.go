package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/api"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/oracle"
)

// TestTokens sends the readings endpoint every kind of bad token: missing,
// malformed, forged, for another issuer or audience, expired, not yet
// valid, issued in the future, living longer than the maximum, without an
// ID or issue time, never issued, revoked, of an unknown kind or of the
// wrong kind. Each is refused with its code and nothing is stored; a token
// issued a few seconds ahead of the clock (within the leeway) is accepted.
func TestTokens(t *testing.T) {
	s := newOracleServer(t)
	ctx := context.Background()
	good := s.issue(t, api.KindCollector, "collector-1")
	revoked := s.issue(t, api.KindCollector, "collector-2")
	if err := s.db.RevokeToken(ctx, revoked.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	peer := s.issue(t, api.KindPeerOracle, "oracle-b")
	// sign makes a token of good's record with the service's secret,
	// changed by edit.
	sign := func(edit func(*api.Claims)) string {
		now := time.Now()
		c := api.Claims{Kind: api.KindCollector, RegisteredClaims: jwt.RegisteredClaims{
			ID: good.ID, Issuer: s.tokens.Issuer, Audience: jwt.ClaimStrings{s.tokens.Audience}, Subject: good.Subject,
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
		}}
		edit(&c)
		raw, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(s.tokens.Secret)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	now := time.Now()
	at := func(d time.Duration) *jwt.NumericDate { return jwt.NewNumericDate(now.Add(d)) }
	otherKey, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{ID: good.ID, Issuer: s.tokens.Issuer, Audience: jwt.ClaimStrings{s.tokens.Audience},
		IssuedAt: at(0), ExpiresAt: at(time.Hour)}).SignedString([]byte("another-secret-another-secret-xx"))
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, api.Claims{Kind: api.KindCollector, RegisteredClaims: jwt.RegisteredClaims{ID: good.ID, Issuer: s.tokens.Issuer,
		Audience: jwt.ClaimStrings{s.tokens.Audience}, IssuedAt: at(0), ExpiresAt: at(time.Hour)}}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	body := []byte(`{"readings":[{"meter_id":5}]}`) // admitted: 200 with one malformed result, nothing stored
	tests := []struct {
		name   string
		header string // the Authorization header
		status int
		code   string
	}{
		{"valid", "Bearer " + good.Token, 200, ""},
		{"issued a few seconds ahead, within the leeway", "Bearer " + sign(func(c *api.Claims) { c.IssuedAt = at(10 * time.Second) }), 200, ""},
		{"missing", "", 401, greenmint.EUNAUTHENTICATED},
		{"not a bearer token", "Basic " + good.Token, 401, greenmint.EUNAUTHENTICATED},
		{"malformed", "Bearer not.a.jwt", 401, greenmint.EUNAUTHENTICATED},
		{"empty bearer", "Bearer ", 401, greenmint.EUNAUTHENTICATED},
		{"signed with another key", "Bearer " + otherKey, 401, greenmint.EUNAUTHENTICATED},
		{"unsigned (alg none)", "Bearer " + none, 401, greenmint.EUNAUTHENTICATED},
		{"another issuer", "Bearer " + sign(func(c *api.Claims) { c.Issuer = "someone-else" }), 401, greenmint.EUNAUTHENTICATED},
		{"another audience", "Bearer " + sign(func(c *api.Claims) { c.Audience = jwt.ClaimStrings{"somebody-else"} }), 401, greenmint.EUNAUTHENTICATED},
		{"expired", "Bearer " + sign(func(c *api.Claims) { c.IssuedAt, c.ExpiresAt = at(-2*time.Hour), at(-time.Hour) }), 401, greenmint.EUNAUTHENTICATED},
		{"without expiry", "Bearer " + sign(func(c *api.Claims) { c.ExpiresAt = nil }), 401, greenmint.EUNAUTHENTICATED},
		{"not yet valid", "Bearer " + sign(func(c *api.Claims) { c.NotBefore = at(10 * time.Minute) }), 401, greenmint.EUNAUTHENTICATED},
		{"issued in the future", "Bearer " + sign(func(c *api.Claims) { c.IssuedAt = at(10 * time.Minute) }), 401, greenmint.EUNAUTHENTICATED},
		{"without issue time", "Bearer " + sign(func(c *api.Claims) { c.IssuedAt = nil }), 401, greenmint.EUNAUTHENTICATED},
		{"lifetime beyond the maximum", "Bearer " + sign(func(c *api.Claims) { c.ExpiresAt = at(api.DefaultMaxTokenLifetime + time.Hour) }), 401, greenmint.EUNAUTHENTICATED},
		{"without ID", "Bearer " + sign(func(c *api.Claims) { c.ID = "" }), 401, greenmint.EUNAUTHENTICATED},
		{"never issued (ID not on record)", "Bearer " + sign(func(c *api.Claims) { c.ID = "0123456789abcdef0123456789abcdef" }), 401, greenmint.EUNAUTHENTICATED},
		{"unknown kind", "Bearer " + sign(func(c *api.Claims) { c.Kind = "admin" }), 401, greenmint.EUNAUTHENTICATED},
		{"revoked", "Bearer " + revoked.Token, 401, greenmint.EUNAUTHENTICATED},
		{"peer-oracle token on the readings route", "Bearer " + peer.Token, 403, greenmint.EFORBIDDEN},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{}
			if tc.header != "" {
				h["Authorization"] = tc.header
			}
			resp, out := s.do(t, http.MethodPost, "/v1/readings", "application/json", "", body, h)
			if resp.StatusCode != tc.status {
				t.Fatalf("POST /v1/readings = %d %s, want %d", resp.StatusCode, out, tc.status)
			}
			if resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", resp.Header.Get("Cache-Control"))
			}
			if tc.status == 200 {
				return
			}
			if p := problem(t, resp, out); p.Code != tc.code || p.Detail == "" {
				t.Fatalf("problem = %+v, want code %s", p, tc.code)
			}
			if tc.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("401 without WWW-Authenticate")
			}
		})
	}
	if n, _ := s.db.CountReadings(ctx); n != 0 {
		t.Fatalf("%d readings stored", n)
	}
}

// TestIssueRefuses: a token is issued only of a known kind, for a
// well-formed subject, for a lifetime within the maximum, and with a
// secret long enough.
func TestIssueRefuses(t *testing.T) {
	db := greenminttest.StoreDBs(t)["sqlite"]
	tc := api.TokenConfig{Secret: []byte("test-secret-test-secret-test-secret"), Issuer: "i", Audience: "a", Store: db, MaxLifetime: 24 * time.Hour}
	short := tc
	short.Secret = []byte("short")
	tests := []struct {
		name     string
		tc       api.TokenConfig
		kind     string
		subject  string
		lifetime time.Duration
	}{
		{"unknown kind", tc, "admin", "x", time.Hour},
		{"empty subject", tc, api.KindCollector, "", time.Hour},
		{"subject with a newline", tc, api.KindCollector, "a\nb", time.Hour},
		{"lifetime beyond the maximum", tc, api.KindCollector, "x", 25 * time.Hour},
		{"no lifetime", tc, api.KindCollector, "x", 0},
		{"secret too short", short, api.KindCollector, "x", time.Hour},
	}
	for _, c := range tests {
		t.Run(c.name, func(t *testing.T) {
			if is, err := c.tc.Issue(context.Background(), c.kind, c.subject, c.lifetime); err == nil {
				t.Fatalf("Issue = %+v, want an error", is)
			}
		})
	}
	if toks, _ := db.Tokens(context.Background()); len(toks) != 0 {
		t.Fatalf("refused issues stored %+v", toks)
	}
}

// TestRevocationTakesEffect: a revoked token is refused at the next request
// once its cached status is older than RevocationTTL, and at once when it
// was not cached.
func TestRevocationTakesEffect(t *testing.T) {
	s := newOracleServer(t, func(c *api.OracleConfig) { c.Tokens.RevocationTTL = 300 * time.Millisecond })
	ctx := context.Background()
	is := s.issue(t, api.KindCollector, "collector-1")
	body := []byte(`{"readings":[{"meter_id":5}]}`)
	if code, out := s.post(t, "application/json", is.Token, body); code != 200 {
		t.Fatalf("before revoking: %d %s", code, out)
	}
	if err := s.db.RevokeToken(ctx, is.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		code, out := s.post(t, "application/json", is.Token, body)
		if code == 401 {
			if !strings.Contains(string(out), "revoked") {
				t.Fatalf("refusal does not say revoked: %s", out)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a revoked token still admitted after 2 s (cache 300 ms): %d %s", code, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestTokensOnEveryStore issues, uses and revokes tokens with the token
// table on every database Greenmint ships (PostgreSQL when
// GREENMINT_TEST_POSTGRES_DSN is set).
func TestTokensOnEveryStore(t *testing.T) {
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			s := newOracleServer(t, func(c *api.OracleConfig) {
				c.Tokens.Store = db
				c.Tokens.RevocationTTL = -1
			})
			ctx := context.Background()
			is := s.issue(t, api.KindCollector, "collector-"+name)
			body := []byte(`{"readings":[{"meter_id":5}]}`)
			if code, out := s.post(t, "application/json", is.Token, body); code != 200 {
				t.Fatalf("issued token: %d %s", code, out)
			}
			toks, err := db.Tokens(ctx)
			if err != nil || len(toks) != 1 || toks[0].ID != is.ID || toks[0].Kind != api.KindCollector || toks[0].Subject != is.Subject {
				t.Fatalf("tokens on record = %+v, %v", toks, err)
			}
			if err := db.RevokeToken(ctx, is.ID, time.Now()); err != nil {
				t.Fatal(err)
			}
			if code, out := s.post(t, "application/json", is.Token, body); code != 401 {
				t.Fatalf("revoked token: %d %s", code, out)
			}
		})
	}
}

// TestCheckPeerToken: an oracle refuses to send a peer token that is not
// a peer-oracle token or has expired, with an error that says how to get a
// new one, before contacting the peer.
func TestCheckPeerToken(t *testing.T) {
	s := newOracleServer(t)
	peer := s.issue(t, api.KindPeerOracle, "oracle-a")
	collector := s.issue(t, api.KindCollector, "c")
	if _, err := api.CheckPeerToken(peer.Token, time.Now()); err != nil {
		t.Fatalf("a fresh peer token: %v", err)
	}
	tests := []struct {
		name  string
		token string
		now   time.Time
		code  string
	}{
		{"expired", peer.Token, peer.ExpiresAt, greenmint.EUNAUTHENTICATED},
		{"collector token", collector.Token, time.Now(), greenmint.EINVALID},
		{"none", "", time.Now(), greenmint.EINVALID},
		{"garbage", "abc", time.Now(), greenmint.EINVALID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := api.CheckPeerToken(tc.token, tc.now)
			if greenmint.ErrorCode(err) != tc.code || !strings.Contains(err.Error(), "oracle token issue --kind peer-oracle") {
				t.Fatalf("CheckPeerToken = %v, want %s saying how to get a new one", err, tc.code)
			}
		})
	}
	// The HTTP co-signer refuses an expired token without sending it.
	hc := &api.HTTPCosigner{URL: "http://127.0.0.1:1", Token: peer.Token, Now: func() time.Time { return peer.ExpiresAt.Add(time.Minute) }}
	_, err := hc.Cosign(context.Background(), oracle.AttestRequest{}, &greenmint.Attestation{})
	if greenmint.ErrorCode(err) != greenmint.EUNAUTHENTICATED || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("Cosign with an expired token = %v", err)
	}
	raw, _ := json.Marshal(peer)
	if !strings.Contains(string(raw), `"kind":"peer-oracle"`) {
		t.Fatalf("issued token JSON = %s", raw)
	}
}
