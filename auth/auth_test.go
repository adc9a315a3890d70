package auth

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/store"
	"github.com/greenmint/greenmint/internal/store/storetest"
)

// clock is a settable time source for Config.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func testKEK(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func testConfig(c *clock) Config {
	return Config{Issuer: "https://greenmint.test", Audience: "greenmint-api", KEK: testKEK(1), RegistryOrg: "RegistryMSP", Now: c.Now}
}

// eachDB runs f on a fresh Service over every database Greenmint ships.
func eachDB(t *testing.T, f func(t *testing.T, db *store.DB, s *Service, c *clock)) {
	for name, db := range storetest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			c := &clock{t: t0}
			s, err := New(context.Background(), db, testConfig(c))
			if err != nil {
				t.Fatal(err)
			}
			f(t, db, s, c)
		})
	}
}

func mustUser(t *testing.T, s *Service, login, org string, role greenmint.Role, admin bool) User {
	t.Helper()
	u, err := s.CreateUser(context.Background(), NewUser{Login: login, Org: org, Role: role, Admin: admin, Password: "correct horse battery"})
	if err != nil {
		t.Fatalf("CreateUser(%s) = %v", login, err)
	}
	return u
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if greenmint.ErrorCode(err) != code {
		t.Fatalf("%s = %v, want %s", what, err, code)
	}
}

// sign signs claims with the Service's current key, after edit changes the
// header (nil: the header IssueAccess writes).
func sign(t *testing.T, s *Service, c jwt.MapClaims, edit func(h map[string]any)) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	tok.Header["kid"] = s.keys.current
	tok.Header["typ"] = AccessTokenType
	if edit != nil {
		edit(tok.Header)
	}
	out, err := tok.SignedString(s.keys.signer)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// jwksKey returns the public key the JWKS publishes under kid.
func jwksKey(t *testing.T, s *Service, kid string) ed25519.PublicKey {
	t.Helper()
	b, err := s.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatalf("JWKS %s: %v", b, err)
	}
	keys := set.Key(kid)
	if len(keys) != 1 {
		t.Fatalf("JWKS %s: %d keys named %q", b, len(keys), kid)
	}
	pub, ok := keys[0].Key.(ed25519.PublicKey)
	if !ok || keys[0].Algorithm != "EdDSA" || keys[0].Use != "sig" || !keys[0].IsPublic() {
		t.Fatalf("JWKS key %s = %+v", kid, keys[0])
	}
	return pub
}

