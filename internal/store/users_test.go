package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/internal/store"
)

// TestUsersStore holds what the store itself guarantees for package auth
// on every database Greenmint ships: logins are unique, an invitation is
// accepted once and never after it expires, a refresh token rotates once,
// a family is revoked whole, the current signing key cannot be dropped,
// and an API key's last use is written at most once per interval.
func TestUsersStore(t *testing.T) {
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
			u := store.User{ID: "usr_1", Login: "mia", Org: "MinerMSP", Role: "miner", Admin: true, PasswordHash: "$argon2id$x", CreatedAt: t0}
			if err := db.CreateUser(ctx, u); err != nil {
				t.Fatal(err)
			}
			dup := u
			dup.ID = "usr_2"
			if err := db.CreateUser(ctx, dup); greenmint.ErrorCode(err) != greenmint.ECONFLICT {
				t.Fatalf("CreateUser(taken login) = %v, want conflict", err)
			}
			if got, err := db.UserByLogin(ctx, "mia"); err != nil || got != u {
				t.Fatalf("UserByLogin = %+v, %v; want %+v", got, err, u)
			}
			if _, err := db.UserByID(ctx, "usr_2"); greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
				t.Fatalf("UserByID(unknown) = %v", err)
			}

			inv := store.Invitation{SecretHash: "h1", Login: "newbie", Org: "MinerMSP", Role: "miner", InvitedBy: "usr_1", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
			if err := db.SaveInvitation(ctx, inv); err != nil {
				t.Fatal(err)
			}
			nu := store.User{ID: "usr_3", Login: "newbie", Org: "MinerMSP", Role: "miner", PasswordHash: "$argon2id$y", CreatedAt: t0}
			late := nu
			late.ID = "usr_late"
			if err := db.AcceptInvitation(ctx, "h1", t0.Add(time.Hour), late); greenmint.ErrorCode(err) != greenmint.ECONFLICT {
				t.Fatalf("AcceptInvitation(expired) = %v, want conflict", err)
			}
			if err := db.AcceptInvitation(ctx, "h1", t0.Add(time.Minute), nu); err != nil {
				t.Fatal(err)
			}
			again := nu
			again.ID, again.Login = "usr_4", "newbie2"
			if err := db.AcceptInvitation(ctx, "h1", t0.Add(2*time.Minute), again); greenmint.ErrorCode(err) != greenmint.ECONFLICT {
				t.Fatalf("AcceptInvitation(again) = %v, want conflict", err)
			}
			if _, err := db.UserByID(ctx, "usr_4"); greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
				t.Fatalf("a replayed invitation made a user: %v", err)
			}
			if err := db.AcceptInvitation(ctx, "nope", t0, again); greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
				t.Fatalf("AcceptInvitation(unknown) = %v, want not_found", err)
			}

			rt := store.RefreshToken{TokenHash: "r1", Family: "f1", UserID: "usr_1", IssuedAt: t0, ExpiresAt: t0.Add(24 * time.Hour)}
			if err := db.SaveRefreshToken(ctx, rt); err != nil {
				t.Fatal(err)
			}
			r2 := rt
			r2.TokenHash = "r2"
			if err := db.RotateRefreshToken(ctx, "r1", t0.Add(time.Minute), r2); err != nil {
				t.Fatal(err)
			}
			r3 := rt
			r3.TokenHash = "r3"
			if err := db.RotateRefreshToken(ctx, "r1", t0.Add(2*time.Minute), r3); greenmint.ErrorCode(err) != greenmint.ECONFLICT {
				t.Fatalf("RotateRefreshToken(used) = %v, want conflict", err)
			}
			if _, err := db.RefreshTokenByHash(ctx, "r3"); greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
				t.Fatalf("a refused rotation stored its successor: %v", err)
			}
			if err := db.RevokeRefreshFamily(ctx, "f1", t0.Add(3*time.Minute)); err != nil {
				t.Fatal(err)
			}
			for _, h := range []string{"r1", "r2"} {
				got, err := db.RefreshTokenByHash(ctx, h)
				if err != nil || !got.RevokedAt.Equal(t0.Add(3*time.Minute)) {
					t.Fatalf("RefreshTokenByHash(%s) after revoking the family = %+v, %v", h, got, err)
				}
			}

			if err := db.AddSigningKey(ctx, store.SigningKey{KID: "k1", Sealed: []byte{1, 2, 3}, CreatedAt: t0}); err != nil {
				t.Fatal(err)
			}
			if err := db.AddSigningKey(ctx, store.SigningKey{KID: "k2", Sealed: []byte{4, 5, 6}, CreatedAt: t0.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			keys, err := db.SigningKeys(ctx)
			if err != nil || len(keys) != 2 || keys[0].KID != "k2" || !keys[0].RetiredAt.IsZero() || !keys[1].RetiredAt.Equal(t0.Add(time.Hour)) || string(keys[1].Sealed) != "\x01\x02\x03" {
				t.Fatalf("SigningKeys = %+v, %v", keys, err)
			}
			if err := db.DeleteSigningKey(ctx, "k2"); greenmint.ErrorCode(err) != greenmint.ECONFLICT {
				t.Fatalf("DeleteSigningKey(current) = %v, want conflict", err)
			}
			if err := db.DeleteSigningKey(ctx, "k1"); err != nil {
				t.Fatal(err)
			}

			k := store.APIKey{ID: "a1", SecretHash: "s", Org: "MinerMSP", Name: "c", Scopes: []string{"ledger:read", "readings:write"}, CreatedBy: "usr_1", CreatedAt: t0}
			if err := db.SaveAPIKey(ctx, k); err != nil {
				t.Fatal(err)
			}
			for _, at := range []time.Duration{0, 30 * time.Second} {
				if err := db.TouchAPIKey(ctx, "a1", t0.Add(at), time.Minute); err != nil {
					t.Fatal(err)
				}
			}
			if got, err := db.APIKeyByID(ctx, "a1"); err != nil || !got.LastUsedAt.Equal(t0) || len(got.Scopes) != 2 {
				t.Fatalf("APIKeyByID after two uses 30 s apart = %+v, %v; want last use %v", got, err, t0)
			}
			if err := db.RevokeAPIKey(ctx, "zz", t0); greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
				t.Fatalf("RevokeAPIKey(unknown) = %v", err)
			}
		})
	}
}

