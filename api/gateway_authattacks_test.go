package api_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/api"
	"github.com/greenmint/greenmint/auth"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/simulate"
)

// signingKey opens the gateway's current access-token signing key with the
// KEK, as only the gateway can: the attacks below forge tokens that differ
// from a genuine one in one thing only, and a forged token without that
// difference is accepted (so each refusal is for that difference).
func (e *gatewayEnv) signingKey() (string, ed25519.PrivateKey) {
	e.t.Helper()
	keys, err := e.db.SigningKeys(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	for _, k := range keys {
		if !k.RetiredAt.IsZero() {
			continue
		}
		block, err := aes.NewCipher(e.kek)
		if err != nil {
			e.t.Fatal(err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			e.t.Fatal(err)
		}
		seed, err := aead.Open(nil, k.Sealed[:aead.NonceSize()], k.Sealed[aead.NonceSize():], []byte(k.KID))
		if err != nil {
			e.t.Fatalf("opening signing key %s: %v", k.KID, err)
		}
		return k.KID, ed25519.NewKeyFromSeed(seed)
	}
	e.t.Fatal("no current signing key")
	return "", nil
}

// TestJWTAttacksOverHTTP presents forged and broken access tokens to the
// gateway, as a bearer token and as the session cookie, on a read, a
// ledger write and a public route: as a bearer token each is 401
// unauthenticated with WWW-Authenticate, never served nor treated as
// anonymous; as the session cookie (sent by the browser, perhaps planted)
// it is no credential: 401 for users' operations, public ones served.
// Nothing changes. A token forged with the real key and nothing wrong is served,
// so each refusal is for the one thing wrong with its token.
func TestJWTAttacksOverHTTP(t *testing.T) {
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) { jwtAttacks(t, newGatewayEnv(t, db, envOptions{})) })
	}
}

