package api_test

import (
	"strings"
	"testing"

	"github.com/greenmint/greenmint/internal/greenminttest"
)

// TestBadValueIsNotEchoedWhole: a field's bad value of 500 kB is answered
// with a problem of a few hundred bytes, not another 500 kB.
func TestBadValueIsNotEchoedWhole(t *testing.T) {
	e := newGatewayEnv(t, greenminttest.StoreDBs(t)["sqlite"], envOptions{})
	huge := strings.Repeat("x", 500_000)
	r := e.do("POST", "/v1/sites", e.as("miner"), map[string]any{"site_id": huge, "name": "n", "country": "ES", "grid_region": "ES", "capacity_w": 1})
	p := e.problem(r, 400, "invalid")
	if len(r.Body) > 4096 || !strings.Contains(p.Detail, "site_id") {
		t.Fatalf("a %d-byte problem for a bad value: %.300s", len(r.Body), r.Body)
	}
}
