package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/internal/store"
	"github.com/greenmint/greenmint/workspace"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", to make the PostgreSQL test's database
)

// cheapPasswords keep argon2id fast in tests (the product's defaults cost
// 64 MiB a hash).
var cheapPasswords = &argon2id.Params{Memory: 8 * 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// clearServeEnv unsets every GREENMINT_ variable serve would read.
func clearServeEnv(t *testing.T) {
	t.Helper()
	for _, f := range []string{"dir", "listen", "public-url", "ledger", "connection", "db", "kek", "kek-file", "tls-cert", "tls-key", "oracle",
		"no-simulator", "simulator-sites", "simulator-every", "max-body", "read-timeout", "write-timeout"} {
		t.Setenv(envName(f), "")
	}
}

// served is a running greenmint serve.
type served struct {
	t           *testing.T
	url         string
	out, errOut *syncBuffer
	client      *http.Client
	banner      serveBanner // with --json
	stop        func() int  // stops it and returns its exit code
}

var listening = regexp.MustCompile(`Greenmint listening on (https?://\S+)`)

// startServe runs greenmint serve with args until stop (or the test's
// end) and waits until it listens.
func startServe(t *testing.T, client *http.Client, args ...string) *served {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &served{t: t, out: &syncBuffer{}, errOut: &syncBuffer{}, client: client}
	if s.client == nil {
		s.client = &http.Client{Timeout: 20 * time.Second}
	}
	m := NewMain(s.out, s.errOut)
	m.passwordParams = cheapPasswords
	done := make(chan int, 1)
	go func() { done <- m.Exec(ctx, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)) }()
	code, stopped := 0, false
	s.stop = func() int {
		if !stopped {
			cancel()
			code, stopped = <-done, true
		}
		return code
	}
	t.Cleanup(func() { s.stop() })
	asJSON := slices.Contains(args, "--json")
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if m := listening.FindStringSubmatch(s.out.String()); !asJSON && m != nil && strings.Contains(s.out.String(), "next start reuses") {
			s.url = m[1]
			return s
		}
		if asJSON && strings.HasSuffix(s.out.String(), "}\n") {
			if err := json.Unmarshal([]byte(s.out.String()), &s.banner); err != nil || s.banner.URL == "" {
				t.Fatalf("serve --json printed %q: %v", s.out.String(), err)
			}
			s.url = s.banner.URL
			return s
		}
		select {
		case c := <-done:
			t.Fatalf("serve exited %d before listening:\n%s\n%s", c, s.out.String(), s.errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s\n%s", s.out.String(), s.errOut.String())
		}
	}
}

// call sends a request with a bearer token (none if empty) and returns
// the status and body.
func (s *served) call(method, path, token string, body any) (int, []byte) {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := s.client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return res.StatusCode, raw
}

// login signs in and checks /v1/me; it returns the access token.
func (s *served) login(l workspace.SeedLogin) string {
	s.t.Helper()
	code, raw := s.call(http.MethodPost, "/v1/auth/login", "", map[string]string{"login": l.Login, "password": l.Password})
	var sess struct {
		AccessToken string `json:"access_token"`
	}
	if code != http.StatusOK || json.Unmarshal(raw, &sess) != nil || sess.AccessToken == "" {
		s.t.Fatalf("login %s = %d %s", l.Login, code, raw)
	}
	code, raw = s.call(http.MethodGet, "/v1/me", sess.AccessToken, nil)
	var me struct {
		Login, Org, Role string
	}
	if code != http.StatusOK || json.Unmarshal(raw, &me) != nil || me.Login != l.Login || me.Org != l.Org || me.Role != string(l.Role) {
		s.t.Fatalf("GET /v1/me as %s = %d %s", l.Login, code, raw)
	}
	return sess.AccessToken
}

// batches lists the batches the auditor sees.
func (s *served) batches(token string) []string {
	s.t.Helper()
	code, raw := s.call(http.MethodGet, "/v1/batches", token, nil)
	var page struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	if code != http.StatusOK || json.Unmarshal(raw, &page) != nil {
		s.t.Fatalf("GET /v1/batches = %d %s", code, raw)
	}
	var ids []string
	for _, b := range page.Items {
		ids = append(ids, b.ID)
	}
	return ids
}

// waitLog waits until serve logs want.
func (s *served) waitLog(want string, within time.Duration) {
	s.t.Helper()
	for deadline := time.Now().Add(within); !strings.Contains(s.errOut.String(), want); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			s.t.Fatalf("serve did not log %q within %s:\n%s", want, within, s.errOut.String())
		}
	}
}

