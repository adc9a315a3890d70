package fabricca_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/chaincode"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/fabricca"
	"github.com/greenmint/greenmint/fabricca/fabricatest"
	"github.com/greenmint/greenmint/identity"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/internal/store"
	"github.com/greenmint/greenmint/keyring"
	"github.com/greenmint/greenmint/ledger/embedded"
	"github.com/greenmint/greenmint/workspace"
)

// fabMSP is the organisation whose CA the test's fabric-ca-server is.
const fabMSP = "FabMinerMSP"

func newCA(tb testing.TB) *fabricca.CA {
	tb.Helper()
	ca, err := fabricca.New(context.Background(), []fabricca.Config{fabricca.ServerConfig(tb, fabMSP)}, fabricca.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return ca
}

func newKeyring(tb testing.TB, db *store.DB, ca keyring.CA) *keyring.Keyring {
	tb.Helper()
	kek := keyring.KEK{ID: "test", Key: make([]byte, keyring.KEKSize)}
	if _, err := rand.Read(kek.Key); err != nil {
		tb.Fatal(err)
	}
	k, err := keyring.New(db, ca, keyring.Options{KEKs: []keyring.KEK{kek}})
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// sqliteDB is a fresh, migrated SQLite database.
func sqliteDB(tb testing.TB) *store.DB {
	tb.Helper()
	db, err := store.Open(filepath.Join(tb.TempDir(), "greenmint.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return db
}

func parsePEM(tb testing.TB, b []byte) *x509.Certificate {
	tb.Helper()
	c, err := identity.ParseCertPEM(b)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func chainOf(tb testing.TB, ca *fabricca.CA) []byte {
	tb.Helper()
	chain, err := ca.ChainPEM(fabMSP)
	if err != nil {
		tb.Fatal(err)
	}
	return chain
}

// crlLists reports whether the CA's current CRL, which must be signed by
// the CA, lists serial.
func crlLists(tb testing.TB, ca *fabricca.CA, serial *big.Int) bool {
	tb.Helper()
	crlPEM, err := ca.CRL(context.Background(), fabMSP)
	if err != nil {
		tb.Fatal(err)
	}
	blk, _ := pem.Decode(crlPEM)
	rl, err := x509.ParseRevocationList(blk.Bytes)
	if err != nil {
		tb.Fatal(err)
	}
	if err := rl.CheckSignatureFrom(parsePEM(tb, chainOf(tb, ca))); err != nil {
		tb.Errorf("the CRL is not signed by the CA: %v", err)
	}
	for _, e := range rl.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(serial) == 0 {
			return true
		}
	}
	return false
}

// TestKeyringEnrollsWithFabricCA: a keyring over the Fabric CA enrolls a
// user whose certificate chains to the CA's root, names the user, is a
// client identity and carries the role attribute the contract reads
// (identity.RoleOf), and whose key the keyring holds; re-enrolment with
// another role replaces it and has the CA revoke the old certificate,
// which the CA's CRL then lists.
func TestKeyringEnrollsWithFabricCA(t *testing.T) {
	ctx := context.Background()
	ca := newCA(t)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(chainOf(t, ca))
	for kind, db := range greenminttest.StoreDBs(t) {
		t.Run(kind, func(t *testing.T) {
			k := newKeyring(t, db, ca)
			user := "alice-" + kind
			info, err := k.Enroll(ctx, user, fabMSP, greenmint.RoleMiner)
			if err != nil {
				t.Fatalf("Enroll: %v", err)
			}
			cert := parsePEM(t, info.Certificate)
			if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
				t.Errorf("the certificate does not chain to the Fabric CA's root: %v", err)
			}
			if role, ok := identity.RoleOf(cert); !ok || role != greenmint.RoleMiner {
				t.Errorf("identity.RoleOf(certificate) = %q, %v, want %q, true", role, ok, greenmint.RoleMiner)
			}
			if cert.Subject.CommonName != user {
				t.Errorf("CN = %q, want %q", cert.Subject.CommonName, user)
			}
			if !slices.Contains(cert.Subject.OrganizationalUnit, "client") {
				t.Errorf("OUs = %v, want the NodeOU client among them", cert.Subject.OrganizationalUnit)
			}
			id, err := k.Identity(ctx, user)
			if err != nil {
				t.Fatal(err)
			}
			digest := sha256.Sum256([]byte("proposal"))
			sig, err := id.Signer.Sign(rand.Reader, digest[:], nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := cert.CheckSignature(x509.ECDSAWithSHA256, []byte("proposal"), sig); err != nil {
				t.Errorf("the keyring's key does not sign for the Fabric CA's certificate: %v", err)
			}

			// Re-enrolment: the CA registers the user again with the new role.
			again, err := k.Reenroll(ctx, user, greenmint.RoleBuyer)
			if err != nil {
				t.Fatalf("Reenroll: %v", err)
			}
			newCert := parsePEM(t, again.Certificate)
			if role, _ := identity.RoleOf(newCert); role != greenmint.RoleBuyer {
				t.Errorf("role after Reenroll = %q, want %q", role, greenmint.RoleBuyer)
			}
			if newCert.SerialNumber.Cmp(cert.SerialNumber) == 0 {
				t.Errorf("Reenroll kept serial %s", cert.SerialNumber)
			}
			if n, err := k.RevokeRetired(ctx); err != nil || n != 0 {
				t.Errorf("RevokeRetired after Reenroll = %d, %v; want 0, nil (the CA revoked the old certificate)", n, err)
			}
			if !crlLists(t, ca, cert.SerialNumber) {
				t.Errorf("the CA's CRL does not list the old certificate %s", cert.SerialNumber)
			}
			if crlLists(t, ca, newCert.SerialNumber) {
				t.Errorf("the CA's CRL lists the new certificate %s", newCert.SerialNumber)
			}
		})
	}
}

// TestFabricCAIdentityOnEmbeddedLedger: on an embedded ledger whose
// channel trusts the Fabric CA's root for organisation FabMinerMSP (beside
// the demo consortium), a user the keyring enrolled there as a miner signs
// transactions the ledger accepts and the contract takes for a miner's
// once the registry admitted the organisation as one; a buyer of the same
// organisation is refused a miner's action; once the Fabric CA's CRL is in
// the organisation's MSP folder, the miner's revoked certificate is
// refused and its new one accepted.
func TestFabricCAIdentityOnEmbeddedLedger(t *testing.T) {
	ctx := context.Background()
	ca := newCA(t)
	dir := t.TempDir()
	orgsDir := filepath.Join(dir, "organizations")
	c, err := consortium.New(orgsDir, consortium.Demo())
	if err != nil {
		t.Fatal(err)
	}
	orgs, err := c.Orgs()
	if err != nil {
		t.Fatal(err)
	}
	ch := embedded.ChannelConfig{ChannelID: workspace.ChannelID, Chaincode: chaincode.Name}
	for _, o := range orgs {
		ch.Orgs = append(ch.Orgs, embedded.OrgConfig{MSPID: o.MSPID, RootCertPEM: o.RootCertPEM})
	}
	ch.Orgs = append(ch.Orgs, embedded.OrgConfig{MSPID: fabMSP, RootCertPEM: chainOf(t, ca)})
	ledgerDir := filepath.Join(dir, "ledger")
	if err := embedded.Create(ledgerDir, ch); err != nil {
		t.Fatal(err)
	}
	cc, err := chaincode.New(workspace.ChaincodeConfig(consortium.Demo()))
	if err != nil {
		t.Fatal(err)
	}
	l, err := embedded.Open(ledgerDir, cc, embedded.Options{MSPDir: orgsDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	env, err := greenminttest.NewEnv(l, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	admit := greenmint.AdmitOrganizationRequest{MSPID: fabMSP, Roles: []greenmint.Role{greenmint.RoleMiner}}
	if _, err := greenmint.SubmitJSON(ctx, l, env.Registry, greenmint.TxAdmitOrganization, admit, nil); err != nil {
		t.Fatal(err)
	}

	db := sqliteDB(t)
	k := newKeyring(t, db, ca)
	if _, err := k.Enroll(ctx, "fab-miner", fabMSP, greenmint.RoleMiner); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Enroll(ctx, "fab-buyer", fabMSP, greenmint.RoleBuyer); err != nil {
		t.Fatal(err)
	}
	miner, err := k.Identity(ctx, "fab-miner")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.RegisterSite(ctx, miner, "SITE0901"); err != nil {
		t.Fatalf("a Fabric CA miner registering a site: %v", err)
	}
	var site greenmint.Site
	if err := greenmint.EvaluateJSON(ctx, l, env.Auditor, greenmint.QueryGetSite, greenmint.IDQuery{ID: "SITE0901"}, &site); err != nil {
		t.Fatal(err)
	}
	if site.Owner != fabMSP {
		t.Errorf("site owner = %q, want %q", site.Owner, fabMSP)
	}

	buyer, err := k.Identity(ctx, "fab-buyer")
	if err != nil {
		t.Fatal(err)
	}
	_, err = env.RegisterSite(ctx, buyer, "SITE0902")
	if greenmint.ErrorCode(err) != greenmint.EFORBIDDEN {
		t.Errorf("a Fabric CA buyer registering a site = %v, want forbidden", err)
	}

	// Revocation: re-enrolment revokes the old certificate at the Fabric
	// CA; its CRL in the organisation's MSP folder makes the ledger refuse it.
	if _, err := k.Reenroll(ctx, "fab-miner", greenmint.RoleMiner); err != nil {
		t.Fatal(err)
	}
	crl, err := ca.CRL(ctx, fabMSP)
	if err != nil {
		t.Fatal(err)
	}
	crls := filepath.Join(orgsDir, fabMSP, "msp", "crls")
	if err := os.MkdirAll(crls, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(crls, "crl.pem"), crl, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := l.ReloadRevocations(); err != nil {
		t.Fatalf("ReloadRevocations with the Fabric CA's CRL: %v", err)
	}
	_, err = env.RegisterSite(ctx, miner, "SITE0903")
	if greenmint.ErrorCode(err) != greenmint.EUNAUTHENTICATED {
		t.Errorf("the revoked certificate registering a site = %v, want unauthenticated", err)
	}
	renewed, err := k.Identity(ctx, "fab-miner")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.RegisterSite(ctx, renewed, "SITE0904"); err != nil {
		t.Errorf("the re-enrolled miner registering a site: %v", err)
	}
}

// TestFabricCAServesAnOrganisationsCA: docker-compose.yml's setup. A
// fabric-ca-server started with an organisation's CA certificate and key
// as `greenmint fabric init` (identity.Store) wrote them issues users
// whom the network already trusts: on the demo workspace's embedded
// ledger, a MinerMSP miner the keyring enrolled through that Fabric CA
// registers a site, with no change to the channel.
func TestFabricCAServesAnOrganisationsCA(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	w, err := workspace.Create(workspace.Config{Dir: dir}, consortium.Demo())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	orgCA := filepath.Join(w.Config.OrganizationsDir(), consortium.MinerMSP, "ca")
	srv := fabricatest.StartTB(t, "ca-miner", filepath.Join(orgCA, "ca.pem"), filepath.Join(orgCA, "priv_sk"))
	cfg := fabricca.ConfigOf(srv, consortium.MinerMSP)
	ca, err := fabricca.New(ctx, []fabricca.Config{cfg}, fabricca.Options{})
	if err != nil {
		t.Fatal(err)
	}
	env, err := greenminttest.NewEnv(w.Ledger, w.Consortium)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	k := newKeyring(t, sqliteDB(t), ca)
	info, err := k.Enroll(ctx, "miner-via-fabric-ca", consortium.MinerMSP, greenmint.RoleMiner)
	if err != nil {
		t.Fatal(err)
	}
	root, err := w.Consortium.Store.RootCertPEM(consortium.MinerMSP)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(root)
	if _, err := parsePEM(t, info.Certificate).Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Errorf("the certificate does not chain to MinerMSP's own CA: %v", err)
	}
	miner, err := k.Identity(ctx, "miner-via-fabric-ca")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.RegisterSite(ctx, miner, "SITE0911"); err != nil {
		t.Fatalf("a MinerMSP miner from Fabric CA registering a site: %v", err)
	}
}

// TestOthersGoToTheirOwnCA: with Options.Others, the organisations without
// a Fabric CA have their users issued and revoked by that CA (here the
// project's own), the others by their Fabric CA, through one keyring.
func TestOthersGoToTheirOwnCA(t *testing.T) {
	ctx := context.Background()
	own := identity.NewStore(t.TempDir())
	if _, err := own.CreateOrg(consortium.BuyerMSP); err != nil {
		t.Fatal(err)
	}
	ca, err := fabricca.New(ctx, []fabricca.Config{fabricca.ServerConfig(t, fabMSP)}, fabricca.Options{Others: own})
	if err != nil {
		t.Fatal(err)
	}
	k := newKeyring(t, sqliteDB(t), ca)
	for _, tc := range []struct {
		user, msp string
		root      func() ([]byte, error)
	}{
		{"buyer-own-ca", consortium.BuyerMSP, func() ([]byte, error) { return own.RootCertPEM(consortium.BuyerMSP) }},
		{"miner-fabric-ca", fabMSP, func() ([]byte, error) { return ca.ChainPEM(fabMSP) }},
	} {
		info, err := k.Enroll(ctx, tc.user, tc.msp, greenmint.RoleBuyer)
		if err != nil {
			t.Fatalf("Enroll(%s in %s): %v", tc.user, tc.msp, err)
		}
		root, err := tc.root()
		if err != nil {
			t.Fatal(err)
		}
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(root)
		if _, err := parsePEM(t, info.Certificate).Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			t.Errorf("%s's certificate does not chain to %s's CA: %v", tc.user, tc.msp, err)
		}
		if _, err := k.Reenroll(ctx, tc.user, greenmint.RoleAuditor); err != nil {
			t.Errorf("Reenroll(%s in %s) (the old certificate revoked by its CA): %v", tc.user, tc.msp, err)
		}
	}
	if _, err := os.Stat(filepath.Join(own.Dir, consortium.BuyerMSP, "msp", "crls", "crl.pem")); err != nil {
		t.Errorf("the project's own CA has no CRL for the revoked buyer certificate: %v", err)
	}
}