// An organisation's users (login order) and API keys (oldest first, revoked
// ones too) are its own and no other's.
func TestByOrg(t *testing.T) {
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
			for i, u := range []struct{ id, login, org string }{
				{"usr_1", "zoe", "MinerMSP"}, {"usr_2", "ana", "MinerMSP"}, {"usr_3", "bob", "BuyerMSP"},
			} {
				if err := db.CreateUser(ctx, store.User{ID: u.id, Login: u.login, Org: u.org, Role: "miner", PasswordHash: "h", CreatedAt: t0.Add(time.Duration(i) * time.Second)}); err != nil {
					t.Fatal(err)
				}
			}
			for i, k := range []struct{ id, org string }{{"k2", "MinerMSP"}, {"k1", "MinerMSP"}, {"k3", "BuyerMSP"}} {
				if err := db.SaveAPIKey(ctx, store.APIKey{ID: k.id, SecretHash: "s", Org: k.org, Name: k.id, Scopes: []string{"ledger:read"}, CreatedBy: "usr_1", CreatedAt: t0.Add(time.Duration(i) * time.Second)}); err != nil {
					t.Fatal(err)
				}
			}
			if err := db.RevokeAPIKey(ctx, "k2", t0.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			var logins, keys []string
			us, err := db.UsersByOrg(ctx, "MinerMSP")
			for _, u := range us {
				logins = append(logins, u.Login)
			}
			if err != nil || !slices.Equal(logins, []string{"ana", "zoe"}) {
				t.Fatalf("UsersByOrg(MinerMSP) = %v, %v; want ana, zoe", logins, err)
			}
			ks, err := db.APIKeysByOrg(ctx, "MinerMSP")
			for _, k := range ks {
				keys = append(keys, k.ID)
			}
			if err != nil || !slices.Equal(keys, []string{"k2", "k1"}) || ks[0].RevokedAt.IsZero() || ks[1].Scopes[0] != "ledger:read" {
				t.Fatalf("APIKeysByOrg(MinerMSP) = %+v, %v; want k2 (revoked), k1", ks, err)
			}
			if us, err := db.UsersByOrg(ctx, "NobodyMSP"); err != nil || len(us) != 0 {
				t.Fatalf("UsersByOrg(NobodyMSP) = %v, %v", us, err)
			}
			if ks, err := db.APIKeysByOrg(ctx, "NobodyMSP"); err != nil || len(ks) != 0 {
				t.Fatalf("APIKeysByOrg(NobodyMSP) = %v, %v", ks, err)
			}
		})
	}
}