func seededLogins(t *testing.T, dir string) []workspace.SeedLogin {
	t.Helper()
	logins, err := workspace.ReadLogins(filepath.Join(dir, loginsFile))
	if err != nil {
		t.Fatal(err)
	}
	return logins
}

// identities counts the ledger identities in the data directory's
// database.
func identities(t *testing.T, dir string) map[string]int64 {
	t.Helper()
	db, err := store.Open(filepath.Join(dir, defaultDB))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n, err := db.CountLedgerIdentitiesByKEK(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// The embedded default end to end: a first start makes the workspace,
// the KEK, the seeded users (each logs in over HTTP and is itself at
// /v1/me) and the simulator's sites, and batches are minted while it runs;
// the data directory's secrets are 0600. A second start (over TLS, without
// the simulator) reuses all of it: nothing is seeded again and the same
// passwords work. A third start with the simulator resumes the finished
// week and mints nothing twice. Each start stops cleanly (exit 0).
func TestServe(t *testing.T) {
	clearServeEnv(t)
	dir := filepath.Join(t.TempDir(), "data")

	s := startServe(t, nil, "--dir", dir, "--simulator-every", "50ms")
	out := s.out.String()
	for _, want := range []string{"Created a workspace of the demo consortium", "Seeded 5 users", "/docs", "/openapi.json", "Demo logins", "curl -s " + s.url + "/v1/auth/login",
		"registrar", "RegistryMSP", "miner", "MinerMSP", "buyer", "BuyerMSP", "auditor", "AuditorMSP", "OracleAMSP"} {
		if !strings.Contains(out, want) {
			t.Errorf("the first start does not print %q:\n%s", want, out)
		}
	}
	if !strings.Contains(s.errOut.String(), "production must supply its own") {
		t.Errorf("no warning about the generated KEK:\n%s", s.errOut.String())
	}
	logins := seededLogins(t, dir)
	if len(logins) != 5 {
		t.Fatalf("seeded logins = %+v", logins)
	}
	tokens := map[string]string{}
	for _, l := range logins {
		if !strings.Contains(out, l.Password) {
			t.Errorf("the demo password of %s is not printed", l.Login)
		}
		tokens[l.Login] = s.login(l)
	}
	for _, path := range []string{"/readyz", "/openapi.json", "/docs", "/healthz"} {
		if code, raw := s.call(http.MethodGet, path, "", nil); code != http.StatusOK {
			t.Errorf("GET %s = %d %s", path, code, raw)
		}
	}
	for deadline := time.Now().Add(60 * time.Second); len(s.batches(tokens["auditor"])) == 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no batch within 60 s:\n%s", s.errOut.String())
		}
	}
	s.waitLog("the simulated week is done", 60*time.Second)
	minted := strings.Count(s.errOut.String(), "simulator: batch minted")
	if minted != 3*7 {
		t.Errorf("the simulator minted %d batches, want one a day for each of 3 sites over 7 days", minted)
	}
	if code := s.stop(); code != 0 {
		t.Fatalf("serve exited %d after SIGINT:\n%s", code, s.errOut.String())
	}
	if !strings.Contains(s.errOut.String(), "shutting down") {
		t.Errorf("no clean shutdown logged:\n%s", s.errOut.String())
	}
	secrets := map[string][]byte{}
	for _, f := range []string{kekFile, loginsFile, simFile, defaultDB} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v, want a file readable by its owner only", f, fi, err)
		}
		secrets[f], _ = os.ReadFile(filepath.Join(dir, f))
	}
	if kek := strings.TrimSpace(string(secrets[kekFile])); strings.Contains(s.out.String()+s.errOut.String(), kek[strings.Index(kek, ":")+1:]) {
		t.Errorf("serve printed the KEK")
	}
	ids := identities(t, dir)

	// Second start: TLS, no simulator; everything reused.
	certFile, keyFile, pool := greenminttest.SelfSignedTLS(t, t.TempDir())
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	s = startServe(t, client, "--dir", dir, "--no-simulator", "--tls-cert", certFile, "--tls-key", keyFile)
	out = s.out.String()
	if !strings.HasPrefix(s.url, "https://") || strings.Contains(out, "Created") || strings.Contains(out, "Seeded") || strings.Contains(out, "simulator") {
		t.Errorf("the second start (TLS, no simulator) printed:\n%s", out)
	}
	for _, l := range logins {
		if !strings.Contains(out, l.Password) {
			t.Errorf("the second start does not print the demo password of %s", l.Login)
		}
		tokens[l.Login] = s.login(l)
	}
	if n := len(s.batches(tokens["auditor"])); n != minted {
		t.Errorf("the second start lists %d batches, want the %d minted", n, minted)
	}
	if code := s.stop(); code != 0 {
		t.Fatalf("the second serve exited %d", code)
	}
	for _, f := range []string{kekFile, loginsFile, simFile} {
		if now, _ := os.ReadFile(filepath.Join(dir, f)); !bytes.Equal(now, secrets[f]) {
			t.Errorf("the second start changed %s", f)
		}
	}
	if again := identities(t, dir); len(again) != len(ids) || again[firstKEK(t, secrets[kekFile])] != ids[firstKEK(t, secrets[kekFile])] {
		t.Errorf("ledger identities after the second start = %v, before %v", again, ids)
	}

	// Third start: the simulator resumes a finished week; nothing twice.
	s = startServe(t, nil, "--dir", dir, "--simulator-every", "50ms")
	s.waitLog("the simulated week is done", 60*time.Second)
	if n := strings.Count(s.errOut.String(), "simulator: batch minted"); n != 0 || strings.Contains(s.errOut.String(), "attestation failed") {
		t.Errorf("the resumed simulator minted %d batches:\n%s", n, s.errOut.String())
	}
	if n := len(s.batches(s.login(logins[3]))); n != minted {
		t.Errorf("after the resumed simulator: %d batches, want %d", n, minted)
	}
}