// TestJWTAttacks holds VerifyAccess against every forged, stale or
// misdirected token: only the genuine one passes.
func TestJWTAttacks(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB, s *Service, c *clock) {
		u := mustUser(t, s, "mia", "MinerMSP", greenmint.RoleMiner, false)
		genuine, claims, err := s.IssueAccess(u)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.VerifyAccess(genuine); err != nil || got.Subject != u.ID || got.Org != "MinerMSP" || got.Role != "miner" || got.ID != claims.ID {
			t.Fatalf("VerifyAccess(genuine) = %+v, %v", got, err)
		}
		now := c.Now().Unix()
		base := func() jwt.MapClaims {
			return jwt.MapClaims{"iss": "https://greenmint.test", "aud": "greenmint-api", "sub": u.ID, "org": "MinerMSP", "role": "miner",
				"exp": now + 600, "nbf": now, "iat": now, "jti": "at_x"}
		}
		with := func(k string, v any) jwt.MapClaims { m := base(); m[k] = v; return m }
		without := func(k string) jwt.MapClaims { m := base(); delete(m, k); return m }
		pub := jwksKey(t, s, s.keys.current)

		none, err := func() (string, error) {
			tok := jwt.NewWithClaims(jwt.SigningMethodNone, base())
			tok.Header["kid"], tok.Header["typ"] = s.keys.current, AccessTokenType
			return tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
		}()
		if err != nil {
			t.Fatal(err)
		}
		hs, err := func() (string, error) {
			tok := jwt.NewWithClaims(jwt.SigningMethodHS256, base())
			tok.Header["kid"], tok.Header["typ"] = s.keys.current, AccessTokenType
			return tok.SignedString([]byte(pub))
		}()
		if err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(genuine, ".")
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		payload = bytes.Replace(payload, []byte(`"role":"miner"`), []byte(`"role":"registry"`), 1)
		tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
		_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
		otherSigned, err := func() (string, error) {
			tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, base())
			tok.Header["kid"], tok.Header["typ"] = s.keys.current, AccessTokenType
			return tok.SignedString(otherKey)
		}()
		if err != nil {
			t.Fatal(err)
		}

		tests := []struct {
			name  string
			token string
			ok    bool
		}{
			{"well formed", sign(t, s, base(), nil), true},
			{"expired within leeway", sign(t, s, with("exp", now-10), nil), true},
			{"alg none", none, false},
			{"HS256 keyed with the public key", hs, false},
			{"expired", sign(t, s, with("exp", now-31), nil), false},
			{"not yet valid", sign(t, s, with("nbf", now+120), nil), false},
			{"wrong audience", sign(t, s, with("aud", "other-api"), nil), false},
			{"wrong issuer", sign(t, s, with("iss", "https://evil.test"), nil), false},
			{"tampered payload", tampered, false},
			{"signed by another key under our kid", otherSigned, false},
			{"unknown kid", sign(t, s, base(), func(h map[string]any) { h["kid"] = "nope" }), false},
			{"no kid", sign(t, s, base(), func(h map[string]any) { delete(h, "kid") }), false},
			{"future iat", sign(t, s, with("iat", now+300), nil), false},
			{"missing exp", sign(t, s, without("exp"), nil), false},
			{"missing sub", sign(t, s, without("sub"), nil), false},
			{"missing iat", sign(t, s, without("iat"), nil), false},
			{"typ JWT", sign(t, s, base(), func(h map[string]any) { h["typ"] = "JWT" }), false},
			{"garbage", "not.a.token", false},
		}
		for _, tc := range tests {
			_, err := s.VerifyAccess(tc.token)
			if tc.ok && err != nil {
				t.Errorf("VerifyAccess(%s) = %v, want ok", tc.name, err)
			}
			if !tc.ok && greenmint.ErrorCode(err) != greenmint.EUNAUTHENTICATED {
				t.Errorf("VerifyAccess(%s) = %v, want unauthenticated", tc.name, err)
			}
		}
		c.Add(DefaultAccessTTL + Leeway + time.Second)
		wantCode(t, "VerifyAccess(genuine, after its lifetime)", func() error { _, err := s.VerifyAccess(genuine); return err }(), greenmint.EUNAUTHENTICATED)
	})
}