func jwtAttacks(t *testing.T, e *gatewayEnv) {
	var me api.UserView
	e.call("GET", "/v1/me", e.as("miner"), nil, 200, &me)
	kid, key := e.signingKey()
	now := time.Now().Unix()
	base := func() jwt.MapClaims {
		return jwt.MapClaims{"iss": "https://greenmint.test", "aud": "greenmint-api", "sub": me.ID, "org": consortium.MinerMSP, "role": "miner", "admin": true,
			"exp": now + 600, "nbf": now, "iat": now, "jti": "at_forged"}
	}
	with := func(k string, v any) jwt.MapClaims { m := base(); m[k] = v; return m }
	without := func(k string) jwt.MapClaims { m := base(); delete(m, k); return m }
	sign := func(c jwt.MapClaims, m jwt.SigningMethod, k any, hdr func(map[string]any)) string {
		tok := jwt.NewWithClaims(m, c)
		tok.Header["kid"], tok.Header["typ"] = kid, auth.AccessTokenType
		if hdr != nil {
			hdr(tok.Header)
		}
		s, err := tok.SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	eddsa := func(c jwt.MapClaims) string { return sign(c, jwt.SigningMethodEdDSA, key, nil) }
	pub := key.Public().(ed25519.PublicKey)
	var jwks []byte
	{
		req, _ := http.NewRequest("GET", e.srv.URL+"/.well-known/jwks.json", nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		buf := new(bytes.Buffer)
		_, _ = buf.ReadFrom(res.Body)
		res.Body.Close()
		jwks = buf.Bytes()
		if !bytes.Contains(jwks, []byte(base64.RawURLEncoding.EncodeToString(pub))) {
			t.Fatalf("the JWKS %s does not publish the key the test signs with", jwks)
		}
	}
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	genuine := e.as("miner")
	parts := strings.Split(genuine, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	elevated := bytes.Replace(payload, []byte(`"role":"miner"`), []byte(`"role":"registry"`), 1)
	if bytes.Equal(elevated, payload) {
		t.Fatalf("the genuine token's payload %s has no role to tamper with", payload)
	}
	// A token whose signature is an HMAC of the header and payload under
	// the public key in the JWKS's encoding.
	hsWith := func(secret []byte) string {
		h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","kid":"` + kid + `","typ":"at+jwt"}`))
		p := base64.RawURLEncoding.EncodeToString([]byte(marshal(base())))
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte(h + "." + p))
		return h + "." + p + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	}
	none := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodNone, base())
		tok.Header["kid"], tok.Header["typ"] = kid, auth.AccessTokenType
		s, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}()

	// The control: forged with the real key and nothing wrong, it is
	// served as the miner.
	var got api.UserView
	e.call("GET", "/v1/me", eddsa(base()), nil, 200, &got)
	if got.ID != me.ID {
		t.Fatalf("the control token acted as %+v, want %+v", got, me)
	}

	attacks := []struct {
		name, token string
	}{
		{"alg none", none},
		{"alg none without a signature part", strings.TrimSuffix(none, ".")},
		{"HS256 keyed with the raw public key", hsWith(pub)},
		{"HS256 keyed with the public key in base64url", hsWith([]byte(base64.RawURLEncoding.EncodeToString(pub)))},
		{"HS256 keyed with the JWKS document", hsWith(jwks)},
		{"expired", eddsa(with("exp", now-int64(auth.Leeway.Seconds())-60))},
		{"not yet valid", eddsa(with("nbf", now+int64(auth.Leeway.Seconds())+90))},
		{"future iat", eddsa(with("iat", now+int64(auth.Leeway.Seconds())+270))},
		{"wrong audience", eddsa(with("aud", "other-api"))},
		{"wrong issuer", eddsa(with("iss", "https://evil.test"))},
		{"tampered payload (role miner → registry)", parts[0] + "." + base64.RawURLEncoding.EncodeToString(elevated) + "." + parts[2]},
		{"tampered signature", parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 64))},
		{"signed by another key under our kid", sign(base(), jwt.SigningMethodEdDSA, otherKey, nil)},
		{"unknown kid", sign(base(), jwt.SigningMethodEdDSA, key, func(h map[string]any) { h["kid"] = "nope" })},
		{"no kid", sign(base(), jwt.SigningMethodEdDSA, key, func(h map[string]any) { delete(h, "kid") })},
		{"typ JWT", sign(base(), jwt.SigningMethodEdDSA, key, func(h map[string]any) { h["typ"] = "JWT" })},
		{"missing exp", eddsa(without("exp"))},
		{"missing iat", eddsa(without("iat"))},
		{"missing nbf", eddsa(without("nbf"))},
		{"missing sub", eddsa(without("sub"))},
		{"missing org", eddsa(without("org"))},
		{"missing role", eddsa(without("role"))},
		{"missing jti", eddsa(without("jti"))},
		{"garbage", "not.a.token"},
		{"an API key never made", "gm_nosuchkey_c2VjcmV0c2VjcmV0c2VjcmV0"},
		{"a refresh token as an access token", "gmr_" + strings.Repeat("A", 43)},
	}
	before := e.state()
	transfer := map[string]any{"batch_id": "SITE0042-0001", "to": consortium.BuyerMSP, "quantity": 1}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			e.t = t
			for _, req := range []struct {
				method, path string
				body         any
			}{
				{"GET", "/v1/me", nil},
				{"POST", "/v1/transfers", transfer},
				{"GET", "/v1/public/batches/SITE0042-0001", nil},
			} {
				r := e.do(req.method, req.path, a.token, req.body)
				e.problem(r, 401, greenmint.EUNAUTHENTICATED)
				if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("%s %s with %s: WWW-Authenticate %q", req.method, req.path, a.name, r.Header.Get("WWW-Authenticate"))
				}
			}
			// The same token as the web app's session cookie: no
			// credential, so an operation for users is 401 and a public
			// one answers as to anyone.
			r := e.do("GET", "/v1/me", "", nil, "Cookie", "gm_access="+a.token)
			e.problem(r, 401, greenmint.EUNAUTHENTICATED)
			r = e.do("POST", "/v1/transfers", "", transfer, "Cookie", "gm_access="+a.token+"; gm_csrf=x", "X-CSRF-Token", "x")
			e.problem(r, 401, greenmint.EUNAUTHENTICATED)
			r = e.do("GET", "/v1/public/batches/SITE0042-0001", "", nil, "Cookie", "gm_access="+a.token)
			e.problem(r, 404, greenmint.ENOTFOUND)
		})
	}
	e.t = t
	for _, h := range []string{"Basic bWluZXI6cGFzc3dvcmQ=", "Bearer", "Bearer ", "Token " + genuine, genuine} {
		r := e.do("GET", "/v1/me", "", nil, "Authorization", h)
		e.problem(r, 401, greenmint.EUNAUTHENTICATED)
	}
	e.unchanged(before, "forged tokens")
}