func firstKEK(t *testing.T, raw []byte) string {
	t.Helper()
	id, _, ok := strings.Cut(strings.TrimSpace(string(raw)), ":")
	if !ok {
		t.Fatalf("the KEK file is not ID:KEY")
	}
	return id
}

// Malformed settings, from flags or the environment, exit 2 with a clear
// message, print no secret and make nothing.
func TestServeSettings(t *testing.T) {
	clearServeEnv(t)
	short := base64.StdEncoding.EncodeToString([]byte("sixteen byte key"))
	good := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	kekFile := filepath.Join(t.TempDir(), "kek")
	if err := os.WriteFile(kekFile, []byte("k1:"+short+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"a KEK that is not ID:KEY", []string{"--kek", "nope"}, nil, "not ID:BASE64KEY"},
		{"a short KEK", []string{"--kek", "k1:" + short}, nil, `"k1" has 16 bytes, want 32`},
		{"a short KEK from the environment", nil, map[string]string{"GREENMINT_KEK": "k1:" + short}, `"k1" has 16 bytes`},
		{"a short KEK from a file", []string{"--kek-file", kekFile}, nil, `"k1" has 16 bytes`},
		{"a missing KEK file", []string{"--kek-file", kekFile + ".none"}, nil, "key-encryption key file"},
		{"two KEK settings", []string{"--kek", "k1:" + good, "--kek-file", kekFile}, nil, "not both"},
		{"an unknown ledger", []string{"--ledger", "quantum"}, nil, "embedded or fabric"},
		{"an unknown ledger from the environment", nil, map[string]string{"GREENMINT_LEDGER": "quantum"}, "embedded or fabric"},
		{"a missing connection file", []string{"--ledger", "fabric", "--connection", filepath.Join(t.TempDir(), "none.json"), "--kek", "k1:" + good}, nil, "no such connection file"},
		{"Fabric without a KEK", []string{"--ledger", "fabric", "--connection", kekFile}, nil, "needs its key-encryption keys"},
		{"an unknown oracle mode", []string{"--oracle", "remote"}, nil, "in-process or none"},
		{"TLS without a key", []string{"--tls-cert", kekFile}, nil, "both a certificate and a key"},
		{"a web directory without the app", []string{"--web", t.TempDir()}, nil, "holds no index.html"},
		{"an empty web directory name", []string{"--web", ""}, nil, "must name a directory"},
		{"a public URL that is not one", []string{"--public-url", "ftp://x"}, nil, "--public-url"},
		{"a bad duration from the environment", nil, map[string]string{"GREENMINT_SIMULATOR_EVERY": "often"}, "GREENMINT_SIMULATOR_EVERY"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			dir := filepath.Join(t.TempDir(), "data")
			code, out, errOut := runExit(t, append([]string{"serve", "--dir", dir, "--listen", "127.0.0.1:0"}, tc.args...)...)
			if code != 2 || !strings.Contains(errOut, tc.want) || !strings.HasPrefix(errOut, "greenmint: invalid: ") {
				t.Errorf("exit %d, %q; want 2 and %q", code, errOut, tc.want)
			}
			if strings.Contains(out+errOut, short) || strings.Contains(out+errOut, good) {
				t.Errorf("a key was printed: %s%s", out, errOut)
			}
			if _, err := os.Stat(dir); err == nil {
				t.Errorf("a failed start made %s", dir)
			}
		})
	}
}

