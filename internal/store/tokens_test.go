package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/greenminttest"
)

// TestTokens records, lists and revokes issued tokens on every database
// Greenmint ships: an unknown ID is not_found, an ID stored twice a
// conflict, a revocation sticks and revoking again keeps its first time.
func TestTokens(t *testing.T) {
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			t0 := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
			if err := db.SaveToken(ctx, "a1", "collector", "collector-1", t0, t0.Add(24*time.Hour)); err != nil {
				t.Fatal(err)
			}
			if err := db.SaveToken(ctx, "b2", "peer-oracle", "oracle-a", t0.Add(time.Minute), t0.Add(48*time.Hour)); err != nil {
				t.Fatal(err)
			}
			if err := db.SaveToken(ctx, "a1", "collector", "someone-else", t0, t0.Add(time.Hour)); greenmint.ErrorCode(err) != greenmint.ECONFLICT {
				t.Fatalf("SaveToken(a1 again) = %v, want conflict", err)
			}
			if err := db.SaveToken(ctx, "", "collector", "x", t0, t0); greenmint.ErrorCode(err) != greenmint.EINVALID {
				t.Fatalf("SaveToken(no ID) = %v, want invalid", err)
			}
			if revoked, err := db.TokenRevoked(ctx, "a1"); err != nil || revoked {
				t.Fatalf("TokenRevoked(a1) = %v, %v; want false", revoked, err)
			}
			if _, err := db.TokenRevoked(ctx, "nope"); greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
				t.Fatalf("TokenRevoked(nope) = %v, want not_found", err)
			}
			if err := db.RevokeToken(ctx, "a1", t0.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if err := db.RevokeToken(ctx, "a1", t0.Add(2*time.Hour)); err != nil {
				t.Fatalf("revoking again = %v", err)
			}
			if err := db.RevokeToken(ctx, "nope", t0); greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
				t.Fatalf("RevokeToken(nope) = %v, want not_found", err)
			}
			if revoked, err := db.TokenRevoked(ctx, "a1"); err != nil || !revoked {
				t.Fatalf("TokenRevoked(a1) after revoking = %v, %v; want true", revoked, err)
			}
			toks, err := db.Tokens(ctx)
			if err != nil || len(toks) != 2 {
				t.Fatalf("Tokens = %+v, %v", toks, err)
			}
			a, b := toks[0], toks[1]
			if a.ID != "a1" || a.Kind != "collector" || a.Subject != "collector-1" || !a.IssuedAt.Equal(t0) || !a.ExpiresAt.Equal(t0.Add(24*time.Hour)) || !a.RevokedAt.Equal(t0.Add(time.Hour)) {
				t.Fatalf("token a1 = %+v", a)
			}
			if b.ID != "b2" || b.Kind != "peer-oracle" || !b.RevokedAt.IsZero() {
				t.Fatalf("token b2 = %+v", b)
			}
		})
	}
}
