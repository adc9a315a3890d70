package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/greenmint/greenmint/api"
	"github.com/greenmint/greenmint/internal/greenminttest"
)

// TestHelpShowsNoSecrets sets every secret the commands read from the
// environment and checks that no help text prints them (they used to be
// the flags' defaults), and that a DSN named in an error has its password
// masked.
func TestHelpShowsNoSecrets(t *testing.T) {
	secrets := map[string]string{
		"GREENMINT_DB":         "postgres://greenmint:hunter2-db-password@127.0.0.1:1/oracle?connect_timeout=2",
		"GREENMINT_PEER_TOKEN": "peer-token-secret-value",
		"GREENMINT_TOKEN":      "collector-token-secret-value",
		"GREENMINT_KEK":        "k1:a2VrLXNlY3JldC12YWx1ZS0zMi1ieXRlcy1sb25nISE=",
	}
	for k, v := range secrets {
		t.Setenv(k, v)
	}
	for _, args := range [][]string{
		{"--help"}, {"oracle", "serve", "--help"}, {"oracle", "token", "issue", "--help"}, {"attestation", "create", "--help"},
		{"simulate", "run", "--help"}, {"migrate", "--help"}, {"readings", "import", "--help"}, {"serve", "--help"},
	} {
		out, err := run(t, args...)
		if err != nil {
			t.Fatalf("greenmint %s: %v", strings.Join(args, " "), err)
		}
		for _, s := range []string{"hunter2", "peer-token-secret-value", "collector-token-secret-value", "a2VrLXNlY3JldC12YWx1ZS0zMi1ieXRlcy1sb25nISE="} {
			if strings.Contains(out, s) {
				t.Errorf("greenmint %s prints the secret %q:\n%s", strings.Join(args, " "), s, out)
			}
		}
	}
	out, err := run(t, "migrate")
	if err == nil || strings.Contains(out+err.Error(), "hunter2") || !strings.Contains(err.Error(), "greenmint:xxxxx@") {
		t.Fatalf("migrate with an unreachable $GREENMINT_DB = %v\n%s; want an error naming the DSN with its password masked", err, out)
	}
}

