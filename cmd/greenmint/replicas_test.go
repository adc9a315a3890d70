package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/internal/store"
	"github.com/greenmint/greenmint/workspace"
)

// startReplica runs the greenmint binary bin as `serve` with args and env
// (its only GREENMINT_ variables) in a process of its own, and waits until
// it listens. Its stop kills it (SIGKILL) and reports -1.
func startReplica(t *testing.T, bin string, env []string, args ...string) (*served, *exec.Cmd) {
	t.Helper()
	s := &served{t: t, out: &syncBuffer{}, errOut: &syncBuffer{}, client: &http.Client{Timeout: 60 * time.Second}}
	cmd := exec.Command(bin, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = s.out, s.errOut
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	s.stop = func() int {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
		return -1
	}
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("replica %s logged:\n%s", s.url, s.errOut.String())
		}
	})
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if m := listening.FindStringSubmatch(s.out.String()); m != nil && strings.Contains(s.out.String(), "next start reuses") {
			s.url = m[1]
			return s, cmd
		}
		select {
		case <-exited:
			t.Fatalf("serve exited before listening:\n%s\n%s", s.out.String(), s.errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s\n%s", s.out.String(), s.errOut.String())
		}
	}
}

// send sends a request with a bearer token and, if key is not empty, an
// Idempotency-Key; it returns the status, the Idempotent-Replayed header
// and the body.
func (s *served) send(method, path, token, key string, body any) (int, string, []byte) {
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
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	res, err := s.client.Do(req)
	if err != nil {
		return 0, "", []byte(err.Error())
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Idempotent-Replayed"), raw
}

// allSites lists every site the token's user sees, page after page, as
// one JSON array of the pages' items.
func (s *served) allSites(token string) []byte {
	s.t.Helper()
	var all []json.RawMessage
	for cursor := ""; ; {
		code, raw := s.call(http.MethodGet, "/v1/sites?limit=100&cursor="+cursor, token, nil)
		var page struct {
			Items      []json.RawMessage `json:"items"`
			NextCursor string            `json:"next_cursor"`
		}
		if code != http.StatusOK || json.Unmarshal(raw, &page) != nil {
			s.t.Fatalf("GET /v1/sites = %d %s", code, raw)
		}
		all = append(all, page.Items...)
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	out, _ := json.Marshal(all)
	return out
}

// replicaEnv is the test's environment without any GREENMINT_ variable,
// with the KEK and the database given as serve reads them.
func replicaEnv(kek, dsn string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, envPrefix) {
			env = append(env, kv)
		}
	}
	return append(env, envName("kek")+"="+kek, envName("db")+"="+dsn)
}

// siteBody is a site registration with a fresh ID (at most 16 of A-Z0-9).
func siteBody(run string, i int) map[string]any {
	return map[string]any{"site_id": fmt.Sprintf("R%s%04d", run, i), "name": "replica site", "country": "ES", "grid_region": "ES",
		"latitude_microdeg": 37050000, "longitude_microdeg": -2390000, "capacity_w": 2000000,
		"fleet": map[string]any{"hashrate_ths": 40000, "efficiency_mj_per_th": 17500}}
}

// txOf reads a write's transaction ID.
func txOf(t *testing.T, raw []byte) string {
	t.Helper()
	var w struct {
		TxID string `json:"tx_id"`
	}
	if err := json.Unmarshal(raw, &w); err != nil || w.TxID == "" {
		t.Fatalf("a write answered %s", raw)
	}
	return w.TxID
}

