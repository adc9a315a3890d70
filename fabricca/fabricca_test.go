package fabricca

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/identity"
)

const fabMSP = "FabMinerMSP"

func wantCode(tb testing.TB, what string, err error, code string) {
	tb.Helper()
	if got := greenmint.ErrorCode(err); got != code {
		tb.Fatalf("%s = %v (code %q), want code %q", what, err, got, code)
	}
}

func parsePEM(tb testing.TB, b []byte) *x509.Certificate {
	tb.Helper()
	c, err := identity.ParseCertPEM(b)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func csrFor(tb testing.TB, name string) ([]byte, *ecdsa.PrivateKey) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: name}}, key)
	if err != nil {
		tb.Fatal(err)
	}
	return der, key
}

// crlLists reports whether the CA's current CRL lists serial.
func crlLists(tb testing.TB, ca *CA, mspID string, serial *big.Int) bool {
	tb.Helper()
	crlPEM, err := ca.CRL(context.Background(), mspID)
	if err != nil {
		tb.Fatal(err)
	}
	blk, _ := pem.Decode(crlPEM)
	rl, err := x509.ParseRevocationList(blk.Bytes)
	if err != nil {
		tb.Fatal(err)
	}
	chain, _ := ca.ChainPEM(mspID)
	if err := rl.CheckSignatureFrom(parsePEM(tb, chain)); err != nil {
		tb.Errorf("the CRL is not signed by the CA: %v", err)
	}
	for _, e := range rl.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(serial) == 0 {
			return true
		}
	}
	return false
}

// TestRevokeCertificate: a certificate the CA issued is revoked once;
// again is ECONFLICT, a serial it never issued ENOTFOUND.
func TestRevokeCertificate(t *testing.T) {
	s := needServer(t)
	ctx := context.Background()
	ca := mustNew(t, s, fabMSP)
	csr, _ := csrFor(t, "revokee")
	certPEM, err := ca.IssueCertificate(ctx, fabMSP, "revokee", greenmint.RoleAuditor, csr)
	if err != nil {
		t.Fatal(err)
	}
	serial := parsePEM(t, certPEM).SerialNumber
	if err := ca.RevokeCertificate(ctx, fabMSP, serial); err != nil {
		t.Fatalf("RevokeCertificate: %v", err)
	}
	if !crlLists(t, ca, fabMSP, serial) {
		t.Errorf("the CRL does not list revoked certificate %s", serial)
	}
	wantCode(t, "RevokeCertificate(again)", ca.RevokeCertificate(ctx, fabMSP, serial), greenmint.ECONFLICT)
	wantCode(t, "RevokeCertificate(never issued)", ca.RevokeCertificate(ctx, fabMSP, big.NewInt(0x5eed)), greenmint.ENOTFOUND)
	wantCode(t, "RevokeCertificate(serial 0)", ca.RevokeCertificate(ctx, fabMSP, big.NewInt(0)), greenmint.EINVALID)
	wantCode(t, "RevokeCertificate(nil)", ca.RevokeCertificate(ctx, fabMSP, nil), greenmint.EINVALID)
	wantCode(t, "RevokeCertificate(unknown organisation)", ca.RevokeCertificate(ctx, "NoSuchMSP", serial), greenmint.ENOTFOUND)
}