// TestKeyRotation: after a rotation, tokens of the retired key verify
// until it is dropped; the JWKS lists both; another Service over the same
// database opens the keys with the KEK (or a previous KEK), never without.
func TestKeyRotation(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB, s *Service, c *clock) {
		ctx := context.Background()
		u := mustUser(t, s, "bob", "BuyerMSP", greenmint.RoleBuyer, false)
		old := s.currentKID()
		a, _, err := s.IssueAccess(u)
		if err != nil {
			t.Fatal(err)
		}
		kid, err := s.RotateKey(ctx)
		if err != nil || kid == old {
			t.Fatalf("RotateKey = %q, %v (old %q)", kid, err, old)
		}
		b, _, err := s.IssueAccess(u)
		if err != nil {
			t.Fatal(err)
		}
		for name, tok := range map[string]string{"old": a, "new": b} {
			if _, err := s.VerifyAccess(tok); err != nil {
				t.Fatalf("VerifyAccess(%s key's token) = %v", name, err)
			}
		}
		jwksKey(t, s, old)
		jwksKey(t, s, kid)
		tok, _ := jwt.Parse(b, nil)
		if tok == nil || tok.Header["kid"] != kid || tok.Header["typ"] != AccessTokenType || tok.Header["alg"] != "EdDSA" {
			t.Fatalf("new token's header = %v", tok)
		}

		// Another Service (a replica) over the same database.
		c2 := &clock{t: c.Now()}
		s2, err := New(ctx, db, testConfig(c2))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s2.VerifyAccess(a); err != nil {
			t.Fatalf("replica VerifyAccess(old) = %v", err)
		}
		wrong := testConfig(c2)
		wrong.KEK = testKEK(2)
		if _, err := New(ctx, db, wrong); greenmint.ErrorCode(err) != greenmint.EINTERNAL {
			t.Fatalf("New with another KEK = %v, want internal", err)
		}
		wrong.PreviousKEKs = [][]byte{testKEK(1)}
		s3, err := New(ctx, db, wrong)
		if err != nil {
			t.Fatalf("New with the old KEK as previous = %v", err)
		}
		if _, err := s3.VerifyAccess(b); err != nil {
			t.Fatalf("after KEK rotation VerifyAccess = %v", err)
		}

		wantCode(t, "DropKey(current)", s.DropKey(ctx, kid), greenmint.ECONFLICT)
		wantCode(t, "DropKey(unknown)", s.DropKey(ctx, "nope"), greenmint.ENOTFOUND)
		if err := s.DropKey(ctx, old); err != nil {
			t.Fatal(err)
		}
		wantCode(t, "VerifyAccess(dropped key's token)", func() error { _, err := s.VerifyAccess(a); return err }(), greenmint.EUNAUTHENTICATED)
		if _, err := s.VerifyAccess(b); err != nil {
			t.Fatalf("VerifyAccess(current key's token) = %v", err)
		}
		if err := s2.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		wantCode(t, "replica VerifyAccess(dropped key's token) after Reload", func() error { _, err := s2.VerifyAccess(a); return err }(), greenmint.EUNAUTHENTICATED)
		js, _ := s.JWKS()
		if strings.Contains(string(js), old) || strings.Contains(string(js), `"d"`) {
			t.Fatalf("JWKS after the drop = %s", js)
		}
	})
}

// TestNewRefusesBadConfig: no issuer, or a KEK of the wrong size.
func TestNewRefusesBadConfig(t *testing.T) {
	db := storetest.StoreDBs(t)["sqlite"]
	c := &clock{t: t0}
	for _, tc := range []struct {
		name string
		edit func(*Config)
	}{
		{"no issuer", func(c *Config) { c.Issuer = "" }},
		{"short KEK", func(c *Config) { c.KEK = c.KEK[:16] }},
		{"short previous KEK", func(c *Config) { c.PreviousKEKs = [][]byte{{1}} }},
	} {
		cfg := testConfig(c)
		tc.edit(&cfg)
		if _, err := New(context.Background(), db, cfg); greenmint.ErrorCode(err) != greenmint.EINVALID {
			t.Errorf("New(%s) = %v, want invalid", tc.name, err)
		}
	}
}

