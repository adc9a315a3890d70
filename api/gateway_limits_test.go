package api_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/api"
	"github.com/greenmint/greenmint/internal/greenminttest"
)

// TestBodyLimits: a body over 1 MiB is 413 problem+json, whether its
// length is announced or it is sent chunked, with or without an
// Idempotency-Key, signed in or not; the readings route takes up to 32 MiB
// and refuses more. Nothing changes.
func TestBodyLimits(t *testing.T) {
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			e := newGatewayEnv(t, db, envOptions{})
			before := e.state()
			big := func(n int) []byte {
				// A JSON object with one long string: valid but for its size.
				return []byte(`{"site_id": "SITE0500", "name": "` + strings.Repeat("a", n-len(`{"site_id": "SITE0500", "name": ""}`)) + `"}`)
			}
			over := big(1<<20 + 1)
			for _, tc := range []struct {
				name, method, path, tok string
				body                    []byte
				chunked                 bool
				hdr                     []string
			}{
				{name: "announced", method: "POST", path: "/v1/sites", tok: "miner", body: over},
				{name: "chunked", method: "POST", path: "/v1/sites", tok: "miner", body: over, chunked: true},
				{name: "announced, with an Idempotency-Key", method: "POST", path: "/v1/sites", tok: "miner", body: over, hdr: []string{"Idempotency-Key", "big-1"}},
				{name: "chunked, with an Idempotency-Key", method: "POST", path: "/v1/sites", tok: "miner", body: over, chunked: true, hdr: []string{"Idempotency-Key", "big-2"}},
				{name: "a PUT", method: "PUT", path: "/v1/policy", tok: "registrar", body: over},
				{name: "anonymous login", method: "POST", path: "/v1/auth/login", body: over},
				{name: "anonymous login, chunked", method: "POST", path: "/v1/auth/login", body: over, chunked: true},
				{name: "readings over 32 MiB", method: "POST", path: "/v1/readings", tok: "miner", body: big(32<<20 + 1)},
				{name: "readings over 32 MiB, chunked", method: "POST", path: "/v1/readings", tok: "miner", body: big(32<<20 + 1), chunked: true},
			} {
				t.Run(tc.name, func(t *testing.T) {
					e.t = t
					var body any = tc.body
					if tc.chunked {
						body = struct{ io.Reader }{bytes.NewReader(tc.body)} // no length: sent chunked
					}
					r := e.doRaw(tc.method, tc.path, e.as(tc.tok), body, tc.hdr...)
					e.problem(r, 413, greenmint.EINVALID)
				})
			}
			e.t = t
			t.Run("10 MiB chunked, read while it is sent", func(t *testing.T) {
				// A client that keeps sending after the answer: the answer
				// still reaches it (the server stops reading at 1 MiB).
				conn := dial(t, strings.TrimPrefix(e.srv.URL, "http://"))
				fmt.Fprintf(conn, "POST /v1/transfers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n", e.as("miner"))
				go func() {
					chunk := fmt.Sprintf("%x\r\n%s\r\n", 64<<10, strings.Repeat("a", 64<<10))
					for i := 0; i < 160; i++ {
						if _, err := io.WriteString(conn, chunk); err != nil {
							return
						}
					}
				}()
				_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
				res, err := http.ReadResponse(bufio.NewReader(conn), nil)
				if err != nil {
					t.Fatal(err)
				}
				raw, _ := io.ReadAll(res.Body)
				res.Body.Close()
				e.t = t
				e.problem(response{Status: res.StatusCode, Header: res.Header, Body: raw}, 413, greenmint.EINVALID)
			})
			e.t = t
			// Just under the limit is read (and refused for what it says).
			e.problem(e.do("POST", "/v1/sites", e.as("miner"), big(1<<20-64)), 400, greenmint.EINVALID)
			// The readings route reads 2 MiB (and rejects the one reading).
			var sum struct{ Rejected int }
			e.call("POST", "/v1/readings", e.as("miner"), "["+strings.Repeat(" ", 2<<20)+"42]", 200, &sum)
			if sum.Rejected != 1 {
				t.Fatalf("a 2 MiB batch of one malformed reading: %+v", sum)
			}
			e.unchanged(before, "oversized bodies")
			// The keys of refused oversized requests are not spent on them.
			for _, key := range []string{"big-1", "big-2"} {
				r := e.do("POST", "/v1/listings", e.as("miner"), map[string]any{"batch_id": "nosuch", "quantity": 1, "price_minor": 1, "currency": "EUR"}, "Idempotency-Key", key)
				e.problem(r, 404, greenmint.ENOTFOUND)
			}
		})
	}
}

