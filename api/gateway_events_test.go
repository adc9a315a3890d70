package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/api"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/internal/greenminttest"
)

// sseEvent is one Server-Sent Event as read off the wire.
type sseEvent struct {
	id, event string
	data      api.LedgerEvent
}

// openStream opens an event stream and returns its events as they come.
func (e *gatewayEnv) openStream(ctx context.Context, path, tok, lastID string) <-chan sseEvent {
	e.t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+path, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		e.t.Fatalf("GET %s = %d %s", path, res.StatusCode, res.Header.Get("Content-Type"))
	}
	out := make(chan sseEvent, 100)
	go func() {
		defer close(out)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		var cur sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				cur.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				cur.event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				if cur.event == "ledger" {
					_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &cur.data)
				}
			case line == "":
				if cur.event == "ledger" {
					out <- cur
				}
				cur = sseEvent{}
			}
		}
	}()
	return out
}

// next waits for the next event of a stream whose type is want, skipping
// others; it fails after a deadline.
func next(t *testing.T, ch <-chan sseEvent, want string) sseEvent {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("the stream ended before a %s event", want)
			}
			if ev.data.Type == want {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %s event within 10 s", want)
		}
	}
}

// TestEventStreams: the public stream tells mints and retirements and
// nothing private; an organisation's stream tells what touches its data
// and not another's; a stream resumed with Last-Event-ID starts after it.
func TestEventStreams(t *testing.T) {
	e := newGatewayEnv(t, greenminttest.StoreDBs(t)["sqlite"], envOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	public := e.openStream(ctx, "/v1/public/events", "", "")
	buyer := e.openStream(ctx, "/v1/events", e.as("buyer"), "")
	other := e.openStream(ctx, "/v1/events", e.as("miner2"), "")

	sa, err := e.net.Attest(e.net.Site, greenmint.CO2E, greenminttest.DemoWeek, greenminttest.OracleAID, greenminttest.OracleBID)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.net.Mint(ctx, sa)
	if err != nil {
		t.Fatal(err)
	}
	mint := next(t, public, greenmint.TxMint)
	if mint.data.Block == 0 || mint.id == "" || !contains(mint.data.Objects, "batch/"+res.BatchID) {
		t.Fatalf("mint event %+v", mint)
	}
	e.call("POST", "/v1/account", e.as("buyer"), nil, 200, nil)
	var tr api.Written[greenmint.Holding]
	e.call("POST", "/v1/transfers", e.as("miner"), map[string]any{"batch_id": res.BatchID, "to": consortium.BuyerMSP, "quantity": 1000}, 200, &tr)
	got := next(t, buyer, greenmint.TxTransfer)
	if got.data.TxID != tr.TxID || !contains(got.data.Objects, "holding/"+consortium.BuyerMSP+"/"+res.BatchID) || contains(got.data.Objects, "holding/"+consortium.MinerMSP+"/"+res.BatchID) {
		t.Fatalf("the buyer's transfer event %+v", got.data)
	}
	var st api.Written[greenmint.RetirementStatement]
	e.call("POST", "/v1/retirements", e.as("buyer"), map[string]any{"parts": []map[string]any{{"batch_id": res.BatchID, "quantity": 10}},
		"beneficiary": "B", "jurisdiction": "DE", "purpose": "other", "reporting_year": 2023, "reason": "r"}, 200, &st)
	retired := next(t, public, greenmint.TxRetire)
	if retired.data.TxID != st.TxID {
		t.Fatalf("public retirement event %+v, want tx %s", retired.data, st.TxID)
	}
	// The public stream said nothing of the transfer; miner2 heard nothing of
	// either organisation's business.
	for _, ch := range []<-chan sseEvent{public, other} {
		select {
		case ev := <-ch:
			if ch == other || ev.data.Type == greenmint.TxTransfer {
				t.Fatalf("a stream told an event it should not: %+v", ev.data)
			}
		case <-time.After(300 * time.Millisecond):
		}
	}
	// Resumed after the mint, the public stream starts with the retirement.
	resumed := e.openStream(ctx, "/v1/public/events", "", mint.id)
	if ev := next(t, resumed, greenmint.TxRetire); ev.data.TxID != st.TxID {
		t.Fatalf("resumed stream told %+v first", ev.data)
	}
	// A resume position that does not parse is a problem, not a stream.
	for _, bad := range []string{"/v1/public/events?after=x-1", "/v1/public/events?after=-5"} {
		e.problem(e.do("GET", bad, "", nil), 400, greenmint.EINVALID)
	}
	e.problem(e.do("GET", "/v1/events", e.as("buyer"), nil, "Last-Event-ID", "yesterday"), 400, greenmint.EINVALID)
	// An anonymous caller cannot open an organisation's stream.
	e.problem(e.do("GET", "/v1/events", "", nil), 401, greenmint.EUNAUTHENTICATED)
}