// TestRefresh: every use rotates; a used token coming back revokes its
// whole family (and only it); logout revokes the family; the family ends
// RefreshTTL after login whatever the rotations.
func TestRefresh(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB, s *Service, c *clock) {
		ctx := context.Background()
		mustUser(t, s, "mia", "MinerMSP", greenmint.RoleMiner, false)
		s1, err := s.Login(ctx, "mia", "correct horse battery")
		if err != nil {
			t.Fatal(err)
		}
		other, err := s.Login(ctx, "mia", "correct horse battery")
		if err != nil {
			t.Fatal(err)
		}
		c.Add(time.Minute)
		s2, err := s.Refresh(ctx, s1.RefreshToken)
		if err != nil || s2.RefreshToken == s1.RefreshToken || !s2.RefreshExpiresAt.Equal(s1.RefreshExpiresAt) {
			t.Fatalf("Refresh = %+v, %v", s2, err)
		}
		if _, err := s.VerifyAccess(s2.AccessToken); err != nil {
			t.Fatal(err)
		}
		// The first token again: reuse. The family is revoked, s2's token too.
		_, err = s.Refresh(ctx, s1.RefreshToken)
		wantCode(t, "Refresh(used token)", err, greenmint.EUNAUTHENTICATED)
		if !strings.Contains(err.Error(), "reuse") {
			t.Fatalf("Refresh(used token) = %v, want reuse named", err)
		}
		_, err = s.Refresh(ctx, s2.RefreshToken)
		wantCode(t, "Refresh(successor of a reused token)", err, greenmint.EUNAUTHENTICATED)
		// The other login's family is untouched.
		o2, err := s.Refresh(ctx, other.RefreshToken)
		if err != nil {
			t.Fatalf("Refresh(another family) = %v", err)
		}
		if err := s.Logout(ctx, o2.RefreshToken); err != nil {
			t.Fatal(err)
		}
		_, err = s.Refresh(ctx, o2.RefreshToken)
		wantCode(t, "Refresh after logout", err, greenmint.EUNAUTHENTICATED)
		wantCode(t, "Logout(unknown)", s.Logout(ctx, "gmr_nope"), greenmint.EUNAUTHENTICATED)
		_, err = s.Refresh(ctx, "gmr_nope")
		wantCode(t, "Refresh(unknown)", err, greenmint.EUNAUTHENTICATED)

		// Absolute expiry.
		s3, err := s.Login(ctx, "mia", "correct horse battery")
		if err != nil {
			t.Fatal(err)
		}
		c.Add(DefaultRefreshTTL - time.Hour)
		s4, err := s.Refresh(ctx, s3.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		c.Add(time.Hour)
		_, err = s.Refresh(ctx, s4.RefreshToken)
		wantCode(t, "Refresh after the family's lifetime", err, greenmint.EUNAUTHENTICATED)
	})
}

// TestConcurrentRefresh: of two uses of one token at once, at most one
// rotates; the loser is a reuse that revokes the family.
func TestConcurrentRefresh(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB, s *Service, c *clock) {
		ctx := context.Background()
		mustUser(t, s, "mia", "MinerMSP", greenmint.RoleMiner, false)
		s1, err := s.Login(ctx, "mia", "correct horse battery")
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		res := make([]error, 4)
		for i := range res {
			wg.Go(func() { _, res[i] = s.Refresh(ctx, s1.RefreshToken) })
		}
		wg.Wait()
		ok := 0
		for _, err := range res {
			if err == nil {
				ok++
			} else if greenmint.ErrorCode(err) != greenmint.EUNAUTHENTICATED {
				t.Fatalf("concurrent Refresh = %v", err)
			}
		}
		if ok > 1 {
			t.Fatalf("%d concurrent refreshes of one token succeeded", ok)
		}
	})
}