// TestIssueCertificateBadInput: what the CA port refuses, before or at
// the Fabric CA.
func TestIssueCertificateBadInput(t *testing.T) {
	s := needServer(t)
	ctx := context.Background()
	ca := mustNew(t, s, fabMSP)

	good, _ := csrFor(t, "bad-input")
	tampered := slices.Clone(good)
	tampered[len(tampered)-5] ^= 0xff // inside the signature
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384CSR, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "bad-input"}}, p384)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsaCSR, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "bad-input"}}, rsaKey)
	other, _ := csrFor(t, "someone-else")
	admin, _ := csrFor(t, testRegistrar)
	peerCSR, _ := csrFor(t, "peer0-fab")

	// An identity of another kind under the name a user asks for.
	srv := ca.servers[fabMSP]
	peerReg := map[string]any{"id": "peer0-fab", "type": "peer", "secret": "peerpw", "affiliation": "", "caname": s.CAName}
	if err := srv.call(ctx, http.MethodPost, "register", peerReg, nil, registrarAuth); err != nil && greenmint.ErrorCode(err) != greenmint.ECONFLICT {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name  string
		msp   string
		user  string
		role  greenmint.Role
		csr   []byte
		code  string
		words string
	}{
		{"unknown role", fabMSP, "bad-input", "admin", good, greenmint.EINVALID, "role"},
		{"no role", fabMSP, "bad-input", "", good, greenmint.EINVALID, "role"},
		{"bad name", fabMSP, "bad input!", greenmint.RoleMiner, good, greenmint.EINVALID, "name"},
		{"long name", fabMSP, strings.Repeat("a", 65), greenmint.RoleMiner, good, greenmint.EINVALID, "name"},
		{"garbage request", fabMSP, "bad-input", greenmint.RoleMiner, []byte("not a CSR"), greenmint.EINVALID, "does not parse"},
		{"request not signed by its key", fabMSP, "bad-input", greenmint.RoleMiner, tampered, greenmint.EINVALID, "not signed"},
		{"P-384 key", fabMSP, "bad-input", greenmint.RoleMiner, p384CSR, greenmint.EINVALID, "P-256"},
		{"RSA key", fabMSP, "bad-input", greenmint.RoleMiner, rsaCSR, greenmint.EINVALID, "P-256"},
		{"request for another name", fabMSP, "bad-input", greenmint.RoleMiner, other, greenmint.EINVALID, "someone-else"},
		{"unknown organisation", "NoSuchMSP", "bad-input", greenmint.RoleMiner, good, greenmint.ENOTFOUND, "NoSuchMSP"},
		{"the registrar's name", fabMSP, testRegistrar, greenmint.RoleMiner, admin, greenmint.ECONFLICT, "registrar"},
		{"a peer's name", fabMSP, "peer0-fab", greenmint.RoleMiner, peerCSR, greenmint.ECONFLICT, "not a Greenmint user"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ca.IssueCertificate(ctx, tc.msp, tc.user, tc.role, tc.csr)
			wantCode(t, "IssueCertificate", err, tc.code)
			if !strings.Contains(err.Error(), tc.words) {
				t.Errorf("IssueCertificate = %v, want it to say %q", err, tc.words)
			}
		})
	}

	// The peer identity is left as it was: its secret still enrolls it.
	if _, _, err := srv.enroll(ctx, "peer0-fab", "peerpw", peerCSR, nil); err != nil {
		t.Errorf("the peer identity no longer enrolls with its own secret: %v", err)
	}
	// An unauthenticated enrollment is refused as such.
	_, _, err := srv.enroll(ctx, "peer0-fab", "wrong", peerCSR, nil)
	wantCode(t, "enroll(wrong secret)", err, greenmint.EUNAUTHENTICATED)
}

// TestReregister: the same name issued twice (a user made again after a
// failure, or re-enrolled) gets a second certificate, with the new role.
func TestReregister(t *testing.T) {
	s := needServer(t)
	ctx := context.Background()
	ca := mustNew(t, s, fabMSP)
	var serials []*big.Int
	for _, role := range []greenmint.Role{greenmint.RoleOracle, greenmint.RoleRegistry} {
		csr, key := csrFor(t, "twice")
		certPEM, err := ca.IssueCertificate(ctx, fabMSP, "twice", role, csr)
		if err != nil {
			t.Fatalf("IssueCertificate(%s): %v", role, err)
		}
		cert := parsePEM(t, certPEM)
		if got, _ := identity.RoleOf(cert); got != role {
			t.Errorf("role = %q, want %q", got, role)
		}
		if !key.PublicKey.Equal(cert.PublicKey) {
			t.Errorf("the certificate certifies another key")
		}
		serials = append(serials, cert.SerialNumber)
	}
	if serials[0].Cmp(serials[1]) == 0 {
		t.Errorf("both certificates have serial %s", serials[0])
	}
}

// TestNewRefuses: configurations New refuses, and why.
func TestNewRefuses(t *testing.T) {
	s := needServer(t)
	ctx := context.Background()
	other, err := identity.NewCA("OtherMSP", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	selfSigned := other.CertPEM()
	good := configOf(s, fabMSP)
	for _, tc := range []struct {
		name string
		cfgs []Config
		code string
	}{
		{"none", nil, greenmint.EINVALID},
		{"wrong secret", []Config{configOf(s, fabMSP).WithSecret("wrong")}, greenmint.EUNAUTHENTICATED},
		{"unknown registrar", []Config{func() Config { c := configOf(s, fabMSP); c.Registrar = "nobody"; return c }()}, greenmint.EUNAUTHENTICATED},
		{"unknown CA name", []Config{func() Config { c := configOf(s, fabMSP); c.CAName = "ca-none"; return c }()}, greenmint.ENOTFOUND},
		{"another TLS root", []Config{func() Config { c := configOf(s, fabMSP); c.TLSRootCertPEM = selfSigned; return c }()}, greenmint.EUNAVAILABLE},
		{"no TLS root for https", []Config{func() Config { c := configOf(s, fabMSP); c.TLSRootCertPEM = nil; return c }()}, greenmint.EINVALID},
		{"nobody listening", []Config{func() Config { c := configOf(s, fabMSP); c.URL = "http://127.0.0.1:1"; return c }()}, greenmint.EUNAVAILABLE},
		{"not a URL", []Config{func() Config { c := configOf(s, fabMSP); c.URL = "ca-miner:7054"; return c }()}, greenmint.EINVALID},
		{"no MSP ID", []Config{func() Config { c := configOf(s, ""); return c }()}, greenmint.EINVALID},
		{"no registrar", []Config{func() Config { c := configOf(s, fabMSP); c.Registrar = ""; return c }()}, greenmint.EINVALID},
		{"no secret", []Config{{MSPID: fabMSP, URL: s.URL, TLSRootCertPEM: s.TLSRootPEM, Registrar: testRegistrar}}, greenmint.EINVALID},
		{"unset secret variable", []Config{{MSPID: fabMSP, URL: s.URL, TLSRootCertPEM: s.TLSRootPEM, Registrar: testRegistrar, RegistrarSecretEnv: "FABRICCA_TEST_UNSET"}}, greenmint.EINVALID},
		{"organisation twice", []Config{good, good}, greenmint.EINVALID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(ctx, tc.cfgs, Options{})
			wantCode(t, "New", err, tc.code)
			if strings.Contains(err.Error(), testSecret) || (len(tc.cfgs) > 0 && tc.cfgs[0].registrarSecret != "" && strings.Contains(err.Error(), tc.cfgs[0].registrarSecret)) {
				t.Errorf("New = %v, which shows the secret", err)
			}
		})
	}
}

