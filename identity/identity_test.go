package identity_test

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/identity"
	"github.com/hyperledger/fabric-chaincode-go/v2/pkg/attrmgr"
)

func TestIssuedIdentityCarriesRoleInFabricFormat(t *testing.T) {
	s := identity.NewStore(t.TempDir())
	ca, err := s.CreateOrg("MinerMSP")
	if err != nil {
		t.Fatal(err)
	}
	e, err := s.Enroll("MinerMSP", "alice", greenmint.RoleMiner)
	if err != nil {
		t.Fatal(err)
	}
	// Fabric's own attribute reader, as the contract's cid package uses it.
	attrs, err := attrmgr.New().GetAttributesFromCert(e.Cert)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := attrs.Value("role"); !ok || v != "miner" {
		t.Fatalf("role attribute = %q, %v; want miner", v, ok)
	}
	if v, ok, _ := attrs.Value("hf.EnrollmentID"); !ok || v != "alice" {
		t.Fatalf("hf.EnrollmentID = %q, %v", v, ok)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	if _, err := e.Cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatalf("identity does not chain to its CA: %v", err)
	}
	if got := e.Cert.Subject.OrganizationalUnit; len(got) != 1 || got[0] != identity.OUClient {
		t.Fatalf("OU = %v, want [client] for Fabric NodeOUs", got)
	}
	other, err := identity.NewCA("OtherMSP", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	foreign := x509.NewCertPool()
	foreign.AddCert(other.Cert)
	if _, err := e.Cert.Verify(x509.VerifyOptions{Roots: foreign, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err == nil {
		t.Fatal("identity verifies against another organisation's CA")
	}
}

func TestMSPLayoutAndReload(t *testing.T) {
	dir := t.TempDir()
	s := identity.NewStore(dir)
	if _, err := s.CreateOrg("BuyerMSP"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateOrg("BuyerMSP"); greenmint.ErrorCode(err) != greenmint.ECONFLICT {
		t.Fatalf("second CreateOrg = %v, want conflict", err)
	}
	e, err := s.Enroll("BuyerMSP", "bob", greenmint.RoleBuyer)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{
		"BuyerMSP/msp/cacerts/ca.pem", "BuyerMSP/msp/config.yaml",
		"BuyerMSP/users/bob/msp/signcerts/cert.pem", "BuyerMSP/users/bob/msp/keystore/priv_sk",
		"BuyerMSP/users/bob/msp/cacerts/ca.pem", "BuyerMSP/users/bob/msp/config.yaml",
	} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("MSP file %s: %v", p, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "BuyerMSP/users/bob/msp/keystore/priv_sk")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("private key mode = %v, want 0600", fi.Mode().Perm())
	}
	back, err := s.Load("BuyerMSP", "bob")
	if err != nil {
		t.Fatal(err)
	}
	if !back.Cert.Equal(e.Cert) || back.Role != greenmint.RoleBuyer || !back.Key.Equal(e.Key) {
		t.Fatal("reloaded identity differs")
	}
	if _, err := s.Load("BuyerMSP", "nobody"); greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
		t.Fatalf("Load of a missing user = %v", err)
	}
	if _, err := s.Enroll("BuyerMSP", "../escape", greenmint.RoleBuyer); greenmint.ErrorCode(err) != greenmint.EINVALID {
		t.Fatalf("path-like name = %v, want invalid", err)
	}
	orgs, err := s.Orgs()
	if err != nil || len(orgs) != 1 || orgs[0] != "BuyerMSP" {
		t.Fatalf("Orgs = %v, %v", orgs, err)
	}
}