// TestLogin: a wrong password and an unknown login fail alike, and an
// unknown login costs a password hash too.
func TestLogin(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB, s *Service, c *clock) {
		ctx := context.Background()
		u := mustUser(t, s, "ann", "AuditorMSP", greenmint.RoleAuditor, false)
		got, err := s.Login(ctx, "ann", "correct horse battery")
		if err != nil || got.User != u {
			t.Fatalf("Login = %+v, %v; want %+v", got.User, err, u)
		}
		_, wrong := s.Login(ctx, "ann", "wrong horse battery")
		_, unknown := s.Login(ctx, "nobody", "correct horse battery")
		wantCode(t, "Login(wrong password)", wrong, greenmint.EUNAUTHENTICATED)
		wantCode(t, "Login(unknown)", unknown, greenmint.EUNAUTHENTICATED)
		if wrong.Error() != unknown.Error() {
			t.Fatalf("wrong password %q, unknown login %q: want the same error", wrong, unknown)
		}
		timed := func(login string) time.Duration {
			best := time.Hour
			for range 3 {
				start := time.Now()
				_, _ = s.Authenticate(ctx, login, "wrong horse battery")
				best = min(best, time.Since(start))
			}
			return best
		}
		known, unknownT := timed("ann"), timed("nobody")
		if unknownT < known/4 {
			t.Fatalf("an unknown login took %v, a known one %v: the unknown login skips the hash", unknownT, known)
		}
		_, err = s.CreateUser(ctx, NewUser{Login: "ann", Org: "AuditorMSP", Role: greenmint.RoleAuditor, Password: "correct horse battery"})
		wantCode(t, "CreateUser(taken login)", err, greenmint.ECONFLICT)
		_, err = s.CreateUser(ctx, NewUser{Login: "short", Org: "AuditorMSP", Role: greenmint.RoleAuditor, Password: "short"})
		wantCode(t, "CreateUser(short password)", err, greenmint.EINVALID)
		_, err = s.CreateUser(ctx, NewUser{Login: "Bad Login", Org: "AuditorMSP", Role: greenmint.RoleAuditor, Password: "correct horse battery"})
		wantCode(t, "CreateUser(bad login)", err, greenmint.EINVALID)
		_, err = s.CreateUser(ctx, NewUser{Login: "zed", Org: "AuditorMSP", Role: "king", Password: "correct horse battery"})
		wantCode(t, "CreateUser(unknown role)", err, greenmint.EINVALID)
		if err := s.ChangePassword(ctx, u.ID, "correct horse battery", "another horse battery"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Login(ctx, "ann", "another horse battery"); err != nil {
			t.Fatalf("Login with the new password = %v", err)
		}
		wantCode(t, "ChangePassword(wrong current)", s.ChangePassword(ctx, u.ID, "correct horse battery", "x-another horse battery"), greenmint.EUNAUTHENTICATED)
	})
}

// TestInvitations: an admin invites into their own organisation; the
// secret is accepted once, before it expires; a non-admin cannot invite.
func TestInvitations(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB, s *Service, c *clock) {
		ctx := context.Background()
		admin := mustUser(t, s, "boss", "MinerMSP", greenmint.RoleMiner, true)
		worker := mustUser(t, s, "worker", "MinerMSP", greenmint.RoleMiner, false)
		secret, inv, err := s.Invite(ctx, admin.ID, Invite{Login: "newbie", Role: greenmint.RoleMiner})
		if err != nil || inv.Org != "MinerMSP" || inv.InvitedBy != admin.ID || !inv.ExpiresAt.Equal(t0.Add(DefaultInvitationTTL)) {
			t.Fatalf("Invite = %+v, %v", inv, err)
		}
		stored, err := db.InvitationByHash(ctx, hashSecret(secret))
		if err != nil || stored.SecretHash == secret || strings.Contains(stored.SecretHash, secret) {
			t.Fatalf("stored invitation = %+v, %v", stored, err)
		}
		_, err = s.Accept(ctx, secret, "short")
		wantCode(t, "Accept(short password)", err, greenmint.EINVALID)
		u, err := s.Accept(ctx, secret, "newbie's long password")
		if err != nil || u.Login != "newbie" || u.Org != "MinerMSP" || u.Role != greenmint.RoleMiner || u.Admin {
			t.Fatalf("Accept = %+v, %v", u, err)
		}
		if _, err := s.Login(ctx, "newbie", "newbie's long password"); err != nil {
			t.Fatalf("Login after accepting = %v", err)
		}
		_, err = s.Accept(ctx, secret, "another long password")
		wantCode(t, "Accept(replayed)", err, greenmint.EUNAUTHENTICATED)
		if _, err := s.Login(ctx, "newbie", "another long password"); err == nil {
			t.Fatal("a replayed invitation changed the password")
		}
		_, err = s.Accept(ctx, "gmi_unknown", "newbie's long password")
		wantCode(t, "Accept(unknown)", err, greenmint.EUNAUTHENTICATED)

		late, _, err := s.Invite(ctx, admin.ID, Invite{Login: "late", Role: greenmint.RoleMiner, TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		c.Add(time.Hour)
		_, err = s.Accept(ctx, late, "late's long password")
		wantCode(t, "Accept(expired)", err, greenmint.EUNAUTHENTICATED)
		if _, err := db.UserByLogin(ctx, "late"); greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
			t.Fatalf("an expired invitation made a user: %v", err)
		}

		_, _, err = s.Invite(ctx, worker.ID, Invite{Login: "friend", Role: greenmint.RoleMiner})
		wantCode(t, "Invite(by a non-admin)", err, greenmint.EFORBIDDEN)
		_, _, err = s.Invite(ctx, admin.ID, Invite{Login: "worker", Role: greenmint.RoleMiner})
		wantCode(t, "Invite(taken login)", err, greenmint.ECONFLICT)
		_, _, err = s.Invite(ctx, admin.ID, Invite{Login: "ruler", Role: greenmint.RoleRegistry})
		wantCode(t, "Invite(registry role outside the registry's organisation)", err, greenmint.EFORBIDDEN)
		_, _, err = s.Invite(ctx, admin.ID, Invite{Login: "forever", Role: greenmint.RoleMiner, TTL: 365 * 24 * time.Hour})
		wantCode(t, "Invite(a year)", err, greenmint.EINVALID)
		_, _, err = s.Invite(ctx, "usr_nobody", Invite{Login: "ghost", Role: greenmint.RoleMiner})
		wantCode(t, "Invite(by an unknown user)", err, greenmint.EUNAUTHENTICATED)
	})
}

