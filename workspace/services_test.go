package workspace_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/keyring"
	"github.com/greenmint/greenmint/workspace"
)

// cheapPasswords keep argon2id fast in tests (the product's defaults cost
// 64 MiB a hash).
var cheapPasswords = &argon2id.Params{Memory: 8 * 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

func newKEK(tb testing.TB, id string) keyring.KEK {
	tb.Helper()
	k := keyring.KEK{ID: id, Key: make([]byte, keyring.KEKSize)}
	if _, err := rand.Read(k.Key); err != nil {
		tb.Fatal(err)
	}
	return k
}

// demoWorkspace is a bootstrapped workspace of the demo consortium.
func demoWorkspace(tb testing.TB) *workspace.Workspace {
	tb.Helper()
	w, err := workspace.Create(workspace.Config{Dir: filepath.Join(tb.TempDir(), "ws")}, consortium.Demo())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { w.Close() })
	if _, err := w.Bootstrap(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return w
}

// The derived auth KEK is 32 bytes, stable for a KEK, different from the
// KEK itself and from another KEK's.
func TestAuthKEK(t *testing.T) {
	k1, k2 := newKEK(t, "k1"), newKEK(t, "k2")
	a, err := workspace.AuthKEK(k1)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := workspace.AuthKEK(k1)
	other, _ := workspace.AuthKEK(k2)
	if len(a) != keyring.KEKSize || !bytes.Equal(a, again) || bytes.Equal(a, k1.Key) || bytes.Equal(a, other) {
		t.Fatalf("AuthKEK(k1) = %x (again %x), k1 %x, AuthKEK(k2) %x", a, again, k1.Key, other)
	}
}

// A first start seeds one user per role, each with a ledger identity
// sealed under the current KEK and a password kept in a 0600 file; a
// second start seeds nothing and the passwords still work. A KEK rotation
// (new KEK first, the old one after) re-seals every identity and replaces
// the token signing key; once the retired keys are dropped the new KEK
// alone opens everything, and a wrong KEK opens nothing.
func TestSeedUsersAndKEKRotation(t *testing.T) {
	ctx := context.Background()
	w := demoWorkspace(t)
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			k1, k2 := newKEK(t, "k1"), newKEK(t, "k2")
			opts := workspace.ServiceOptions{DB: db, PublicURL: "http://127.0.0.1:8080", KEKs: []keyring.KEK{k1}, PasswordParams: cheapPasswords}
			s, err := w.Services(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "logins.json")
			seeded, err := s.SeedUsers(ctx, w, path)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"registrar": consortium.RegistryMSP, "miner": consortium.MinerMSP, "buyer": consortium.BuyerMSP,
				"auditor": consortium.AuditorMSP, "oracle": consortium.OracleAMSP}
			if len(seeded.Created) != len(want) || len(seeded.Logins) != len(want) {
				t.Fatalf("SeedUsers = %+v, want %d users made", seeded, len(want))
			}
			if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("logins file: %v, %v; want mode 0600", fi, err)
			}
			for _, l := range seeded.Logins {
				if want[l.Login] != l.Org || l.Admin != (l.Role != greenmint.RoleOracle) || len(l.Password) < 20 {
					t.Errorf("seeded %+v", l)
				}
				u, err := s.Auth.Authenticate(ctx, l.Login, l.Password)
				if err != nil {
					t.Fatalf("Authenticate(%s) = %v", l.Login, err)
				}
				info, err := s.Keyring.Info(ctx, u.ID)
				if err != nil || info.MSPID != l.Org || info.Role != l.Role || info.KEKID != "k1" {
					t.Fatalf("ledger identity of %s = %+v, %v", l.Login, info, err)
				}
			}
			again, err := s.SeedUsers(ctx, w, path)
			if err != nil || len(again.Created) != 0 || again.Logins[0].Password != seeded.Logins[0].Password {
				t.Fatalf("a second SeedUsers = %+v, %v; want nothing made and the same passwords", again, err)
			}

			// Rotation: k2 current, k1 previous.
			opts.KEKs = []keyring.KEK{k2, k1}
			s2, err := w.Services(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			counts, err := db.CountLedgerIdentitiesByKEK(ctx)
			if err != nil || counts["k1"] != 0 || counts["k2"] < int64(len(want)) {
				t.Fatalf("identities by KEK after the rotation = %v, %v", counts, err)
			}
			if len(s2.RetiredSigningKeys) != 1 {
				t.Fatalf("retired signing keys = %v, want the one sealed under k1", s2.RetiredSigningKeys)
			}
			opts.KEKs = []keyring.KEK{k2}
			if _, err := w.Services(ctx, opts); greenmint.ErrorCode(err) != greenmint.EINTERNAL {
				t.Fatalf("k2 alone before the retired keys are dropped: %v, want internal", err)
			}
			s2.DropAfter = 0
			if err := s2.DropRetiredSigningKeys(ctx); err != nil {
				t.Fatal(err)
			}
			s3, err := w.Services(ctx, opts)
			if err != nil {
				t.Fatalf("k2 alone after the rotation: %v", err)
			}
			l := seeded.Logins[1]
			u, err := s3.Auth.Authenticate(ctx, l.Login, l.Password)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s3.Keyring.Identity(ctx, u.ID); err != nil {
				t.Fatalf("the identity of %s under k2: %v", l.Login, err)
			}
			opts.KEKs = []keyring.KEK{newKEK(t, "k2")}
			if _, err := w.Services(ctx, opts); greenmint.ErrorCode(err) != greenmint.EINTERNAL {
				t.Fatalf("a wrong KEK: %v, want internal", err)
			}
		})
	}
}

// A rolling KEK rotation over two replicas on one database: A, restarted
// first with the new KEK, makes a new token signing key; B, restarted
// next while the old key is not yet dropped, makes another. A verifies
// B's tokens once FollowSigningKeys has read B's key (before, it cannot).
func TestFollowSigningKeys(t *testing.T) {
	ctx := context.Background()
	w := demoWorkspace(t)
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			k1, k2 := newKEK(t, "k1"), newKEK(t, "k2")
			opts := workspace.ServiceOptions{DB: db, PublicURL: "https://gateway.example", KEKs: []keyring.KEK{k1}, PasswordParams: cheapPasswords}
			before, err := w.Services(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			seeded, err := before.SeedUsers(ctx, w, filepath.Join(t.TempDir(), "logins.json"))
			if err != nil {
				t.Fatal(err)
			}
			opts.KEKs = []keyring.KEK{k2, k1}
			a, err := w.Services(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			b, err := w.Services(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(a.RetiredSigningKeys) == 0 || len(b.RetiredSigningKeys) <= len(a.RetiredSigningKeys) {
				t.Fatalf("retired signing keys: A %v, B %v; want B to have made one more", a.RetiredSigningKeys, b.RetiredSigningKeys)
			}
			l := seeded.Logins[0]
			sess, err := b.Auth.Login(ctx, l.Login, l.Password)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := a.Auth.VerifyAccess(sess.AccessToken); err == nil {
				t.Fatal("A verifies a token of B's new key before reading it (the test proves nothing)")
			}
			fctx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { defer close(done); a.FollowSigningKeys(fctx, 50*time.Millisecond) }()
			defer func() { cancel(); <-done }()
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				if _, err := a.Auth.VerifyAccess(sess.AccessToken); err == nil {
					break
				} else if time.Now().After(deadline) {
					t.Fatalf("A still refuses B's token: %v", err)
				}
			}
		})
	}
}
