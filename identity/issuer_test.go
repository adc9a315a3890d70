package identity_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/identity"
	"github.com/hyperledger/fabric-chaincode-go/v2/pkg/attrmgr"
)

func csrFor(tb testing.TB, key any, cn string) []byte {
	tb.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}, key)
	if err != nil {
		tb.Fatal(err)
	}
	return der
}

// IssueCertificate certifies the requester's own key as a client identity
// with the role in Fabric CA's format, chained to the organisation's CA,
// without writing any user folder; bad requests are refused.
func TestIssueCertificate(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := identity.NewStore(dir)
	ca, err := s.CreateOrg("MinerMSP")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	certPEM, err := s.IssueCertificate(ctx, "MinerMSP", "user-1", greenmint.RoleMiner, csrFor(t, key, "ignored"))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := identity.ParseCertPEM(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		t.Fatal("the certificate is not for the requested key")
	}
	if cert.Subject.CommonName != "user-1" || len(cert.Subject.OrganizationalUnit) != 1 || cert.Subject.OrganizationalUnit[0] != identity.OUClient {
		t.Fatalf("subject = %v, want CN user-1, OU client", cert.Subject)
	}
	attrs, err := attrmgr.New().GetAttributesFromCert(cert)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := attrs.Value("role"); !ok || v != "miner" {
		t.Fatalf("role attribute = %q, %v; want miner", v, ok)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "MinerMSP", "users")); !os.IsNotExist(err) {
		t.Fatalf("IssueCertificate wrote a users folder: %v", err)
	}

	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	forged := csrFor(t, key, "x")
	forged[len(forged)-5] ^= 1
	for _, tc := range []struct {
		name, msp, user string
		role            greenmint.Role
		csr             []byte
		want            string
	}{
		{"garbage", "MinerMSP", "u", greenmint.RoleMiner, []byte("nope"), greenmint.EINVALID},
		{"bad signature", "MinerMSP", "u", greenmint.RoleMiner, forged, greenmint.EINVALID},
		{"Ed25519 key", "MinerMSP", "u", greenmint.RoleMiner, csrFor(t, edKey, "u"), greenmint.EINVALID},
		{"P-384 key", "MinerMSP", "u", greenmint.RoleMiner, csrFor(t, p384, "u"), greenmint.EINVALID},
		{"no role", "MinerMSP", "u", "", csrFor(t, key, "u"), greenmint.EINVALID},
		{"unknown role", "MinerMSP", "u", "wizard", csrFor(t, key, "u"), greenmint.EINVALID},
		{"bad name", "MinerMSP", "a/b", greenmint.RoleMiner, csrFor(t, key, "u"), greenmint.EINVALID},
		{"unknown organisation", "NoMSP", "u", greenmint.RoleMiner, csrFor(t, key, "u"), greenmint.ENOTFOUND},
	} {
		if _, err := s.IssueCertificate(ctx, tc.msp, tc.user, tc.role, tc.csr); greenmint.ErrorCode(err) != tc.want {
			t.Errorf("IssueCertificate(%s) = %v, want %s", tc.name, err, tc.want)
		}
	}
}

// RevokeCertificate adds a serial to the organisation's CRL, signed by its
// CA, keeping what is there; revoking it twice is a conflict.
func TestRevokeCertificate(t *testing.T) {
	ctx := context.Background()
	s := identity.NewStore(t.TempDir())
	ca, err := s.CreateOrg("MinerMSP")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int64{41, 42} {
		if err := s.RevokeCertificate(ctx, "MinerMSP", big.NewInt(n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RevokeCertificate(ctx, "MinerMSP", big.NewInt(42)); greenmint.ErrorCode(err) != greenmint.ECONFLICT {
		t.Fatalf("RevokeCertificate(42 again) = %v, want conflict", err)
	}
	if err := s.RevokeCertificate(ctx, "NoMSP", big.NewInt(1)); greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
		t.Fatalf("RevokeCertificate(NoMSP) = %v, want not_found", err)
	}
	if err := s.RevokeCertificate(ctx, "MinerMSP", big.NewInt(0)); greenmint.ErrorCode(err) != greenmint.EINVALID {
		t.Fatalf("RevokeCertificate(0) = %v, want invalid", err)
	}
	raw, err := os.ReadFile(s.CRLPath("MinerMSP"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(raw)
	crl, err := x509.ParseRevocationList(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(ca.Cert); err != nil {
		t.Fatal(err)
	}
	if len(crl.RevokedCertificateEntries) != 2 || crl.RevokedCertificateEntries[0].SerialNumber.Int64() != 41 || crl.RevokedCertificateEntries[1].SerialNumber.Int64() != 42 {
		t.Fatalf("CRL entries = %v, want 41 and 42", crl.RevokedCertificateEntries)
	}
}