// TestSetRole: only an admin of the user's own organisation changes its
// role; the next access token carries it.
func TestSetRole(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB, s *Service, c *clock) {
		ctx := context.Background()
		admin := mustUser(t, s, "boss", "MinerMSP", greenmint.RoleMiner, true)
		peer := mustUser(t, s, "peer", "MinerMSP", greenmint.RoleMiner, false)
		foreign := mustUser(t, s, "rival", "BuyerMSP", greenmint.RoleBuyer, true)
		sess, err := s.Login(ctx, "peer", "correct horse battery")
		if err != nil {
			t.Fatal(err)
		}
		wantCode(t, "SetRole(by a foreign organisation's admin)", s.SetRole(ctx, foreign.ID, peer.ID, greenmint.RoleBuyer, true), greenmint.EFORBIDDEN)
		wantCode(t, "SetRole(by a non-admin)", s.SetRole(ctx, peer.ID, peer.ID, greenmint.RoleAuditor, true), greenmint.EFORBIDDEN)
		wantCode(t, "SetRole(unknown role)", s.SetRole(ctx, admin.ID, peer.ID, "king", false), greenmint.EINVALID)
		wantCode(t, "SetRole(own admin flag away)", s.SetRole(ctx, admin.ID, admin.ID, greenmint.RoleMiner, false), greenmint.EINVALID)
		wantCode(t, "SetRole(unknown user)", s.SetRole(ctx, admin.ID, "usr_nobody", greenmint.RoleMiner, false), greenmint.ENOTFOUND)
		if u, _ := s.User(ctx, peer.ID); u.Role != greenmint.RoleMiner || u.Admin {
			t.Fatalf("refused changes changed %+v", u)
		}
		if err := s.SetRole(ctx, admin.ID, peer.ID, greenmint.RoleOracle, true); err != nil {
			t.Fatal(err)
		}
		next, err := s.Refresh(ctx, sess.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		cl, err := s.VerifyAccess(next.AccessToken)
		if err != nil || cl.Role != "oracle" || !cl.Admin {
			t.Fatalf("claims after the role change = %+v, %v", cl, err)
		}
	})
}