// postgresDSN is a new PostgreSQL database, dropped at the test's end;
// the test is skipped without GREENMINT_TEST_POSTGRES_DSN.
func postgresDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv(greenminttest.PostgresDSNEnv)
	if dsn == "" {
		t.Skipf("set %s to run greenmint serve on PostgreSQL", greenminttest.PostgresDSNEnv)
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	name := fmt.Sprintf("greenmint_serve_%d", time.Now().UnixNano())
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)") })
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// On PostgreSQL, with the KEK from the environment and --json: the start
// prints one JSON document (URL, logins) and logs JSON lines; the seeded
// users log in; nothing of the database or the KEK is kept in the data
// directory; a second start seeds nothing.
func TestServeOnPostgreSQL(t *testing.T) {
	clearServeEnv(t)
	dsn := postgresDSN(t)
	dir := filepath.Join(t.TempDir(), "data")
	t.Setenv("GREENMINT_KEK", "k1:"+base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32)))
	t.Setenv("GREENMINT_DB", dsn)
	for start := 1; start <= 2; start++ {
		s := startServe(t, nil, "--dir", dir, "--no-simulator", "--json")
		b := s.banner
		if b.Docs != s.url+"/docs" || b.OpenAPI != s.url+"/openapi.json" || !strings.HasPrefix(b.Database, "postgres ") || len(b.Logins) != 5 ||
			b.Created != (start == 1) || (len(b.Seeded) == 5) != (start == 1) {
			t.Fatalf("start %d: banner %+v", start, b)
		}
		for _, l := range b.Logins {
			s.login(workspace.SeedLogin{Login: l.Login, Org: l.Org, Role: l.Role, Password: l.Password})
		}
		if code, raw := s.call(http.MethodGet, "/readyz", "", nil); code != http.StatusOK {
			t.Fatalf("GET /readyz = %d %s", code, raw)
		}
		if code := s.stop(); code != 0 {
			t.Fatalf("start %d exited %d:\n%s", start, code, s.errOut.String())
		}
		for _, line := range strings.Split(strings.TrimSpace(s.errOut.String()), "\n") {
			if line != "" && !json.Valid([]byte(line)) {
				t.Errorf("serve --json logged a line that is not JSON: %q", line)
			}
		}
	}
	for _, f := range []string{kekFile, defaultDB} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("serve with its KEK and database given made %s", f)
		}
	}
}

// On the Fabric network make test-fabric started (GREENMINT_FABRIC_DIR):
// the first admins are seeded, their passwords are not printed (only
// where they are kept), each logs in and is itself, and the gateway is
// ready; a second start seeds nothing.
func TestServeOnFabric(t *testing.T) {
	fabricDir := os.Getenv("GREENMINT_FABRIC_DIR")
	if fabricDir == "" {
		t.Skip("GREENMINT_FABRIC_DIR is not set: make test-fabric runs greenmint serve on a Fabric network")
	}
	clearServeEnv(t)
	dir := filepath.Join(t.TempDir(), "data")
	kek := "k1:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{5}, 32))
	for start := 1; start <= 2; start++ {
		s := startServe(t, nil, "--dir", dir, "--ledger", "fabric", "--connection", filepath.Join(fabricDir, "connection.json"), "--kek", kek)
		out := s.out.String()
		logins := seededLogins(t, dir)
		if strings.Contains(out, "Seeded") != (start == 1) || !strings.Contains(out, "first admins' passwords are in") || strings.Contains(out, "simulator") {
			t.Errorf("start %d printed:\n%s", start, out)
		}
		for _, l := range logins {
			if strings.Contains(out, l.Password) {
				t.Errorf("the password of %s is printed on Fabric", l.Login)
			}
			s.login(l)
		}
		if code, raw := s.call(http.MethodGet, "/readyz", "", nil); code != http.StatusOK {
			t.Fatalf("GET /readyz = %d %s", code, raw)
		}
		if code := s.stop(); code != 0 {
			t.Fatalf("start %d exited %d:\n%s", start, code, s.errOut.String())
		}
	}
}
