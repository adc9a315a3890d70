package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/api"
	"github.com/greenmint/greenmint/internal/greenminttest"
)

// TestUnadmittedOracleCannotDriveTheOracle: an organisation's admin can
// give a user the oracle role, but unless the registry admitted the
// organisation as an oracle (R11) that user can neither have the
// gateway's oracle attest another's site nor read its readings.
func TestUnadmittedOracleCannotDriveTheOracle(t *testing.T) {
	e := newGatewayEnv(t, greenminttest.StoreDBs(t)["sqlite"], envOptions{})
	var inv api.InvitationView
	e.call("POST", "/v1/invitations", e.as("miner2"), map[string]any{"login": "eve", "role": "oracle"}, 200, &inv)
	e.call("POST", "/v1/invitations/accept", "", map[string]any{"secret": inv.Secret, "password": testPassword}, 200, nil)
	var s api.SessionView
	e.call("POST", "/v1/auth/login", "", map[string]any{"login": "eve", "password": testPassword}, 200, &s)
	week := greenminttest.DemoWeek
	r := e.do("POST", "/v1/attestations", s.AccessToken, map[string]any{"site_id": e.net.Site.ID, "from": week.Start, "to": week.End()})
	e.problem(r, 403, greenmint.EFORBIDDEN)
	r = e.do("GET", fmt.Sprintf("/v1/sites/%s/matching?from=%s&to=%s", e.net.Site.ID, week.Start.Format(time.RFC3339), week.End().Format(time.RFC3339)), s.AccessToken, nil)
	e.problem(r, 403, greenmint.EFORBIDDEN)
	var batches api.List[greenmint.Batch]
	e.call("GET", "/v1/batches", e.as("auditor"), nil, 200, &batches)
	if len(batches.Items) != 0 {
		t.Fatalf("something was minted: %+v", batches.Items)
	}
}

// TestOldTokenCannotUndoARoleChange: after an admin changes a user's role,
// a write with an access token issued before is refused, and the user's
// ledger identity stays in the new role.
func TestOldTokenCannotUndoARoleChange(t *testing.T) {
	e := newGatewayEnv(t, greenminttest.StoreDBs(t)["sqlite"], envOptions{})
	var inv api.InvitationView
	e.call("POST", "/v1/invitations", e.as("auditor"), map[string]any{"login": "ada", "role": "auditor"}, 200, &inv)
	var ada api.UserView
	e.call("POST", "/v1/invitations/accept", "", map[string]any{"secret": inv.Secret, "password": testPassword}, 200, &ada)
	var s api.SessionView
	e.call("POST", "/v1/auth/login", "", map[string]any{"login": "ada", "password": testPassword}, 200, &s)
	e.call("PUT", "/v1/users/"+ada.ID+"/role", e.as("auditor"), map[string]any{"role": "buyer", "admin": false}, 200, nil)
	sa, err := e.net.Attest(e.net.Site, greenmint.CO2E, greenminttest.DemoWeek, greenminttest.OracleAID, greenminttest.OracleBID)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.net.Mint(context.Background(), sa)
	if err != nil {
		t.Fatal(err)
	}
	r := e.do("POST", "/v1/batches/"+res.BatchID+"/flags", s.AccessToken, map[string]any{"reason": "old token"})
	e.problem(r, 401, greenmint.EUNAUTHENTICATED)
	info, err := e.keyring.Info(context.Background(), ada.ID)
	if err != nil || info.Role != greenmint.RoleBuyer {
		t.Fatalf("ada's ledger identity is %+v (%v), want buyer", info, err)
	}
}

// TestEventStreamsAreCapped: one caller holds at most 4 streams at once;
// a fifth is 429 with Retry-After, and a place frees when a stream ends.
func TestEventStreamsAreCapped(t *testing.T) {
	e := newGatewayEnv(t, greenminttest.StoreDBs(t)["sqlite"], envOptions{})
	var cancels []context.CancelFunc
	for i := 0; i < 4; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		cancels = append(cancels, cancel)
		e.openStream(ctx, "/v1/public/events", "", "")
	}
	r := e.do("GET", "/v1/public/events", "", nil)
	e.problem(r, 429, greenmint.EUNAVAILABLE)
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	cancels[0]()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		ok := tryStream(ctx, e.srv.URL+"/v1/public/events")
		cancel()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no stream could open after one ended")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, c := range cancels[1:] {
		c()
	}
}

// tryStream reports whether a stream opens (200, text/event-stream).
func tryStream(ctx context.Context, url string) bool {
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer res.Body.Close()
	return res.StatusCode == 200 && strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream")
}