// TestAPIKeys: a key verifies with its scopes, records its last use at
// most once a minute, and stops at revocation; wrong secrets, unknown and
// malformed keys fail alike.
func TestAPIKeys(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB, s *Service, c *clock) {
		ctx := context.Background()
		admin := mustUser(t, s, "ops", "OracleMSP", greenmint.RoleOracle, true)
		worker := mustUser(t, s, "worker", "OracleMSP", greenmint.RoleOracle, false)
		foreign := mustUser(t, s, "rival", "BuyerMSP", greenmint.RoleBuyer, true)
		key, k, err := s.CreateAPIKey(ctx, admin.ID, "collector-1", []string{ScopeReadingsWrite, ScopeLedgerRead, ScopeReadingsWrite})
		if err != nil || !strings.HasPrefix(key, "gm_"+k.ID+"_") || k.Org != "OracleMSP" || len(k.Scopes) != 2 {
			t.Fatalf("CreateAPIKey = %q, %+v, %v", key, k, err)
		}
		if stored, _ := db.APIKeyByID(ctx, k.ID); strings.Contains(key, stored.SecretHash) || stored.SecretHash == "" {
			t.Fatalf("stored key = %+v", stored)
		}
		got, err := s.VerifyAPIKey(ctx, key)
		if err != nil || got.ID != k.ID || !got.HasScope(ScopeReadingsWrite) || got.HasScope(ScopeMarketWrite) || !got.LastUsedAt.Equal(t0) {
			t.Fatalf("VerifyAPIKey = %+v, %v", got, err)
		}
		lastUse := func() time.Time {
			stored, err := db.APIKeyByID(ctx, k.ID)
			if err != nil {
				t.Fatal(err)
			}
			return stored.LastUsedAt
		}
		c.Add(10 * time.Second)
		if _, err := s.VerifyAPIKey(ctx, key); err != nil || !lastUse().Equal(t0) {
			t.Fatalf("after a use 10 s later: %v, last use %v; want %v (throttled)", err, lastUse(), t0)
		}
		c.Add(DefaultAPIKeyTouch)
		if _, err := s.VerifyAPIKey(ctx, key); err != nil || !lastUse().Equal(c.Now()) {
			t.Fatalf("after a use a minute later: %v, last use %v; want %v", err, lastUse(), c.Now())
		}

		secretless := key[:strings.LastIndex(key, "_")+1]
		for name, bad := range map[string]string{
			"wrong secret": secretless + "AAAA",
			"unknown ID":   "gm_000000000000000000000000_" + key[strings.LastIndex(key, "_")+1:],
			"no secret":    secretless,
			"no prefix":    strings.TrimPrefix(key, "gm_"),
			"empty":        "",
		} {
			_, err := s.VerifyAPIKey(ctx, bad)
			wantCode(t, "VerifyAPIKey("+name+")", err, greenmint.EUNAUTHENTICATED)
		}
		_, _, err = s.CreateAPIKey(ctx, admin.ID, "x", []string{"everything"})
		wantCode(t, "CreateAPIKey(unknown scope)", err, greenmint.EINVALID)
		_, _, err = s.CreateAPIKey(ctx, admin.ID, "x", nil)
		wantCode(t, "CreateAPIKey(no scope)", err, greenmint.EINVALID)
		_, _, err = s.CreateAPIKey(ctx, worker.ID, "x", []string{ScopeLedgerRead})
		wantCode(t, "CreateAPIKey(by a non-admin)", err, greenmint.EFORBIDDEN)

		wantCode(t, "RevokeAPIKey(by a foreign admin)", s.RevokeAPIKey(ctx, foreign.ID, k.ID), greenmint.EFORBIDDEN)
		wantCode(t, "RevokeAPIKey(by a non-admin)", s.RevokeAPIKey(ctx, worker.ID, k.ID), greenmint.EFORBIDDEN)
		wantCode(t, "RevokeAPIKey(unknown)", s.RevokeAPIKey(ctx, admin.ID, "000000000000000000000000"), greenmint.ENOTFOUND)
		if _, err := s.VerifyAPIKey(ctx, key); err != nil {
			t.Fatalf("refused revocations revoked the key: %v", err)
		}
		if err := s.RevokeAPIKey(ctx, admin.ID, k.ID); err != nil {
			t.Fatal(err)
		}
		_, err = s.VerifyAPIKey(ctx, key)
		wantCode(t, "VerifyAPIKey(revoked)", err, greenmint.EUNAUTHENTICATED)
		if err := s.RevokeAPIKey(ctx, admin.ID, k.ID); err != nil {
			t.Fatalf("revoking again = %v", err)
		}
	})
}

