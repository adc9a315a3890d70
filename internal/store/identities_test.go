package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/internal/store"
)

// TestLedgerIdentities stores, replaces, re-seals and retires users' ledger
// identities on every database Greenmint ships: a second identity for a
// user is a conflict, an unknown user not_found, a replacement or re-seal
// of a row that changed meanwhile changes nothing, and a replaced
// certificate waits for revocation until marked revoked.
func TestLedgerIdentities(t *testing.T) {
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
			id := func(user, serial, kek string) store.LedgerIdentity {
				return store.LedgerIdentity{UserID: user, MSPID: "MinerMSP", Role: "miner", Certificate: []byte("cert " + serial),
					Serial: serial, KEKID: kek, SealedKey: []byte("sealed " + serial), EnrolledAt: t0}
			}
			for _, u := range []string{"a", "b", "c"} {
				if err := db.SaveLedgerIdentity(ctx, id(u, u+"1", "k1")); err != nil {
					t.Fatal(err)
				}
			}
			if err := db.SaveLedgerIdentity(ctx, id("a", "a9", "k1")); greenmint.ErrorCode(err) != greenmint.ECONFLICT {
				t.Fatalf("SaveLedgerIdentity(a again) = %v, want conflict", err)
			}
			if err := db.SaveLedgerIdentity(ctx, store.LedgerIdentity{UserID: "d"}); greenmint.ErrorCode(err) != greenmint.EINVALID {
				t.Fatalf("SaveLedgerIdentity(empty) = %v, want invalid", err)
			}
			if _, err := db.LedgerIdentity(ctx, "nobody"); greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
				t.Fatalf("LedgerIdentity(nobody) = %v, want not_found", err)
			}
			got, err := db.LedgerIdentity(ctx, "a")
			if err != nil || got.Serial != "a1" || string(got.SealedKey) != "sealed a1" || !got.EnrolledAt.Equal(t0) {
				t.Fatalf("LedgerIdentity(a) = %+v, %v", got, err)
			}

			if err := db.ReplaceLedgerIdentity(ctx, id("nobody", "n2", "k1"), "n1"); greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
				t.Fatalf("ReplaceLedgerIdentity(nobody) = %v, want not_found", err)
			}
			if err := db.ReplaceLedgerIdentity(ctx, id("a", "a2", "k2"), "stale"); greenmint.ErrorCode(err) != greenmint.ECONFLICT {
				t.Fatalf("ReplaceLedgerIdentity(a, stale serial) = %v, want conflict", err)
			}
			if err := db.ReplaceLedgerIdentity(ctx, id("a", "a2", "k2"), "a1"); err != nil {
				t.Fatal(err)
			}
			if got, _ := db.LedgerIdentity(ctx, "a"); got.Serial != "a2" || got.KEKID != "k2" {
				t.Fatalf("after replacement LedgerIdentity(a) = %+v", got)
			}
			retired, err := db.RetiredLedgerIdentities(ctx)
			if err != nil || len(retired) != 1 || retired[0].Serial != "a1" || retired[0].UserID != "a" || !retired[0].RevokedAt.IsZero() {
				t.Fatalf("RetiredLedgerIdentities = %+v, %v; want a1 pending", retired, err)
			}

			batch, err := db.LedgerIdentitiesNotUnder(ctx, "k2", "", 1)
			if err != nil || len(batch) != 1 || batch[0].UserID != "b" {
				t.Fatalf("LedgerIdentitiesNotUnder(k2, first 1) = %+v, %v; want b", batch, err)
			}
			batch, err = db.LedgerIdentitiesNotUnder(ctx, "k2", "b", 10)
			if err != nil || len(batch) != 1 || batch[0].UserID != "c" {
				t.Fatalf("LedgerIdentitiesNotUnder(k2, after b) = %+v, %v; want c", batch, err)
			}
			if ok, err := db.ResealLedgerIdentity(ctx, "b", "b1", "k2", "k3", []byte("x")); err != nil || ok {
				t.Fatalf("ResealLedgerIdentity(b from the wrong KEK) = %v, %v; want false", ok, err)
			}
			if ok, err := db.ResealLedgerIdentity(ctx, "b", "b1", "k1", "k2", []byte("resealed")); err != nil || !ok {
				t.Fatalf("ResealLedgerIdentity(b) = %v, %v; want true", ok, err)
			}
			counts, err := db.CountLedgerIdentitiesByKEK(ctx)
			if err != nil || len(counts) != 2 || counts["k1"] != 1 || counts["k2"] != 2 {
				t.Fatalf("CountLedgerIdentitiesByKEK = %v, %v; want k1: 1, k2: 2", counts, err)
			}
			if s, ok, err := db.LedgerIdentityUnder(ctx, "k1"); err != nil || !ok || s.UserID != "c" {
				t.Fatalf("LedgerIdentityUnder(k1) = %+v, %v, %v; want c", s, ok, err)
			}
			if _, ok, err := db.LedgerIdentityUnder(ctx, "k9"); err != nil || ok {
				t.Fatalf("LedgerIdentityUnder(k9) = %v, %v; want none", ok, err)
			}

			if err := db.MarkLedgerIdentityRevoked(ctx, "MinerMSP", "zz", t0); greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
				t.Fatalf("MarkLedgerIdentityRevoked(zz) = %v, want not_found", err)
			}
			for range 2 {
				if err := db.MarkLedgerIdentityRevoked(ctx, "MinerMSP", "a1", t0); err != nil {
					t.Fatal(err)
				}
			}
			if retired, err := db.RetiredLedgerIdentities(ctx); err != nil || len(retired) != 0 {
				t.Fatalf("RetiredLedgerIdentities after revocation = %+v, %v; want none", retired, err)
			}
		})
	}
}