// doRaw is do for bodies the harness would marshal: an io.Reader is sent
// as is (chunked when it has no length).
func (e *gatewayEnv) doRaw(method, path, tok string, body any, hdr ...string) response {
	e.t.Helper()
	rd, ok := body.(io.Reader)
	if !ok {
		return e.do(method, path, tok, body, hdr...)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	v, err := loadValidator()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := v.check(method, path, res.StatusCode, res.Header.Get("Content-Type"), raw); err != nil {
		e.t.Errorf("%v\n%s", err, raw)
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: raw}
}

// TestGatewayRateLimits: with a credential rate of 1/s (burst 2) and an anonymous
// rate of 1/s (burst 2) per address, the third quick request is 429
// problem+json (code unavailable) with Retry-After in whole seconds, and
// passes again after waiting that long. Each credential has its own
// bucket; anonymous callers share their address's, for every route
// (password guessing, /healthz) and for credentials that do not hold
// (forged tokens, made-up API keys). A 429 spends no Idempotency-Key.
func TestGatewayRateLimits(t *testing.T) {
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			e := newGatewayEnv(t, db, envOptions{limits: api.Limits{CredentialRate: 1, CredentialBurst: 2, AnonymousRate: 1, AnonymousBurst: 2}})
			limited := func(r response) time.Duration {
				t.Helper()
				e.problem(r, 429, greenmint.EUNAVAILABLE)
				s, err := strconv.Atoi(r.Header.Get("Retry-After"))
				if err != nil || s < 1 || s > 2 {
					t.Fatalf("Retry-After %q, want 1 or 2 seconds", r.Header.Get("Retry-After"))
				}
				return time.Duration(s) * time.Second
			}

			// A credential's bucket.
			e.call("GET", "/v1/me", e.as("miner"), nil, 200, nil)
			e.call("GET", "/v1/me", e.as("miner"), nil, 200, nil)
			wait := limited(e.do("GET", "/v1/me", e.as("miner"), nil))
			before := e.state()
			site := map[string]any{"site_id": "SITE0501", "name": "n", "country": "ES", "grid_region": "ES", "latitude_microdeg": 1, "longitude_microdeg": 1,
				"capacity_w": 1000, "fleet": map[string]any{"hashrate_ths": 1, "efficiency_mj_per_th": 1}}
			limited(e.do("POST", "/v1/sites", e.as("miner"), site, "Idempotency-Key", "limited"))
			e.unchanged(before, "a limited write")
			// Another credential of the same user's organisation is not held back.
			e.call("GET", "/v1/me", e.as("miner2"), nil, 200, nil)
			time.Sleep(wait)
			// The key of the limited write was not spent.
			r := e.call("POST", "/v1/sites", e.as("miner"), site, 200, nil, "Idempotency-Key", "limited")
			if r.Header.Get("Idempotent-Replayed") != "" {
				t.Fatal("a limited request's key answered a replay")
			}

			// The address's bucket, shared by every anonymous route.
			e.problem(e.do("GET", "/v1/public/batches/NOSUCH", "", nil), 404, greenmint.ENOTFOUND)
			e.problem(e.do("POST", "/v1/auth/login", "", map[string]any{"login": "miner", "password": "guess-1"}), 401, greenmint.EUNAUTHENTICATED)
			wait = limited(e.do("POST", "/v1/auth/login", "", map[string]any{"login": "miner", "password": "guess-2"}))
			limited(e.do("POST", "/v1/auth/login", "", map[string]any{"login": "miner", "password": testPassword}))
			if r := e.do("GET", "/healthz", "", nil); r.Status != 429 || r.Header.Get("Retry-After") == "" {
				t.Fatalf("/healthz over the limit = %d %v", r.Status, r.Header)
			}
			// A signed-in caller at the same address is not held back.
			e.call("GET", "/v1/me", e.as("buyer"), nil, 200, nil)
			time.Sleep(wait)
			e.call("POST", "/v1/auth/login", "", map[string]any{"login": "miner", "password": testPassword}, 200, nil)

			// Credentials that do not hold count against the address.
			time.Sleep(2 * time.Second)
			statuses := []int{}
			for _, tok := range []string{"forged.token.one", "gm_nosuch_c2VjcmV0", "forged.token.two", "gm_nosuch2_c2VjcmV0", "forged.token.three"} {
				statuses = append(statuses, e.do("GET", "/v1/me", tok, nil).Status)
			}
			if fmt.Sprint(statuses[:2]) != "[401 401]" || statuses[2] != 429 || statuses[4] != 429 {
				t.Fatalf("five bad credentials from one address answered %v, want 401 twice, then 429", statuses)
			}
		})
	}
}