// TestListUsersAndAPIKeys: an admin lists the users and API keys of their
// own organisation only, without secrets; anyone else is refused.
func TestListUsersAndAPIKeys(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB, s *Service, c *clock) {
		ctx := context.Background()
		admin := mustUser(t, s, "ops", "OracleMSP", greenmint.RoleOracle, true)
		worker := mustUser(t, s, "worker", "OracleMSP", greenmint.RoleOracle, false)
		foreign := mustUser(t, s, "rival", "BuyerMSP", greenmint.RoleBuyer, true)
		loner := mustUser(t, s, "loner", "AuditorMSP", greenmint.RoleAuditor, true)
		key1, k1, err := s.CreateAPIKey(ctx, admin.ID, "collector-1", []string{ScopeReadingsWrite})
		if err != nil {
			t.Fatal(err)
		}
		c.Add(time.Second)
		_, k2, err := s.CreateAPIKey(ctx, admin.ID, "collector-2", []string{ScopeLedgerRead})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.CreateAPIKey(ctx, foreign.ID, "buyer-bot", []string{ScopeMarketWrite}); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeAPIKey(ctx, admin.ID, k2.ID); err != nil {
			t.Fatal(err)
		}
		k2.RevokedAt = c.Now()

		users, err := s.ListUsers(ctx, admin.ID)
		if err != nil || len(users) != 2 || users[0] != admin || users[1] != worker {
			t.Fatalf("ListUsers(admin) = %+v, %v; want %+v, %+v", users, err, admin, worker)
		}
		keys, err := s.ListAPIKeys(ctx, admin.ID)
		if err != nil || len(keys) != 2 || !sameKey(keys[0], k1) || !sameKey(keys[1], k2) {
			t.Fatalf("ListAPIKeys(admin) = %+v, %v; want %+v, %+v", keys, err, k1, k2)
		}
		stored, err := db.APIKeyByID(ctx, k1.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if dump := fmt.Sprintf("%+v", k); strings.Contains(dump, stored.SecretHash) || strings.Contains(dump, key1[strings.LastIndex(key1, "_")+1:]) {
				t.Fatalf("ListAPIKeys shows a secret or its hash: %s", dump)
			}
		}

		fusers, err := s.ListUsers(ctx, foreign.ID)
		if err != nil || len(fusers) != 1 || fusers[0].ID != foreign.ID {
			t.Fatalf("ListUsers(foreign admin) = %+v, %v; want only rival", fusers, err)
		}
		fkeys, err := s.ListAPIKeys(ctx, foreign.ID)
		if err != nil || len(fkeys) != 1 || fkeys[0].Org != "BuyerMSP" {
			t.Fatalf("ListAPIKeys(foreign admin) = %+v, %v; want only buyer-bot", fkeys, err)
		}
		if ks, err := s.ListAPIKeys(ctx, loner.ID); err != nil || len(ks) != 0 {
			t.Fatalf("ListAPIKeys(an organisation without keys) = %+v, %v", ks, err)
		}

		_, err = s.ListUsers(ctx, worker.ID)
		wantCode(t, "ListUsers(by a non-admin)", err, greenmint.EFORBIDDEN)
		_, err = s.ListAPIKeys(ctx, worker.ID)
		wantCode(t, "ListAPIKeys(by a non-admin)", err, greenmint.EFORBIDDEN)
		_, err = s.ListUsers(ctx, "usr_nobody")
		wantCode(t, "ListUsers(unknown actor)", err, greenmint.EUNAUTHENTICATED)
		_, err = s.ListAPIKeys(ctx, "usr_nobody")
		wantCode(t, "ListAPIKeys(unknown actor)", err, greenmint.EUNAUTHENTICATED)
	})
}

func sameKey(a, b APIKey) bool {
	return a.ID == b.ID && a.Org == b.Org && a.Name == b.Name && slices.Equal(a.Scopes, b.Scopes) && a.CreatedBy == b.CreatedBy &&
		a.CreatedAt.Equal(b.CreatedAt) && a.RevokedAt.Equal(b.RevokedAt) && a.LastUsedAt.Equal(b.LastUsedAt)
}