// Two greenmint serve processes on one PostgreSQL database and one Fabric
// network answer the same: a token from one works on the other, a refresh
// token is spent on both at once, an API key made on one works on the
// other, an Idempotency-Key used on one replays on the other, and their
// lists agree. One leads (runs the projector), the other follows. The
// leader is killed (SIGKILL) while writes go on through the other, which
// takes over the projector within seconds; once it has caught up, the read
// model's events equal the ledger's, transaction by transaction, with
// every write's once.
func TestReplicasOnFabric(t *testing.T) {
	fabricDir := os.Getenv("GREENMINT_FABRIC_DIR")
	if fabricDir == "" || os.Getenv(greenminttest.PostgresDSNEnv) == "" {
		t.Skipf("GREENMINT_FABRIC_DIR and %s are both needed: make test-fabric with PostgreSQL runs two replicas on one Fabric network and one database", greenminttest.PostgresDSNEnv)
	}
	ctx := context.Background()
	dsn := postgresDSN(t)
	bin := filepath.Join(t.TempDir(), "greenmint")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	conn := filepath.Join(fabricDir, "connection.json")
	env := replicaEnv("k1:"+base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)), dsn)
	dirA, dirB := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	// Replicas behind one address have one public URL: the tokens' issuer.
	fabricArgs := []string{"--ledger", "fabric", "--connection", conn, "--public-url", "https://gateway.example"}

	a, procA := startReplica(t, bin, env, append([]string{"--dir", dirA}, fabricArgs...)...)
	a.waitLog("leader: this replica leads", 30*time.Second)
	// The first start seeds the first admins; a replica gets their
	// logins file rather than planning other passwords (docs/replicas.md).
	raw, err := os.ReadFile(filepath.Join(dirA, loginsFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := workspace.WriteSecretFile(filepath.Join(dirB, loginsFile), raw); err != nil {
		t.Fatal(err)
	}
	b, _ := startReplica(t, bin, env, append([]string{"--dir", dirB}, fabricArgs...)...)
	b.waitLog("leader: following", 30*time.Second)
	if strings.Contains(b.out.String(), "Seeded") {
		t.Errorf("the second replica seeded users:\n%s", b.out.String())
	}

	// The same users, tokens and keys.
	var miner workspace.SeedLogin
	for _, l := range seededLogins(t, dirA) {
		if l.Role == greenmint.RoleMiner {
			miner = l
		}
	}
	code, _, raw := a.send(http.MethodPost, "/v1/auth/login", "", "", map[string]string{"login": miner.Login, "password": miner.Password})
	var sess struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if code != http.StatusOK || json.Unmarshal(raw, &sess) != nil || sess.AccessToken == "" || sess.RefreshToken == "" {
		t.Fatalf("login on A = %d %s", code, raw)
	}
	token := sess.AccessToken
	codeA, meA := a.call(http.MethodGet, "/v1/me", token, nil)
	codeB, meB := b.call(http.MethodGet, "/v1/me", token, nil)
	if codeA != http.StatusOK || codeB != http.StatusOK || !bytes.Equal(meA, meB) {
		t.Fatalf("GET /v1/me with A's token: A %d %s, B %d %s", codeA, meA, codeB, meB)
	}
	if code, _, raw := b.send(http.MethodPost, "/v1/auth/refresh", "", "", map[string]string{"refresh_token": sess.RefreshToken}); code != http.StatusOK {
		t.Fatalf("refresh on B with A's refresh token = %d %s", code, raw)
	}
	if code, _, raw := a.send(http.MethodPost, "/v1/auth/refresh", "", "", map[string]string{"refresh_token": sess.RefreshToken}); code != http.StatusUnauthorized {
		t.Fatalf("the refresh token spent on B, again on A = %d %s, want 401", code, raw)
	}
	code, _, raw = a.send(http.MethodPost, "/v1/api-keys", token, "", map[string]any{"name": "replica key", "scopes": []string{"ledger:read"}})
	var key struct {
		Key string `json:"key"`
	}
	if code/100 != 2 || json.Unmarshal(raw, &key) != nil || key.Key == "" {
		t.Fatalf("POST /v1/api-keys on A = %d %s", code, raw)
	}
	if code, raw := b.call(http.MethodGet, "/v1/sites", key.Key, nil); code != http.StatusOK {
		t.Fatalf("GET /v1/sites on B with A's API key = %d %s", code, raw)
	}

	// An Idempotency-Key used on A replays on B.
	run := fmt.Sprintf("%X", time.Now().UnixNano()&0xffffffffff)
	codeA, replayedA, first := a.send(http.MethodPost, "/v1/sites", token, "replicas-"+run, siteBody(run, 0))
	codeB, replayedB, again := b.send(http.MethodPost, "/v1/sites", token, "replicas-"+run, siteBody(run, 0))
	if codeA/100 != 2 || replayedA != "" || codeB != codeA || replayedB != "true" || !bytes.Equal(first, again) {
		t.Fatalf("the same Idempotency-Key: on A %d %q %s; on B %d %q %s", codeA, replayedA, first, codeB, replayedB, again)
	}
	writes := []string{txOf(t, first)}

	// Both lists agree once both read models have the write.
	siteID := siteBody(run, 0)["site_id"].(string)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		listA, listB := a.allSites(token), b.allSites(token)
		if bytes.Equal(listA, listB) && bytes.Contains(listA, []byte(`"`+siteID+`"`)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replicas' site lists differ or lack %s:\nA %s\nB %s", siteID, listA, listB)
		}
	}

	// Writes go on through B; the leader is killed.
	var mu sync.Mutex
	stopWrites := make(chan struct{})
	writing := make(chan struct{})
	go func() {
		defer close(writing)
		for i := 1; ; i++ {
			select {
			case <-stopWrites:
				return
			default:
			}
			code, _, raw := b.send(http.MethodPost, "/v1/sites", token, fmt.Sprintf("replicas-%s-%d", run, i), siteBody(run, i))
			if code/100 != 2 {
				t.Errorf("write %d through B = %d %s", i, code, raw)
				return
			}
			var w struct {
				TxID string `json:"tx_id"`
			}
			_ = json.Unmarshal(raw, &w)
			mu.Lock()
			writes = append(writes, w.TxID)
			mu.Unlock()
		}
	}()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(writes) }
	for deadline := time.Now().Add(60 * time.Second); count() < 4; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d writes through B in a minute", count())
		}
	}
	if strings.Contains(b.errOut.String(), "leader: this replica leads") || !strings.Contains(a.errOut.String(), "leader: this replica leads") {
		t.Fatalf("before the kill, B leads or A does not:\nA:\n%s\nB:\n%s", a.errOut.String(), b.errOut.String())
	}
	if err := syscall.Kill(procA.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed, atKill := time.Now(), count()
	b.waitLog("leader: this replica leads", 20*time.Second)
	tookOver := time.Since(killed)
	t.Logf("B took over the projector %s after A was killed", tookOver.Round(time.Millisecond))
	before := count()
	for deadline := time.Now().Add(60 * time.Second); count() < before+3; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("writes through B stalled after the takeover (%d)", count())
		}
	}
	close(stopWrites)
	<-writing
	if t.Failed() {
		return
	}

	// The dust settles: B's read model has every write, once, and its
	// events are the ledger's.
	db, err := store.Open(dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tx := range writes {
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			_, _, ok, err := db.ReadModelTxPosition(ctx, tx)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("write %s is not in the read model a minute after the takeover", tx)
			}
		}
	}
	type position struct {
		Block uint64
		TxID  string
	}
	var projected []position
	after, idx := int64(-1), int64(0)
	for {
		evs, err := db.ReadModelEvents(ctx, after, idx, store.MaxPageLimit)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			break
		}
		for _, e := range evs {
			projected = append(projected, position{e.Block, e.TxID})
		}
		last := evs[len(evs)-1]
		after, idx = int64(last.Block), last.Index
	}
	times := map[string]int{}
	for _, p := range projected {
		times[p.TxID]++
	}
	for _, tx := range writes {
		if times[tx] != 1 {
			t.Errorf("write %s is in the read model's events %d times, want once", tx, times[tx])
		}
	}
	for tx, n := range times {
		if n != 1 {
			t.Errorf("transaction %s is in the read model's events %d times", tx, n)
		}
	}
	w, err := workspace.Open(workspace.Config{Dir: t.TempDir(), Ledger: workspace.Fabric, Connection: conn})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ectx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	ch, err := w.Ledger.Events(ectx, 0)
	if err != nil {
		t.Fatal(err)
	}
	var onLedger []position
	lastTx := projected[len(projected)-1].TxID
	for ev := range ch {
		onLedger = append(onLedger, position{ev.BlockNumber, ev.TxID})
		if ev.TxID == lastTx {
			break
		}
	}
	if len(onLedger) != len(projected) {
		t.Fatalf("the read model has %d events, the ledger %d up to the same transaction", len(projected), len(onLedger))
	}
	for i := range onLedger {
		if onLedger[i] != projected[i] {
			t.Fatalf("event %d: the read model has %+v, the ledger %+v", i, projected[i], onLedger[i])
		}
	}
	t.Logf("%d writes, %d of them through B after A was killed (%d while B took over); the read model's %d events are the ledger's",
		len(writes), len(writes)-atKill, before-atKill, len(projected))
	if tookOver > 15*time.Second {
		t.Errorf("B took over %s after the leader was killed, want within 15 s", tookOver)
	}
}