// TestSlowClients serves the gateway with short server timeouts on a real
// socket and holds connections open the ways an attacker would: headers
// dribbled a line at a time, a write's body dribbled a byte at a time
// (with a valid token), a connection that sends nothing, headers over
// 64 KiB (431). The server cuts each off within its timeouts, and nothing
// changes.
func TestSlowClients(t *testing.T) {
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			e := newGatewayEnv(t, db, envOptions{})
			srv, err := api.NewServer(e.gw.Handler(), api.ServerConfig{ReadHeaderTimeout: 200 * time.Millisecond, ReadTimeout: 500 * time.Millisecond,
				WriteTimeout: 2 * time.Second, IdleTimeout: 400 * time.Millisecond}, nil)
			if err != nil {
				t.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- srv.Serve(ln) }()
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				_ = srv.Shutdown(ctx)
				if err := <-done; err != nil {
					t.Errorf("Serve = %v", err)
				}
			})
			addr := ln.Addr().String()
			before := e.state()

			// dribble writes first, then rest one piece every 50 ms until the
			// server hangs up, and reports how long the server took.
			dribble := func(t *testing.T, first string, rest string) time.Duration {
				conn := dial(t, addr)
				start := time.Now()
				if _, err := io.WriteString(conn, first); err != nil {
					t.Fatal(err)
				}
				stop := make(chan struct{})
				defer close(stop)
				go func() {
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						case <-time.After(50 * time.Millisecond):
						}
						if _, err := io.WriteString(conn, rest); err != nil {
							return
						}
					}
				}()
				closedWithin(t, conn, 5*time.Second)
				return time.Since(start)
			}
			t.Run("headers dribbled", func(t *testing.T) {
				if d := dribble(t, "GET /v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+e.as("miner")+"\r\n", "X-Slow: 1\r\n"); d > 1500*time.Millisecond {
					t.Fatalf("the server read dribbled headers for %s (ReadHeaderTimeout 200 ms)", d)
				}
			})
			t.Run("headers dribbled anonymously", func(t *testing.T) {
				if d := dribble(t, "POST /v1/auth/login HTTP/1.1\r\n", "X-Slow: 1\r\n"); d > 1500*time.Millisecond {
					t.Fatalf("the server read dribbled headers for %s", d)
				}
			})
			t.Run("a write's body dribbled", func(t *testing.T) {
				head := fmt.Sprintf("POST /v1/transfers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nIdempotency-Key: slow-1\r\nContent-Length: 100000\r\n\r\n{\"batch_id\": \"", e.as("miner"))
				if d := dribble(t, head, "a"); d > 2500*time.Millisecond {
					t.Fatalf("the server read a dribbled body for %s (ReadTimeout 500 ms)", d)
				}
			})
			t.Run("headers over 64 KiB", func(t *testing.T) {
				conn := dial(t, addr)
				fmt.Fprintf(conn, "GET /v1/me HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", strings.Repeat("b", 80<<10))
				_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
				res, err := http.ReadResponse(bufio.NewReader(conn), nil)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
					t.Fatalf("headers over 64 KiB answered %d", res.StatusCode)
				}
			})
			t.Run("a silent connection", func(t *testing.T) {
				conn := dial(t, addr)
				if d := closedWithin(t, conn, 5*time.Second); d > 1500*time.Millisecond {
					t.Fatalf("a silent connection stayed open %s", d)
				}
			})
			e.t = t
			e.unchanged(before, "slow clients")
			// The server still serves.
			res, err := http.Get("http://" + addr + "/v1/public/batches/NOSUCH")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 404 {
				t.Fatalf("after the slow clients the server answered %d", res.StatusCode)
			}
		})
	}
}
