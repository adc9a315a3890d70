package api_test

import (
	"context"
	"testing"
	"time"

	"github.com/greenmint/greenmint/api"
	"github.com/greenmint/greenmint/internal/greenminttest"
)

// TestPurgeExpiredIdempotencyKeys: a key whose time is up is forgotten, so
// the same key runs again (with a new body, too).
func TestPurgeExpiredIdempotencyKeys(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	e := newGatewayEnv(t, greenminttest.StoreDBs(t)["sqlite"], envOptions{now: func() time.Time { return clock() }})
	e.call("POST", "/v1/invitations", e.as("buyer"), map[string]any{"login": "ivy", "role": "buyer"}, 200, nil, "Idempotency-Key", "k1")
	r := e.do("POST", "/v1/invitations", e.as("buyer"), map[string]any{"login": "ivy2", "role": "buyer"}, "Idempotency-Key", "k1")
	e.problem(r, 422, "invalid")
	now = now.Add(25 * time.Hour)
	var s api.SessionView
	e.call("POST", "/v1/auth/login", "", map[string]any{"login": "buyer", "password": testPassword}, 200, &s)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.gw.PurgeExpired(ctx, time.Hour); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r = e.do("POST", "/v1/invitations", s.AccessToken, map[string]any{"login": "ivy2", "role": "buyer"}, "Idempotency-Key", "k1")
		if r.Status == 200 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	if r.Status != 200 {
		t.Fatalf("after the purge the key still answers %d %s", r.Status, r.Body)
	}
}
