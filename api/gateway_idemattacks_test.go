package api_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/api"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/simulate"
)

// TestIdempotencyKeyAttacks replays, reuses and races Idempotency-Keys:
// a replay answers the first answer byte for byte with Idempotent-Replayed:
// true and changes nothing; the same key with another body or route is
// 422 and changes nothing; of concurrent duplicates exactly one runs and
// the others get 409 or the replay; a refused first answer is replayed as
// refused; keys over 128 characters or not printable ASCII are 400; the
// same key of another user is another key (at the gateway and at the
// contract, R10); GETs and /v1/auth ignore keys.
func TestIdempotencyKeyAttacks(t *testing.T) {
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) { idempotencyAttacks(t, newGatewayEnv(t, db, envOptions{})) })
	}
}

func idempotencyAttacks(t *testing.T, e *gatewayEnv) {
	b := e.mintForMiner(greenminttest.Period{Start: greenminttest.DemoWeek.Start, Hours: 24})
	// The gateway has no route that opens an account (a buyer's opens with
	// its first reservation): open the buyer's on the ledger.
	if _, err := greenmint.SubmitJSON(context.Background(), e.net.Ledger, e.net.Buyer, greenmint.TxOpenAccount, greenmint.OpenAccountRequest{}, nil); err != nil {
		t.Fatal(err)
	}
	tradable := func() int64 {
		e.settle()
		var hs api.List[greenmint.Holding]
		e.call("GET", "/v1/holdings?batch_id="+b.BatchID, e.as("miner"), nil, 200, &hs)
		if len(hs.Items) != 1 {
			t.Fatalf("the miner's holdings of %s: %+v", b.BatchID, hs.Items)
		}
		return hs.Items[0].Tradable
	}
	transfer := func(q int64) map[string]any {
		return map[string]any{"batch_id": b.BatchID, "to": consortium.BuyerMSP, "quantity": q}
	}

	// A replay answers the first answer and runs nothing.
	held := tradable()
	first := e.call("POST", "/v1/transfers", e.as("miner"), transfer(3), 200, nil, "Idempotency-Key", "tr-1")
	if first.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("a first request answered Idempotent-Replayed: %q", first.Header.Get("Idempotent-Replayed"))
	}
	before := e.state()
	for i := 0; i < 3; i++ {
		again := e.call("POST", "/v1/transfers", e.as("miner"), transfer(3), 200, nil, "Idempotency-Key", "tr-1")
		if again.Header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(again.Body, first.Body) || again.Header.Get("Content-Type") != first.Header.Get("Content-Type") {
			t.Fatalf("replay %d answered %v %s, want %s again", i, again.Header, again.Body, first.Body)
		}
	}
	e.unchanged(before, "replays")
	if got := tradable(); got != held-3 {
		t.Fatalf("after a transfer of 3 and its replays the miner holds %d, want %d", got, held-3)
	}

	// The same key with another body, route or method: 422, nothing runs.
	for _, tc := range []struct {
		name, method, path string
		body               any
	}{
		{"another quantity", "POST", "/v1/transfers", transfer(4)},
		{"another receiver", "POST", "/v1/transfers", map[string]any{"batch_id": b.BatchID, "to": consortium.Miner2MSP, "quantity": 3}},
		{"the same fields in another order", "POST", "/v1/transfers", `{"quantity": 3, "to": "` + consortium.BuyerMSP + `", "batch_id": "` + b.BatchID + `"}`},
		{"another route", "POST", "/v1/listings", map[string]any{"batch_id": b.BatchID, "quantity": 3, "price_minor": 1, "currency": "EUR"}},
		{"a query string", "POST", "/v1/transfers?x=1", transfer(3)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			p := e.problem(e.do(tc.method, tc.path, e.as("miner"), tc.body, "Idempotency-Key", "tr-1"), 422, greenmint.EINVALID)
			if !strings.Contains(p.Detail, "tr-1") {
				t.Errorf("the problem %q does not name the key", p.Detail)
			}
		})
	}
	e.t = t
	e.unchanged(before, "the same key with other requests")

	// A refused first answer is kept and replayed as refused.
	nothing := map[string]any{"batch_id": "CO2E-ES-SITE0042-20990101-0001", "to": consortium.BuyerMSP, "quantity": 1}
	refused := e.do("POST", "/v1/transfers", e.as("miner"), nothing, "Idempotency-Key", "tr-refused")
	e.problem(refused, 404, greenmint.ENOTFOUND)
	replayed := e.do("POST", "/v1/transfers", e.as("miner"), nothing, "Idempotency-Key", "tr-refused")
	if replayed.Status != 404 || replayed.Header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(replayed.Body, refused.Body) {
		t.Fatalf("a refused request's replay answered %d %v %s", replayed.Status, replayed.Header, replayed.Body)
	}

	// Concurrent duplicates: exactly one runs.
	before = e.state()
	held = tradable()
	const n = 8
	type answer struct {
		status   int
		replayed string
		body     []byte
	}
	answers := make([]answer, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			req, _ := http.NewRequest("POST", e.srv.URL+"/v1/transfers", strings.NewReader(marshal(transfer(5))))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+e.as("miner"))
			req.Header.Set("Idempotency-Key", "tr-race")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer res.Body.Close()
			raw, _ := io.ReadAll(res.Body)
			answers[i] = answer{res.StatusCode, res.Header.Get("Idempotent-Replayed"), raw}
		}()
	}
	close(start)
	wg.Wait()
	var ran []answer
	for _, a := range answers {
		switch {
		case a.status == 200 && a.replayed == "":
			ran = append(ran, a)
		case a.status == 200 && a.replayed == "true", a.status == 409:
		default:
			t.Fatalf("a concurrent duplicate answered %d %s", a.status, a.body)
		}
	}
	if len(ran) != 1 {
		t.Fatalf("%d of %d concurrent duplicates ran: %+v", len(ran), n, answers)
	}
	for _, a := range answers {
		if a.replayed == "true" && !bytes.Equal(a.body, ran[0].body) {
			t.Fatalf("a replay answered %s, the run %s", a.body, ran[0].body)
		}
	}
	if after := e.net.Ledger.Height(); after != before.Height+1 {
		t.Fatalf("concurrent duplicates added %d blocks, want 1", after-before.Height)
	}
	if got := tradable(); got != held-5 {
		t.Fatalf("after concurrent duplicates of a transfer of 5 the miner holds %d, want %d", got, held-5)
	}

	// Malformed keys: 400, nothing runs.
	before = e.state()
	for _, tc := range []struct{ name, key string }{
		{"129 characters", strings.Repeat("k", 129)},
		{"1000 characters", strings.Repeat("k", 1000)},
		{"not ASCII", "clé-1"},
		{"a tab", "a\tb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			e.problem(e.do("POST", "/v1/transfers", e.as("miner"), transfer(1), "Idempotency-Key", tc.key), 400, greenmint.EINVALID)
		})
	}
	e.t = t
	e.unchanged(before, "malformed keys")
	e.call("POST", "/v1/transfers", e.as("miner"), transfer(1), 200, nil, "Idempotency-Key", strings.Repeat("k", 128))

	// Another user's same key is another key, at the gateway and at the
	// contract: each registers its own site.
	var sites []string
	for i, who := range []string{"miner", "miner2"} {
		s, err := simulate.NewSite([]string{"SITE0401", "SITE0402"}[i])
		if err != nil {
			t.Fatal(err)
		}
		var w api.Written[greenmint.Site]
		r := e.call("POST", "/v1/sites", e.as(who), s.Registration().Sites[0], 200, &w, "Idempotency-Key", "shared-key")
		if r.Header.Get("Idempotent-Replayed") != "" || w.Result.ID != s.ID || w.Result.Owner != orgOf(who) {
			t.Fatalf("%s's site with a key another user used: %v %+v", who, r.Header, w.Result)
		}
		sites = append(sites, w.TxID)
	}
	if sites[0] == sites[1] {
		t.Fatalf("two users' writes with one key share transaction %s", sites[0])
	}
	// The same key and body from two users: two API keys.
	var k1, k2 api.APIKeyView
	r1 := e.call("POST", "/v1/api-keys", e.as("miner"), map[string]any{"name": "twin", "scopes": []string{"ledger:read"}}, 200, &k1, "Idempotency-Key", "twin")
	r2 := e.call("POST", "/v1/api-keys", e.as("miner2"), map[string]any{"name": "twin", "scopes": []string{"ledger:read"}}, 200, &k2, "Idempotency-Key", "twin")
	if r1.Header.Get("Idempotent-Replayed") != "" || r2.Header.Get("Idempotent-Replayed") != "" || k1.ID == k2.ID || k1.Org == k2.Org {
		t.Fatalf("one key from two users made %+v and %+v", k1, k2)
	}
	// An API key is a user of its own: its keys are not its creator's.
	key := e.apiKey("miner", "certificates:write").Key
	r := e.call("POST", "/v1/transfers", key, transfer(2), 200, nil, "Idempotency-Key", "tr-1")
	if r.Header.Get("Idempotent-Replayed") != "" || bytes.Equal(r.Body, first.Body) {
		t.Fatalf("an API key's write with its creator's key answered %v %s", r.Header, r.Body)
	}

	// GETs and the auth routes ignore keys.
	g := e.call("GET", "/v1/me", e.as("miner"), nil, 200, nil, "Idempotency-Key", "tr-1")
	if g.Header.Get("Idempotent-Replayed") != "" {
		t.Fatal("a GET was answered as a replay")
	}
	var l1, l2 api.SessionView
	e.call("POST", "/v1/auth/login", "", map[string]any{"login": "miner", "password": testPassword}, 200, &l1, "Idempotency-Key", "login")
	e.call("POST", "/v1/auth/login", "", map[string]any{"login": "miner", "password": testPassword}, 200, &l2, "Idempotency-Key", "login")
	if l1.RefreshToken == l2.RefreshToken {
		t.Fatal("a login was replayed: two sessions share a refresh token")
	}
}