// TestRefreshTokenReuse: a refresh token buys one new pair; its second use
// fails and ends the whole session, so the newest refresh token fails too.
// Of concurrent uses of one refresh token at most one succeeds. Logout
// ends the session. Garbage and missing refresh tokens are 401.
func TestRefreshTokenReuse(t *testing.T) {
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			e := newGatewayEnv(t, db, envOptions{})
			login := func() api.SessionView {
				var s api.SessionView
				e.call("POST", "/v1/auth/login", "", map[string]any{"login": "miner2", "password": testPassword}, 200, &s)
				if s.RefreshToken == "" || s.AccessToken == "" {
					t.Fatalf("login %+v", s)
				}
				return s
			}
			refresh := func(tok string) response {
				return e.do("POST", "/v1/auth/refresh", "", map[string]any{"refresh_token": tok})
			}

			// Rotation and reuse detection.
			s1 := login()
			var s2 api.SessionView
			e.call("POST", "/v1/auth/refresh", "", map[string]any{"refresh_token": s1.RefreshToken}, 200, &s2)
			if s2.RefreshToken == "" || s2.RefreshToken == s1.RefreshToken || s2.AccessToken == "" {
				t.Fatalf("refresh answered %+v", s2)
			}
			e.call("GET", "/v1/me", s2.AccessToken, nil, 200, nil)
			e.problem(refresh(s1.RefreshToken), 401, greenmint.EUNAUTHENTICATED)
			e.problem(refresh(s2.RefreshToken), 401, greenmint.EUNAUTHENTICATED)

			// Another session of the same user is untouched.
			other := login()
			e.call("POST", "/v1/auth/refresh", "", map[string]any{"refresh_token": other.RefreshToken}, 200, nil)

			// Concurrent uses of one refresh token: one at most wins,
			// and the session ends.
			s3 := login()
			const n = 8
			codes := make([]int, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					codes[i] = refreshRaw(t, e.srv.URL, s3.RefreshToken)
				}()
			}
			wg.Wait()
			ok := 0
			for _, c := range codes {
				switch c {
				case 200:
					ok++
				case 401:
				default:
					t.Fatalf("concurrent refreshes answered %v", codes)
				}
			}
			if ok > 1 {
				t.Fatalf("concurrent refreshes of one token answered %v: %d successes", codes, ok)
			}

			// Logout ends the session; its refresh token no longer works.
			s4 := login()
			e.call("POST", "/v1/auth/logout", "", map[string]any{"refresh_token": s4.RefreshToken}, 200, nil)
			e.problem(refresh(s4.RefreshToken), 401, greenmint.EUNAUTHENTICATED)

			for _, tc := range []struct {
				name string
				body any
			}{
				{"garbage", map[string]any{"refresh_token": "gmr_garbage"}},
				{"empty", map[string]any{"refresh_token": ""}},
				{"no body", nil},
				{"an access token", map[string]any{"refresh_token": s2.AccessToken[:200]}},
			} {
				e.problem(e.do("POST", "/v1/auth/refresh", "", tc.body), 401, greenmint.EUNAUTHENTICATED)
				e.problem(e.do("POST", "/v1/auth/logout", "", tc.body), 401, greenmint.EUNAUTHENTICATED)
			}
		})
	}
}