// syncBuffer is a bytes.Buffer that a running command writes while the
// test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestOracleServeAndTokens runs `oracle serve` over TLS on a workspace and
// manages its tokens with `oracle token`: nothing secret is printed at
// start-up, a collector token issued on the command line is admitted for
// readings and refused (403) for co-signing, a token revoked is refused,
// lifetimes beyond the maximum and unknown kinds are not issued, the list
// shows each token's status, a POST that never sends its body is cut off,
// and the oracle's database is readable by its owner only.
func TestOracleServeAndTokens(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ws")
	if out, err := run(t, "init", "--dir", dir); err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	issue := func(args ...string) api.Issued {
		t.Helper()
		var out, errOut bytes.Buffer
		if err := NewMain(&out, &errOut).Run(context.Background(), append([]string{"oracle", "token", "issue", "--dir", dir, "--json"}, args...)); err != nil {
			t.Fatalf("token issue %v: %v\n%s", args, err, errOut.String())
		}
		var is api.Issued
		if err := json.Unmarshal(out.Bytes(), &is); err != nil || is.Token == "" || is.ID == "" {
			t.Fatalf("token issue output %q: %v", out.String(), err)
		}
		return is
	}
	collector := issue("--kind", "collector", "--subject", "collector-1")
	peer := issue("--kind", "peer-oracle", "--subject", "oracle-a", "--lifetime", "720h")
	revoked := issue("--kind", "collector", "--subject", "collector-2")
	if out, err := run(t, "oracle", "token", "revoke", "--dir", dir, revoked.ID); err != nil {
		t.Fatalf("revoke: %v\n%s", err, out)
	}
	for _, bad := range [][]string{{"--kind", "collector", "--subject", "x", "--lifetime", "100000h"}, {"--kind", "admin", "--subject", "x"}, {"--kind", "collector"}} {
		if out, err := run(t, append([]string{"oracle", "token", "issue", "--dir", dir}, bad...)...); err == nil {
			t.Errorf("token issue %v issued:\n%s", bad, out)
		}
	}
	if out, err := run(t, "oracle", "token", "revoke", "--dir", dir, "no-such-token"); err == nil {
		t.Errorf("revoking an unknown token = %s", out)
	}
	if out, _ := run(t, "oracle", "token", "issue", "--dir", dir, "--subject", "plain"); !regexp.MustCompile(`(?m)^eyJ[A-Za-z0-9_.-]+$`).MatchString(out) {
		t.Errorf("token issue prints no token line:\n%s", out)
	}
	for _, f := range []string{filepath.Join(dir, "oracle.db"), filepath.Join(dir, "oracle.json")} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s is %o: others may read it", f, fi.Mode().Perm())
		}
	}

	certFile, keyFile, pool := greenminttest.SelfSignedTLS(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- NewMain(&out, &errOut).Run(ctx, []string{"oracle", "serve", "--dir", dir, "--listen", "127.0.0.1:0", "--tls-cert", certFile, "--tls-key", keyFile,
			"--read-header-timeout", "300ms", "--read-timeout", "500ms", "--idle-timeout", "300ms", "--revocation-cache", "0", "--json"})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("oracle serve: %v\n%s", err, errOut.String())
		}
		for _, line := range strings.Split(strings.TrimSpace(errOut.String()), "\n") {
			if line != "" && !json.Valid([]byte(line)) {
				t.Errorf("oracle serve --json logged a line that is not JSON: %q", line)
			}
		}
	})
	addr := ""
	for deadline := time.Now().Add(20 * time.Second); addr == ""; time.Sleep(20 * time.Millisecond) {
		var start struct {
			OracleID string `json:"oracle_id"`
			URL      string `json:"url"`
		}
		if line, _, ok := strings.Cut(out.String(), "\n"); ok {
			if err := json.Unmarshal([]byte(line), &start); err != nil || start.OracleID != "oracle-a" || !strings.HasPrefix(start.URL, "https://") {
				t.Fatalf("oracle serve --json start line %q: %v", line, err)
			}
			addr = strings.TrimPrefix(start.URL, "https://")
		}
		if time.Now().After(deadline) {
			t.Fatalf("oracle serve did not start:\n%s\n%s", out.String(), errOut.String())
		}
	}
	if strings.Contains(out.String()+errOut.String(), "eyJ") {
		t.Fatalf("oracle serve printed a token:\n%s%s", out.String(), errOut.String())
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	post := func(path, token string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, "https://"+addr+path, strings.NewReader(`{"readings":[{"meter_id":5}]}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		path, token string
		want        int
	}{
		{"/v1/readings", collector.Token, 200},
		{"/v1/cosign", collector.Token, 403},
		{"/v1/readings", peer.Token, 403},
		{"/v1/readings", revoked.Token, 401},
	} {
		if got := post(tc.path, tc.token); got != tc.want {
			t.Errorf("POST %s = %d, want %d", tc.path, got, tc.want)
		}
	}
	// A POST announcing a body it never sends is cut off by --read-timeout.
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/readings HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: 100000\r\n\r\n", collector.Token)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	_, err = io.Copy(io.Discard, conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || time.Since(start) > 3*time.Second {
		t.Fatalf("a body-less POST stayed open %s", time.Since(start))
	}

	listOut, err := run(t, "oracle", "token", "list", "--dir", dir, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rows []struct{ ID, Kind, Subject, Status string }
	if err := json.Unmarshal([]byte(listOut), &rows); err != nil || len(rows) != 4 {
		t.Fatalf("token list = %s, %v", listOut, err)
	}
	status := map[string]string{}
	for _, r := range rows {
		status[r.ID] = r.Status
	}
	if status[collector.ID] != "active" || status[revoked.ID] != "revoked" || status[peer.ID] != "active" {
		t.Fatalf("token statuses = %v", status)
	}
	if strings.Contains(listOut, "eyJ") {
		t.Fatalf("token list prints tokens:\n%s", listOut)
	}
}

// TestServeChecksThePeerToken: `oracle serve --peer` refuses to start with
// a peer token that has expired or is not a peer-oracle token, saying how
// to get a new one.
func TestServeChecksThePeerToken(t *testing.T) {
	sign := func(kind string, iat, exp time.Time) string {
		raw, err := jwt.NewWithClaims(jwt.SigningMethodHS256, api.Claims{Kind: kind, RegisteredClaims: jwt.RegisteredClaims{
			ID: "t1", Subject: "oracle-a", IssuedAt: jwt.NewNumericDate(iat), ExpiresAt: jwt.NewNumericDate(exp)}}).SignedString([]byte("the-peer's-secret-the-peer's-secret"))
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	now := time.Now()
	tests := []struct {
		name, token, want string
	}{
		{"expired", sign(api.KindPeerOracle, now.Add(-48*time.Hour), now.Add(-24*time.Hour)), "expired at"},
		{"collector token", sign(api.KindCollector, now, now.Add(time.Hour)), "not peer-oracle"},
		{"none", "", "no peer token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GREENMINT_PEER_TOKEN", "")
			_, err := run(t, "oracle", "serve", "--dir", t.TempDir(), "--peer", "https://oracle-b.example", "--peer-token", tc.token)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "oracle token issue --kind peer-oracle") {
				t.Fatalf("oracle serve with a bad peer token = %v, want %q and how to get a new one", err, tc.want)
			}
		})
	}
}