// TestLoadConfig: a configuration file with relative paths, its secret in
// a file and in the environment.
func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("secret", "s3cret\n")
	write("tls.pem", "-----BEGIN CERTIFICATE-----\n")
	path := write("fabric-ca.json", `{"organizations": [
	  {"msp_id": "MinerMSP", "url": "https://ca-miner:7054", "ca_name": "ca-miner", "tls_root_cert": "tls.pem",
	   "registrar": "admin", "registrar_secret_file": "secret", "affiliation": "miner"},
	  {"msp_id": "BuyerMSP", "url": "http://ca-buyer:7054", "registrar": "admin", "registrar_secret_env": "FABRICCA_TEST_SECRET"}]}`)
	cfgs, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfgs) != 2 || cfgs[0].TLSRootCert != filepath.Join(dir, "tls.pem") || cfgs[0].RegistrarSecretFile != filepath.Join(dir, "secret") ||
		cfgs[0].CAName != "ca-miner" || cfgs[0].Affiliation != "miner" || cfgs[1].RegistrarSecretEnv != "FABRICCA_TEST_SECRET" {
		t.Fatalf("LoadConfig = %+v", cfgs)
	}
	if err := cfgs[0].resolve(); err != nil || cfgs[0].registrarSecret != "s3cret" || !strings.HasPrefix(string(cfgs[0].TLSRootCertPEM), "-----BEGIN") {
		t.Errorf("resolve(file secret) = %v, secret %q", err, cfgs[0].registrarSecret)
	}
	t.Setenv("FABRICCA_TEST_SECRET", "fromenv")
	if err := cfgs[1].resolve(); err != nil || cfgs[1].registrarSecret != "fromenv" {
		t.Errorf("resolve(env secret) = %v, secret %q", err, cfgs[1].registrarSecret)
	}
	for name, body := range map[string]string{
		"unknown field":   `{"organizations": [{"msp_id": "M", "url": "http://x", "registrar": "a", "secret": "inline"}]}`,
		"no organisation": `{"organizations": []}`,
		"not JSON":        `organizations: []`,
	} {
		_, err := LoadConfig(write("bad.json", body))
		wantCode(t, "LoadConfig("+name+")", err, greenmint.EINVALID)
	}
	_, err = LoadConfig(filepath.Join(dir, "missing.json"))
	wantCode(t, "LoadConfig(missing)", err, greenmint.EINVALID)
	both := Config{MSPID: "M", URL: "http://x", Registrar: "a", RegistrarSecretEnv: "FABRICCA_TEST_SECRET", RegistrarSecretFile: "secret"}
	wantCode(t, "resolve(both secrets)", both.resolve(), greenmint.EINVALID)
}

// TestToken: the token is fabric-ca-client's: base64(cert).base64(sig),
// the signature over SHA-256 of method.b64(uri).b64(body).b64(cert), with
// a low S (BCCSP refuses a high one).
func TestToken(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	certPEM := []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
	body := []byte(`{"id":"alice"}`)
	half := new(big.Int).Rsh(elliptic.P256().Params().N, 1)
	for range 64 { // a high S turns up in about half of the signatures
		tok, err := token(certPEM, key, "POST", "/api/v1/register?ca=x", body)
		if err != nil {
			t.Fatal(err)
		}
		b64cert, b64sig, ok := strings.Cut(tok, ".")
		if !ok || b64cert != base64.StdEncoding.EncodeToString(certPEM) {
			t.Fatalf("token = %q, want base64(cert).base64(sig)", tok)
		}
		sig, err := base64.StdEncoding.DecodeString(b64sig)
		if err != nil {
			t.Fatal(err)
		}
		b64 := base64.StdEncoding.EncodeToString
		digest := sha256.Sum256([]byte("POST." + b64([]byte("/api/v1/register?ca=x")) + "." + b64(body) + "." + b64cert))
		if !ecdsa.VerifyASN1(&key.PublicKey, digest[:], sig) {
			t.Fatal("the token's signature does not verify over method.b64(uri).b64(body).b64(cert)")
		}
		var rs struct{ R, S *big.Int }
		if _, err := asn1.Unmarshal(sig, &rs); err != nil {
			t.Fatal(err)
		}
		if rs.S.Cmp(half) > 0 {
			t.Fatalf("S = %s is high", rs.S)
		}
	}
}
