package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/api"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/webhook"
)

// receiver records the signed POSTs it gets.
type receiver struct {
	mu   sync.Mutex
	got  []http.Header
	body [][]byte
	srv  *httptest.Server
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got, r.body = append(r.got, req.Header.Clone()), append(r.body, b)
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) wait(t *testing.T, n int) ([]http.Header, [][]byte) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		if len(r.got) >= n {
			h, b := append([]http.Header(nil), r.got...), append([][]byte(nil), r.body...)
			r.mu.Unlock()
			return h, b
		}
		r.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("fewer than %d webhooks arrived in 10 s", n)
	return nil, nil
}

// TestWebhooks: an organisation's admin subscribes; its transfer arrives
// signed (Standard Webhooks) and verifies with the secret shown once; the
// delivery is listed and replayed; another organisation's subscription
// hears nothing of it and cannot see the first's.
func TestWebhooks(t *testing.T) {
	e := newGatewayEnv(t, greenminttest.StoreDBs(t)["sqlite"], envOptions{})
	mine, theirs := newReceiver(t), newReceiver(t)
	var sub api.WebhookView
	e.call("POST", "/v1/webhooks", e.as("miner"), map[string]any{"url": mine.srv.URL + "/hooks", "functions": []string{"Transfer"}}, 200, &sub)
	if len(sub.Secret) < 10 || sub.Org != consortium.MinerMSP {
		t.Fatalf("subscription %+v", sub)
	}
	var other api.WebhookView
	e.call("POST", "/v1/webhooks", e.as("miner2"), map[string]any{"url": theirs.srv.URL}, 200, &other)
	e.problem(e.do("GET", "/v1/webhooks/"+sub.ID, e.as("miner2"), nil), 404, greenmint.ENOTFOUND)
	e.problem(e.do("POST", "/v1/webhooks", e.as("miner"), map[string]any{"url": "ftp://x"}), 400, greenmint.EINVALID)

	sa, err := e.net.Attest(e.net.Site, greenmint.CO2E, greenminttest.DemoWeek, greenminttest.OracleAID, greenminttest.OracleBID)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.net.Mint(t.Context(), sa)
	if err != nil {
		t.Fatal(err)
	}
	e.call("POST", "/v1/account", e.as("buyer"), nil, 200, nil)
	var tr api.Written[greenmint.Holding]
	e.call("POST", "/v1/transfers", e.as("miner"), map[string]any{"batch_id": res.BatchID, "to": consortium.BuyerMSP, "quantity": 77}, 200, &tr)
	hdrs, bodies := mine.wait(t, 1)
	if err := webhook.Verify(sub.Secret, hdrs[0], bodies[0], time.Minute); err != nil {
		t.Fatalf("the webhook does not verify with the subscription's secret: %v", err)
	}
	var ev struct {
		Type string `json:"type"`
		TxID string `json:"tx_id"`
	}
	if err := json.Unmarshal(bodies[0], &ev); err != nil || ev.Type != greenmint.TxTransfer || ev.TxID != tr.TxID {
		t.Fatalf("webhook body %s (%v)", bodies[0], err)
	}
	var ds api.List[api.DeliveryView]
	e.call("GET", "/v1/webhooks/"+sub.ID+"/deliveries", e.as("miner"), nil, 200, &ds)
	if len(ds.Items) != 1 || ds.Items[0].State != "delivered" || ds.Items[0].TxID != tr.TxID {
		t.Fatalf("deliveries %+v", ds.Items)
	}
	var replay api.DeliveryView
	e.call("POST", "/v1/webhooks/"+sub.ID+"/deliveries/"+itoa(ds.Items[0].ID)+"/replay", e.as("miner"), nil, 200, &replay)
	hdrs, _ = mine.wait(t, 2)
	if hdrs[1].Get("webhook-id") == hdrs[0].Get("webhook-id") || replay.ReplayOf != ds.Items[0].ID {
		t.Fatalf("the replay %+v came as %s after %s", replay, hdrs[1].Get("webhook-id"), hdrs[0].Get("webhook-id"))
	}
	theirs.mu.Lock()
	n := len(theirs.got)
	theirs.mu.Unlock()
	if n != 0 {
		t.Fatalf("miner2's subscription got %d webhooks of others' business", n)
	}
	var again api.WebhookView
	e.call("GET", "/v1/webhooks/"+sub.ID+"/secret", e.as("miner"), nil, 200, &again)
	if again.Secret != sub.Secret {
		t.Fatal("the secret shown again differs")
	}
	e.problem(e.do("GET", "/v1/webhooks/"+sub.ID+"/secret", e.as("miner2"), nil), 404, greenmint.ENOTFOUND)
	e.call("DELETE", "/v1/webhooks/"+sub.ID, e.as("miner"), nil, 200, nil)
	e.problem(e.do("GET", "/v1/webhooks", e.as("bea-nobody"), nil), 401, greenmint.EUNAUTHENTICATED)
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }
