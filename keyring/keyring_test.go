package keyring_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/identity"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/internal/store"
	"github.com/greenmint/greenmint/keyring"
	"github.com/greenmint/greenmint/ledger/embedded"
	"github.com/greenmint/greenmint/simulate"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"google.golang.org/protobuf/proto"
)

func newKEK(tb testing.TB, id string) keyring.KEK {
	tb.Helper()
	k := keyring.KEK{ID: id, Key: make([]byte, keyring.KEKSize)}
	if _, err := rand.Read(k.Key); err != nil {
		tb.Fatal(err)
	}
	return k
}

func mustKeyring(tb testing.TB, db *store.DB, ca keyring.CA, opts keyring.Options) *keyring.Keyring {
	tb.Helper()
	k, err := keyring.New(db, ca, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// newCA is the project's own CA with the demo consortium's organisations.
func newCA(tb testing.TB) *identity.Store {
	tb.Helper()
	s := identity.NewStore(tb.TempDir())
	for _, m := range []string{consortium.MinerMSP, consortium.BuyerMSP} {
		if _, err := s.CreateOrg(m); err != nil {
			tb.Fatal(err)
		}
	}
	return s
}

// plainKey returns the PKCS#8 form of an identity's private key.
func plainKey(tb testing.TB, id *greenmint.Identity) []byte {
	tb.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(id.Signer)
	if err != nil {
		tb.Fatal(err)
	}
	return der
}

// creatorOf returns the creator (MSP ID, certificate PEM) the ledger
// recorded for a committed transaction.
func creatorOf(tb testing.TB, l *embedded.Ledger, txID string) *msp.SerializedIdentity {
	tb.Helper()
	tx, _, err := l.Transaction(txID)
	if err != nil {
		tb.Fatal(err)
	}
	var p embedded.Proposal
	if err := json.Unmarshal(tx.Proposal, &p); err != nil {
		tb.Fatal(err)
	}
	var c msp.SerializedIdentity
	if err := proto.Unmarshal(p.Creator, &c); err != nil {
		tb.Fatal(err)
	}
	return &c
}

// A user enrolled in the keyring signs real transactions on the embedded
// ledger as itself: the ledger records the user's own certificate as the
// creator (not a shared identity's), the contract applies its rules to the
// user's role, and the key is stored sealed, never in the clear.
func TestEnrolledUserSignsAsThemselves(t *testing.T) {
	ctx := context.Background()
	n := greenminttest.NewNetwork(t)
	ca := n.Workspace.Consortium.Store
	i := 0
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			i++
			k := mustKeyring(t, db, ca, keyring.Options{KEKs: []keyring.KEK{newKEK(t, "k1")}})
			alice := "alice-" + name
			info, err := k.Enroll(ctx, alice, consortium.MinerMSP, greenmint.RoleMiner)
			if err != nil {
				t.Fatal(err)
			}
			if info.KEKID != "k1" || info.MSPID != consortium.MinerMSP || info.Role != greenmint.RoleMiner {
				t.Fatalf("Enroll = %+v", info)
			}
			if _, err := k.Enroll(ctx, alice, consortium.MinerMSP, greenmint.RoleMiner); greenmint.ErrorCode(err) != greenmint.ECONFLICT {
				t.Fatalf("Enroll(%s again) = %v, want conflict", alice, err)
			}
			id, err := k.Identity(ctx, alice)
			if err != nil {
				t.Fatal(err)
			}
			site, err := simulate.NewSite(fmt.Sprintf("SITE%04d", 100+i))
			if err != nil {
				t.Fatal(err)
			}
			res, err := greenmint.SubmitJSON(ctx, n.Ledger, id, greenmint.TxRegisterSite, site.Registration().Sites[0], nil)
			if err != nil {
				t.Fatalf("RegisterSite as %s: %v", alice, err)
			}
			c := creatorOf(t, n.Ledger, res.TxID)
			if c.Mspid != consortium.MinerMSP || !bytes.Equal(c.IdBytes, info.Certificate) {
				t.Fatalf("creator of %s = %s %q, want %s and %s's certificate", res.TxID, c.Mspid, c.IdBytes, consortium.MinerMSP, alice)
			}
			if bytes.Equal(c.IdBytes, n.Miner.Certificate) {
				t.Fatal("the transaction was signed by the shared demo miner identity")
			}
			cert, err := identity.ParseCertPEM(c.IdBytes)
			if err != nil {
				t.Fatal(err)
			}
			if role, _ := identity.RoleOf(cert); cert.Subject.CommonName != alice || role != greenmint.RoleMiner {
				t.Fatalf("creator certificate CN %q role %q, want %s miner", cert.Subject.CommonName, role, alice)
			}

			// A buyer enrolled the same way is a buyer to the contract.
			bob := "bob-" + name
			if _, err := k.Enroll(ctx, bob, consortium.BuyerMSP, greenmint.RoleBuyer); err != nil {
				t.Fatal(err)
			}
			bid, err := k.Identity(ctx, bob)
			if err != nil {
				t.Fatal(err)
			}
			other, _ := simulate.NewSite(fmt.Sprintf("SITE%04d", 200+i))
			if _, err := greenmint.SubmitJSON(ctx, n.Ledger, bid, greenmint.TxRegisterSite, other.Registration().Sites[0], nil); greenmint.ErrorCode(err) != greenmint.EFORBIDDEN {
				t.Fatalf("RegisterSite as buyer %s = %v, want forbidden", bob, err)
			}

			// At rest: the sealed key is not the key.
			row, err := db.LedgerIdentity(ctx, alice)
			if err != nil {
				t.Fatal(err)
			}
			der := plainKey(t, id)
			d := id.Signer.(*ecdsa.PrivateKey).D.Bytes()
			if bytes.Contains(row.SealedKey, der) || bytes.Contains(row.SealedKey, d) {
				t.Fatal("the stored row holds the private key in the clear")
			}
		})
	}
}

// A row opened with the wrong key-encryption key (another key under the
// same ID, or an ID not configured) fails with an error that says so and
// yields no key.
func TestWrongKEK(t *testing.T) {
	ctx := context.Background()
	ca := newCA(t)
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			k1 := newKEK(t, "k1")
			k := mustKeyring(t, db, ca, keyring.Options{KEKs: []keyring.KEK{k1}})
			if _, err := k.Enroll(ctx, "carol", consortium.MinerMSP, greenmint.RoleMiner); err != nil {
				t.Fatal(err)
			}
			good, err := k.Identity(ctx, "carol")
			if err != nil {
				t.Fatal(err)
			}
			der := plainKey(t, good)
			for _, tc := range []struct {
				name string
				keks []keyring.KEK
				want string
			}{
				{"other key, same ID", []keyring.KEK{newKEK(t, "k1")}, `key-encryption key "k1" does not open the ledger identity of user "carol"`},
				{"ID not configured", []keyring.KEK{newKEK(t, "k2")}, `sealed under key-encryption key "k1", which is not configured`},
			} {
				t.Run(tc.name, func(t *testing.T) {
					wrong := mustKeyring(t, db, ca, keyring.Options{KEKs: tc.keks})
					id, err := wrong.Identity(ctx, "carol")
					if id != nil || greenmint.ErrorCode(err) != greenmint.EINTERNAL || !strings.Contains(err.Error(), tc.want) {
						t.Fatalf("Identity(carol) = %v, %v; want no identity and internal %q", id, err, tc.want)
					}
					for _, enc := range []string{string(der), hex.EncodeToString(der), base64.StdEncoding.EncodeToString(der)} {
						if strings.Contains(err.Error(), enc) {
							t.Fatal("the error holds the private key")
						}
					}
				})
			}
		})
	}
}

// GCM and its additional data refuse a sealed key with a changed byte, a
// row moved to another user and a row moved to another organisation.
func TestTamperedOrMovedRowRefused(t *testing.T) {
	ctx := context.Background()
	ca := newCA(t)
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			k := mustKeyring(t, db, ca, keyring.Options{KEKs: []keyring.KEK{newKEK(t, "k1")}, CacheSize: -1})
			for _, u := range []string{"dave", "erin", "frank"} {
				if _, err := k.Enroll(ctx, u, consortium.MinerMSP, greenmint.RoleMiner); err != nil {
					t.Fatal(err)
				}
			}
			dave, _ := db.LedgerIdentity(ctx, "dave")
			erin, _ := db.LedgerIdentity(ctx, "erin")
			frank, _ := db.LedgerIdentity(ctx, "frank")

			// dave: one bit of the ciphertext flipped.
			tampered := bytes.Clone(dave.SealedKey)
			tampered[len(tampered)-20] ^= 1
			if ok, err := db.ResealLedgerIdentity(ctx, "dave", dave.Serial, "k1", "k1", tampered); err != nil || !ok {
				t.Fatalf("ResealLedgerIdentity = %v, %v", ok, err)
			}
			// erin: dave's certificate and sealed key copied into erin's row.
			moved := erin
			moved.Certificate, moved.Serial, moved.SealedKey = dave.Certificate, dave.Serial, dave.SealedKey
			if err := db.ReplaceLedgerIdentity(ctx, moved, erin.Serial); err != nil {
				t.Fatal(err)
			}
			// frank: the row claims another organisation.
			other := frank
			other.MSPID = consortium.BuyerMSP
			other.Serial = frank.Serial + "0"
			if err := db.ReplaceLedgerIdentity(ctx, other, frank.Serial); err != nil {
				t.Fatal(err)
			}
			for _, u := range []string{"dave", "erin", "frank"} {
				id, err := k.Identity(ctx, u)
				if id != nil || greenmint.ErrorCode(err) != greenmint.EINTERNAL || !strings.Contains(err.Error(), "does not open") {
					t.Errorf("Identity(%s) = %v, %v; want no identity and internal 'does not open'", u, id, err)
				}
			}
		})
	}
}

// Rotation re-seals every identity under the new key-encryption key, in
// batches, skipping the rows already under it (as a resumed rotation finds
// them); afterwards no row is under the old key and a keyring that knows
// only the new key opens and signs with every identity.
func TestRotate(t *testing.T) {
	ctx := context.Background()
	ca := newCA(t)
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			k1, k2 := newKEK(t, "k1"), newKEK(t, "k2")
			old := mustKeyring(t, db, ca, keyring.Options{KEKs: []keyring.KEK{k1}, RotateBatch: 3})
			var users []string
			for i := range 7 {
				u := fmt.Sprintf("user-%02d", i)
				users = append(users, u)
				if _, err := old.Enroll(ctx, u, consortium.MinerMSP, greenmint.RoleMiner); err != nil {
					t.Fatal(err)
				}
			}
			// Two users enrolled by a replica already configured with k2 first.
			newer := mustKeyring(t, db, ca, keyring.Options{KEKs: []keyring.KEK{k2, k1}})
			for i := 7; i < 9; i++ {
				u := fmt.Sprintf("user-%02d", i)
				users = append(users, u)
				if _, err := newer.Enroll(ctx, u, consortium.BuyerMSP, greenmint.RoleBuyer); err != nil {
					t.Fatal(err)
				}
			}
			before := map[string][]byte{}
			for _, u := range users {
				id, err := old.Identity(ctx, u)
				if greenmint.ErrorCode(err) != "" && u < "user-07" {
					t.Fatal(err)
				}
				if id != nil {
					before[u] = plainKey(t, id)
				}
			}
			// A KEK named k2 that does not open the rows sealed under k2.
			if _, err := old.Rotate(ctx, keyring.KEK{ID: "k2", Key: k1.Key}); greenmint.ErrorCode(err) != greenmint.EINVALID {
				t.Fatalf("Rotate(k2 with another key) = %v, want invalid", err)
			}
			if counts, _ := db.CountLedgerIdentitiesByKEK(ctx); counts["k1"] != 7 {
				t.Fatalf("a refused rotation changed rows: %v", counts)
			}
			if _, err := newer.Rotate(ctx, keyring.KEK{ID: "k2", Key: k1.Key}); greenmint.ErrorCode(err) != greenmint.EINVALID {
				t.Fatalf("Rotate(configured k2 with another key) = %v, want invalid", err)
			}
			n, err := old.Rotate(ctx, k2)
			if err != nil || n != 7 {
				t.Fatalf("Rotate(k2) = %d, %v; want 7", n, err)
			}
			counts, err := db.CountLedgerIdentitiesByKEK(ctx)
			if err != nil || len(counts) != 1 || counts["k2"] != 9 {
				t.Fatalf("identities by KEK = %v, %v; want k2: 9 only", counts, err)
			}
			if n, err := old.Rotate(ctx, k2); err != nil || n != 0 {
				t.Fatalf("Rotate(k2) again = %d, %v; want 0", n, err)
			}
			only := mustKeyring(t, db, ca, keyring.Options{KEKs: []keyring.KEK{k2}})
			digest := sha256.Sum256([]byte("proposal"))
			for _, u := range users {
				id, err := only.Identity(ctx, u)
				if err != nil {
					t.Fatalf("Identity(%s) after rotation: %v", u, err)
				}
				if want, ok := before[u]; ok && !bytes.Equal(plainKey(t, id), want) {
					t.Fatalf("rotation changed %s's key", u)
				}
				sig, err := id.Signer.Sign(rand.Reader, digest[:], nil)
				if err != nil {
					t.Fatal(err)
				}
				cert, _ := identity.ParseCertPEM(id.Certificate)
				if !ecdsa.VerifyASN1(cert.PublicKey.(*ecdsa.PublicKey), digest[:], sig) {
					t.Fatalf("%s's key does not sign for its certificate", u)
				}
			}
			// New enrolments go under the new key.
			info, err := old.Enroll(ctx, "late", consortium.MinerMSP, greenmint.RoleMiner)
			if err != nil || info.KEKID != "k2" {
				t.Fatalf("Enroll after rotation = %+v, %v; want under k2", info, err)
			}
		})
	}
}

// A user without a ledger identity is not_found everywhere.
func TestUnknownUser(t *testing.T) {
	ctx := context.Background()
	ca := newCA(t)
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			k := mustKeyring(t, db, ca, keyring.Options{KEKs: []keyring.KEK{newKEK(t, "k1")}})
			if id, err := k.Identity(ctx, "nobody"); id != nil || greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
				t.Errorf("Identity(nobody) = %v, %v; want not_found", id, err)
			}
			if _, err := k.Info(ctx, "nobody"); greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
				t.Errorf("Info(nobody) = %v, want not_found", err)
			}
			if _, err := k.Reenroll(ctx, "nobody", greenmint.RoleMiner); greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
				t.Errorf("Reenroll(nobody) = %v, want not_found", err)
			}
			if _, err := k.Enroll(ctx, "x", "NoSuchMSP", greenmint.RoleMiner); greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
				t.Errorf("Enroll(x, NoSuchMSP) = %v, want not_found", err)
			}
			if _, err := k.Enroll(ctx, "x", consortium.MinerMSP, "wizard"); greenmint.ErrorCode(err) != greenmint.EINVALID {
				t.Errorf("Enroll(x, wizard) = %v, want invalid", err)
			}
			if _, err := k.Info(ctx, "x"); greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
				t.Errorf("a refused enrolment stored an identity: Info(x) = %v", err)
			}
		})
	}
}

// Re-enrolment replaces the identity and has the organisation's CA revoke
// the old certificate: the ledger refuses the old identity and accepts the
// new one.
func TestReenrollRevokesOldCertificate(t *testing.T) {
	ctx := context.Background()
	n := greenminttest.NewNetwork(t)
	ca := n.Workspace.Consortium.Store
	db := greenminttest.NewOracleDB(t, filepath.Join(t.TempDir(), "keyring.db"))
	k := mustKeyring(t, db, ca, keyring.Options{KEKs: []keyring.KEK{newKEK(t, "k1")}})
	if _, err := k.Enroll(ctx, "gina", consortium.MinerMSP, greenmint.RoleMiner); err != nil {
		t.Fatal(err)
	}
	oldID, err := k.Identity(ctx, "gina")
	if err != nil {
		t.Fatal(err)
	}
	first, _ := simulate.NewSite("SITE0300")
	if _, err := greenmint.SubmitJSON(ctx, n.Ledger, oldID, greenmint.TxRegisterSite, first.Registration().Sites[0], nil); err != nil {
		t.Fatal(err)
	}
	oldInfo, _ := k.Info(ctx, "gina")
	info, err := k.Reenroll(ctx, "gina", greenmint.RoleMiner)
	if err != nil {
		t.Fatal(err)
	}
	if info.Serial.Cmp(oldInfo.Serial) == 0 {
		t.Fatal("re-enrolment kept the certificate")
	}
	if pending, err := db.RetiredLedgerIdentities(ctx); err != nil || len(pending) != 0 {
		t.Fatalf("retired certificates awaiting revocation = %v, %v; want none", pending, err)
	}
	if err := n.Ledger.ReloadRevocations(); err != nil {
		t.Fatal(err)
	}
	site, _ := simulate.NewSite("SITE0301")
	if _, err := greenmint.SubmitJSON(ctx, n.Ledger, oldID, greenmint.TxRegisterSite, site.Registration().Sites[0], nil); greenmint.ErrorCode(err) != greenmint.EUNAUTHENTICATED {
		t.Fatalf("RegisterSite with the revoked certificate = %v, want unauthenticated", err)
	}
	newID, err := k.Identity(ctx, "gina")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(newID.Certificate, oldID.Certificate) {
		t.Fatal("Identity returned the cached old identity after re-enrolment")
	}
	res, err := greenmint.SubmitJSON(ctx, n.Ledger, newID, greenmint.TxRegisterSite, site.Registration().Sites[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	if c := creatorOf(t, n.Ledger, res.TxID); !bytes.Equal(c.IdBytes, info.Certificate) {
		t.Fatal("the ledger did not record the new certificate")
	}
}

// The cache holds at most CacheSize users, and an entry older than the
// TTL is read again from the database.
func TestCacheBoundAndTTL(t *testing.T) {
	ctx := context.Background()
	ca := newCA(t)
	db := greenminttest.StoreDBs(t)["sqlite"]
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	k := mustKeyring(t, db, ca, keyring.Options{KEKs: []keyring.KEK{newKEK(t, "k1")}, CacheSize: 2, CacheTTL: time.Minute, Now: func() time.Time { return now }})
	for _, u := range []string{"u1", "u2", "u3"} {
		if _, err := k.Enroll(ctx, u, consortium.MinerMSP, greenmint.RoleMiner); err != nil {
			t.Fatal(err)
		}
		if _, err := k.Identity(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if got := k.Cached(); got != 2 {
		t.Fatalf("Cached() = %d, want 2", got)
	}
	// Damage u3's row: within the TTL the cached identity still serves,
	// after it the row is read again and refused.
	row, _ := db.LedgerIdentity(ctx, "u3")
	bad := bytes.Clone(row.SealedKey)
	bad[len(bad)-1] ^= 1
	if _, err := db.ResealLedgerIdentity(ctx, "u3", row.Serial, "k1", "k1", bad); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Identity(ctx, "u3"); err != nil {
		t.Fatalf("Identity(u3) within the TTL = %v, want the cached identity", err)
	}
	now = now.Add(time.Minute)
	if _, err := k.Identity(ctx, "u3"); greenmint.ErrorCode(err) != greenmint.EINTERNAL {
		t.Fatalf("Identity(u3) after the TTL = %v, want internal", err)
	}
}

// A KEK prints and logs its ID only; configuration errors name the ID,
// never the key.
func TestKEKNeverShown(t *testing.T) {
	k := newKEK(t, "k1")
	enc := base64.StdEncoding.EncodeToString(k.Key)
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%+v", k), fmt.Sprintf("%#v", k), fmt.Sprintf("%v", []keyring.KEK{k})} {
		if strings.Contains(s, enc) || strings.Contains(s, hex.EncodeToString(k.Key)) || strings.Contains(s, fmt.Sprint(k.Key)) {
			t.Fatalf("a KEK printed as %q shows its key", s)
		}
	}
	keks, err := keyring.ParseKEKs("new:" + enc + ", old:" + base64.StdEncoding.EncodeToString(make([]byte, 32)))
	if err != nil || len(keks) != 2 || keks[0].ID != "new" || !bytes.Equal(keks[0].Key, k.Key) {
		t.Fatalf("ParseKEKs = %v, %v", keks, err)
	}
	short := base64.StdEncoding.EncodeToString([]byte("sixteen byte key"))
	for _, in := range []string{"", "nokey", "k1:" + short, "k1:%%%", "k1:" + enc + ",k1:" + enc, "bad id:" + enc} {
		_, err := keyring.ParseKEKs(in)
		if greenmint.ErrorCode(err) != greenmint.EINVALID || strings.Contains(err.Error(), enc) || strings.Contains(err.Error(), short) {
			t.Errorf("ParseKEKs(%q) = %v, want invalid without the key", in, err)
		}
	}
}

// The database file holds the sealed key only: neither the PKCS#8 key nor
// its private scalar appear in the SQLite file or its write-ahead log.
func TestKeyNotInDatabaseFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "keyring.db")
	db := greenminttest.NewOracleDB(t, path)
	k := mustKeyring(t, db, newCA(t), keyring.Options{KEKs: []keyring.KEK{newKEK(t, "k1")}})
	if _, err := k.Enroll(ctx, "hana", consortium.MinerMSP, greenmint.RoleMiner); err != nil {
		t.Fatal(err)
	}
	id, err := k.Identity(ctx, "hana")
	if err != nil {
		t.Fatal(err)
	}
	der, d := plainKey(t, id), id.Signer.(*ecdsa.PrivateKey).D.Bytes()
	var seen int
	for _, p := range []string{path, path + "-wal"} {
		raw, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		seen += len(raw)
		if bytes.Contains(raw, der) || bytes.Contains(raw, d) {
			t.Fatalf("%s holds the private key in the clear", p)
		}
	}
	if seen == 0 {
		t.Fatal("no database file to check")
	}
}