// refreshRaw posts a refresh without the harness (from goroutines) and
// returns the status.
func refreshRaw(t *testing.T, base, tok string) int {
	res, err := http.Post(base+"/v1/auth/refresh", "application/json", strings.NewReader(marshal(map[string]any{"refresh_token": tok})))
	if err != nil {
		t.Error(err)
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}

// TestCookieSessionCSRF: a cookie session's unsafe requests need
// X-CSRF-Token equal to the gm_csrf cookie (double submit): without it,
// with a wrong one, or without the gm_csrf cookie, a write is 403
// forbidden and changes nothing; with it, it runs. Safe requests need no
// token. Refresh and logout by cookie need it too; after logout the
// session's refresh cookie is dead.
func TestCookieSessionCSRF(t *testing.T) {
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			e := newGatewayEnv(t, db, envOptions{})
			r := e.call("POST", "/v1/auth/login", "", map[string]any{"login": "miner", "password": testPassword, "session": "cookie"}, 200, nil)
			var s api.SessionView
			if err := json.Unmarshal(r.Body, &s); err != nil {
				t.Fatal(err)
			}
			ck := cookiesOf(t, r.Header)
			if s.AccessToken != "" || s.RefreshToken != "" || s.CSRFToken == "" || ck["gm_csrf"].Value != s.CSRFToken {
				t.Fatalf("a cookie login answered %s with cookies %v", r.Body, ck)
			}
			for _, name := range []string{"gm_access", "gm_refresh"} {
				if c := ck[name]; c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Value == "" {
					t.Fatalf("cookie %s = %+v, want HttpOnly and SameSite=Strict", name, c)
				}
			}
			if ck["gm_refresh"].Path != "/v1/auth" {
				t.Fatalf("the refresh cookie's path is %q, want /v1/auth", ck["gm_refresh"].Path)
			}
			access := "gm_access=" + ck["gm_access"].Value
			both := access + "; gm_csrf=" + s.CSRFToken

			e.call("GET", "/v1/me", "", nil, 200, nil, "Cookie", access)
			// A stale or planted access cookie does not lock its user out:
			// signing in and refreshing still work.
			stale := "gm_access=" + e.as("miner")[:40] + "x; gm_csrf=" + s.CSRFToken
			e.call("POST", "/v1/auth/login", "", map[string]any{"login": "miner", "password": testPassword}, 200, nil, "Cookie", stale)
			var fresh api.SessionView
			e.call("POST", "/v1/auth/login", "", map[string]any{"login": "miner", "password": testPassword}, 200, &fresh)
			e.call("POST", "/v1/auth/refresh", "", map[string]any{"refresh_token": fresh.RefreshToken}, 200, nil, "Cookie", stale)

			site, err := simulate.NewSite("SITE0201")
			if err != nil {
				t.Fatal(err)
			}
			body := site.Registration().Sites[0]
			before := e.state()
			for _, tc := range []struct {
				name string
				hdr  []string
			}{
				{"no X-CSRF-Token", []string{"Cookie", both}},
				{"a wrong X-CSRF-Token", []string{"Cookie", both, "X-CSRF-Token", "wrong" + s.CSRFToken}},
				{"an empty X-CSRF-Token", []string{"Cookie", both, "X-CSRF-Token", ""}},
				{"no gm_csrf cookie", []string{"Cookie", access, "X-CSRF-Token", s.CSRFToken}},
				{"a gm_csrf cookie of the attacker's", []string{"Cookie", access + "; gm_csrf=evil", "X-CSRF-Token", "evil2"}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					e.t = t
					e.problem(e.do("POST", "/v1/sites", "", body, tc.hdr...), 403, greenmint.EFORBIDDEN)
					e.problem(e.do("DELETE", "/v1/api-keys/nosuch", "", nil, tc.hdr...), 403, greenmint.EFORBIDDEN)
				})
			}
			e.t = t
			e.unchanged(before, "cookie writes without the CSRF token")
			var w api.Written[greenmint.Site]
			e.call("POST", "/v1/sites", "", body, 200, &w, "Cookie", both, "X-CSRF-Token", s.CSRFToken)
			if w.Result.Owner != consortium.MinerMSP {
				t.Fatalf("the cookie session registered %+v", w.Result)
			}

			// Refresh by cookie: CSRF needed; it rotates the cookies.
			refreshCk := "gm_refresh=" + ck["gm_refresh"].Value + "; gm_csrf=" + s.CSRFToken
			e.problem(e.do("POST", "/v1/auth/refresh", "", nil, "Cookie", refreshCk), 403, greenmint.EFORBIDDEN)
			e.problem(e.do("POST", "/v1/auth/refresh", "", nil, "Cookie", refreshCk, "X-CSRF-Token", "wrong"), 403, greenmint.EFORBIDDEN)
			r = e.call("POST", "/v1/auth/refresh", "", nil, 200, nil, "Cookie", refreshCk, "X-CSRF-Token", s.CSRFToken)
			ck2 := cookiesOf(t, r.Header)
			if ck2["gm_refresh"] == nil || ck2["gm_refresh"].Value == ck["gm_refresh"].Value || ck2["gm_csrf"] == nil {
				t.Fatalf("a cookie refresh set %v", ck2)
			}
			// Logout by cookie: CSRF needed; then the refresh cookie is dead.
			refreshCk2 := "gm_refresh=" + ck2["gm_refresh"].Value + "; gm_csrf=" + ck2["gm_csrf"].Value
			e.problem(e.do("POST", "/v1/auth/logout", "", nil, "Cookie", refreshCk2), 403, greenmint.EFORBIDDEN)
			r = e.call("POST", "/v1/auth/logout", "", nil, 200, nil, "Cookie", refreshCk2, "X-CSRF-Token", ck2["gm_csrf"].Value)
			for name, c := range cookiesOf(t, r.Header) {
				if c.MaxAge >= 0 {
					t.Errorf("logout left cookie %s: %+v", name, c)
				}
			}
			e.problem(e.do("POST", "/v1/auth/refresh", "", nil, "Cookie", refreshCk2, "X-CSRF-Token", ck2["gm_csrf"].Value), 401, greenmint.EUNAUTHENTICATED)
		})
	}
}

func cookiesOf(t *testing.T, h http.Header) map[string]*http.Cookie {
	t.Helper()
	out := map[string]*http.Cookie{}
	for _, line := range h.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			t.Fatalf("Set-Cookie %q: %v", line, err)
		}
		out[c.Name] = c
	}
	return out
}
