// Package identity runs a certificate authority per organisation and issues
// the X.509 identities (ECDSA P-256) that act on the ledger. Each identity
// carries its role as a certificate attribute in the Fabric CA format
// (extension 1.2.3.4.5.6.7.8.1 holding {"attrs":{"role":…}}), so the
// contract reads it the same way on Fabric and on the embedded ledger. The
// material is written in Fabric's MSP folder layout.
package identity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/greenmint/greenmint"
)

// AttrOID is the Fabric CA attribute extension's object identifier.
var AttrOID = asn1.ObjectIdentifier{1, 2, 3, 4, 5, 6, 7, 8, 1}

// Node organisational units, as Fabric's NodeOUs classify identities.
const (
	OUClient  = "client"
	OUAdmin   = "admin"
	OUPeer    = "peer"
	OUOrderer = "orderer"
)

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// CA is one organisation's certificate authority.
type CA struct {
	MSPID string
	Cert  *x509.Certificate
	Key   *ecdsa.PrivateKey
}

// NewCA creates a self-signed root CA for the organisation mspID.
func NewCA(mspID string, now time.Time) (*CA, error) {
	if !namePattern.MatchString(mspID) {
		return nil, greenmint.Errorf(greenmint.EINVALID, "MSP ID %q must be 1-64 letters, digits, '.', '_' or '-'", mspID)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("identity.NewCA: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "ca." + mspID, Organization: []string{mspID}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(20, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		SubjectKeyId:          ski(&key.PublicKey),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("identity.NewCA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("identity.NewCA: %w", err)
	}
	return &CA{MSPID: mspID, Cert: cert, Key: key}, nil
}

// CertPEM returns the CA certificate in PEM.
func (ca *CA) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// Enrollment is an issued identity: certificate and private key.
type Enrollment struct {
	Name  string
	MSPID string
	Role  greenmint.Role
	Cert  *x509.Certificate
	Key   *ecdsa.PrivateKey
}

// Identity returns the enrollment as a greenmint.Identity.
func (e *Enrollment) Identity() *greenmint.Identity {
	return &greenmint.Identity{
		MSPID:       e.MSPID,
		Certificate: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.Cert.Raw}),
		Signer:      e.Key,
	}
}

type attributes struct {
	Attrs map[string]string `json:"attrs"`
}

// Issue enrolls a new identity named name with the given role and node OU
// (OUClient for users, OUPeer or OUOrderer for nodes, OUAdmin for admins).
// hosts become DNS SANs, for node TLS.
func (ca *CA) Issue(name string, role greenmint.Role, ou string, now time.Time, hosts ...string) (*Enrollment, error) {
	if !namePattern.MatchString(name) {
		return nil, greenmint.Errorf(greenmint.EINVALID, "name %q must be 1-64 letters, digits, '.', '_' or '-'", name)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("identity.Issue: %w", err)
	}
	cert, err := ca.issue(name, role, ou, &key.PublicKey, now, hosts)
	if err != nil {
		return nil, err
	}
	return &Enrollment{Name: name, MSPID: ca.MSPID, Role: role, Cert: cert, Key: key}, nil
}

// issue signs a certificate for pub, named name, with the role attribute
// and node OU.
func (ca *CA) issue(name string, role greenmint.Role, ou string, pub *ecdsa.PublicKey, now time.Time, hosts []string) (*x509.Certificate, error) {
	attrs := map[string]string{"hf.EnrollmentID": name, "hf.Type": ou, "hf.Affiliation": ""}
	if role != "" {
		attrs[greenmint.RoleAttribute] = string(role)
	}
	ext, err := json.Marshal(attributes{Attrs: attrs})
	if err != nil {
		return nil, fmt.Errorf("identity.Issue: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:    serial(),
		Subject:         pkix.Name{CommonName: name, Organization: []string{ca.MSPID}, OrganizationalUnit: []string{ou}},
		NotBefore:       now.Add(-time.Hour),
		NotAfter:        now.AddDate(10, 0, 0),
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtKeyUsage:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		DNSNames:        dnsNames(hosts),
		IPAddresses:     ipAddresses(hosts),
		SubjectKeyId:    ski(pub),
		AuthorityKeyId:  ca.Cert.SubjectKeyId,
		ExtraExtensions: []pkix.Extension{{Id: AttrOID, Value: ext}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("identity.Issue: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("identity.Issue: %w", err)
	}
	return cert, nil
}

func dnsNames(hosts []string) []string {
	var out []string
	for _, h := range hosts {
		if net.ParseIP(h) == nil {
			out = append(out, h)
		}
	}
	return out
}

func ipAddresses(hosts []string) []net.IP {
	var out []net.IP
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			out = append(out, ip)
		}
	}
	return out
}

// RoleOf reads the role attribute from a certificate.
func RoleOf(cert *x509.Certificate) (greenmint.Role, bool) {
	for _, e := range cert.Extensions {
		if e.Id.Equal(AttrOID) {
			var a attributes
			if json.Unmarshal(e.Value, &a) != nil {
				return "", false
			}
			r, ok := a.Attrs[greenmint.RoleAttribute]
			return greenmint.Role(r), ok
		}
	}
	return "", false
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

func ski(pub *ecdsa.PublicKey) []byte {
	b, _ := pub.ECDH()
	s := sha256.Sum256(b.Bytes())
	return s[:]
}

// nodeOUConfig is the MSP config.yaml that turns on Fabric's NodeOUs.
const nodeOUConfig = `NodeOUs:
  Enable: true
  ClientOUIdentifier:
    Certificate: cacerts/ca.pem
    OrganizationalUnitIdentifier: client
  PeerOUIdentifier:
    Certificate: cacerts/ca.pem
    OrganizationalUnitIdentifier: peer
  AdminOUIdentifier:
    Certificate: cacerts/ca.pem
    OrganizationalUnitIdentifier: admin
  OrdererOUIdentifier:
    Certificate: cacerts/ca.pem
    OrganizationalUnitIdentifier: orderer
`

// Store keeps organisations' CAs and identities under one directory in
// Fabric's layout:
//
//	<dir>/<MSP ID>/ca/{ca.pem,priv_sk}           the CA's certificate and key
//	<dir>/<MSP ID>/msp/{cacerts/ca.pem,config.yaml}  the organisation's MSP
//	<dir>/<MSP ID>/users/<name>/msp/{signcerts/cert.pem,keystore/priv_sk,cacerts/ca.pem,config.yaml}
type Store struct {
	Dir string
	Now func() time.Time

	revokeMu sync.Mutex // one revocation list update at a time in this process
}

// NewStore returns a store rooted at dir.
func NewStore(dir string) *Store { return &Store{Dir: dir, Now: time.Now} }

// CreateOrg creates an organisation's CA and MSP folder.
func (s *Store) CreateOrg(mspID string) (*CA, error) {
	if _, err := os.Stat(filepath.Join(s.Dir, mspID, "ca", "ca.pem")); err == nil {
		return nil, greenmint.Errorf(greenmint.ECONFLICT, "organisation %s already exists", mspID)
	}
	ca, err := NewCA(mspID, s.Now())
	if err != nil {
		return nil, err
	}
	keyPEM, err := keyToPEM(ca.Key)
	if err != nil {
		return nil, err
	}
	org := filepath.Join(s.Dir, mspID)
	files := map[string][]byte{
		filepath.Join(org, "ca", "ca.pem"):                ca.CertPEM(),
		filepath.Join(org, "ca", "priv_sk"):               keyPEM,
		filepath.Join(org, "msp", "cacerts", "ca.pem"):    ca.CertPEM(),
		filepath.Join(org, "msp", "tlscacerts", "ca.pem"): ca.CertPEM(),
		filepath.Join(org, "msp", "config.yaml"):          []byte(nodeOUConfig),
	}
	if err := writeFiles(files); err != nil {
		return nil, fmt.Errorf("identity.CreateOrg: %w", err)
	}
	return ca, nil
}

// CA loads an organisation's CA.
func (s *Store) CA(mspID string) (*CA, error) {
	org := filepath.Join(s.Dir, mspID, "ca")
	cert, err := readCert(filepath.Join(org, "ca.pem"))
	if err != nil {
		return nil, greenmint.E(greenmint.ENOTFOUND, "", err, "organisation %s", mspID)
	}
	key, err := readKey(filepath.Join(org, "priv_sk"))
	if err != nil {
		return nil, fmt.Errorf("identity.CA: %w", err)
	}
	return &CA{MSPID: mspID, Cert: cert, Key: key}, nil
}

// Orgs lists the organisations in the store, sorted.
func (s *Store) Orgs() ([]string, error) {
	entries, err := os.ReadDir(s.Dir)
	if err != nil {
		return nil, fmt.Errorf("identity.Orgs: %w", err)
	}
	var out []string
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(s.Dir, e.Name(), "msp", "cacerts", "ca.pem")); err == nil {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// RootCertPEM returns an organisation's CA certificate.
func (s *Store) RootCertPEM(mspID string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(s.Dir, mspID, "msp", "cacerts", "ca.pem"))
	if err != nil {
		return nil, greenmint.Errorf(greenmint.ENOTFOUND, "organisation %s has no MSP", mspID)
	}
	return b, nil
}

// Enroll issues a user identity in an organisation and writes its MSP folder.
func (s *Store) Enroll(mspID, name string, role greenmint.Role) (*Enrollment, error) {
	dir := filepath.Join(s.Dir, mspID, "users", name, "msp")
	if _, err := os.Stat(filepath.Join(dir, "signcerts", "cert.pem")); err == nil {
		return nil, greenmint.Errorf(greenmint.ECONFLICT, "identity %s@%s already exists", name, mspID)
	}
	ca, err := s.CA(mspID)
	if err != nil {
		return nil, err
	}
	e, err := ca.Issue(name, role, OUClient, s.Now())
	if err != nil {
		return nil, err
	}
	if err := s.WriteMSP(dir, ca, e); err != nil {
		return nil, err
	}
	return e, nil
}

// WriteMSP writes an enrollment's MSP folder.
func (s *Store) WriteMSP(dir string, ca *CA, e *Enrollment) error {
	keyPEM, err := keyToPEM(e.Key)
	if err != nil {
		return err
	}
	files := map[string][]byte{
		filepath.Join(dir, "signcerts", "cert.pem"): pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.Cert.Raw}),
		filepath.Join(dir, "keystore", "priv_sk"):   keyPEM,
		filepath.Join(dir, "cacerts", "ca.pem"):     ca.CertPEM(),
		filepath.Join(dir, "tlscacerts", "ca.pem"):  ca.CertPEM(),
		filepath.Join(dir, "config.yaml"):           []byte(nodeOUConfig),
	}
	if err := writeFiles(files); err != nil {
		return fmt.Errorf("identity.WriteMSP: %w", err)
	}
	return nil
}

// EnrollNode issues a Fabric node or admin identity: role "" and node OU
// OUPeer, OUOrderer or OUAdmin. It writes <org>/nodes/<name>/msp (the
// signing identity) and <org>/nodes/<name>/tls/{server.crt,server.key,ca.crt}
// (a TLS certificate from the same CA for hosts, which may be DNS names or
// IP addresses) and returns <org>/nodes/<name>.
func (s *Store) EnrollNode(mspID, name, ou string, hosts ...string) (string, error) {
	dir := filepath.Join(s.Dir, mspID, "nodes", name)
	if _, err := os.Stat(dir); err == nil {
		return "", greenmint.Errorf(greenmint.ECONFLICT, "node %s@%s already exists", name, mspID)
	}
	ca, err := s.CA(mspID)
	if err != nil {
		return "", err
	}
	e, err := ca.Issue(name, "", ou, s.Now(), hosts...)
	if err != nil {
		return "", err
	}
	if err := s.WriteMSP(filepath.Join(dir, "msp"), ca, e); err != nil {
		return "", err
	}
	tlsID, err := ca.Issue(name, "", ou, s.Now(), hosts...)
	if err != nil {
		return "", err
	}
	keyPEM, err := keyToPEM(tlsID.Key)
	if err != nil {
		return "", err
	}
	files := map[string][]byte{
		filepath.Join(dir, "tls", "server.crt"): pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsID.Cert.Raw}),
		filepath.Join(dir, "tls", "server.key"): keyPEM,
		filepath.Join(dir, "tls", "ca.crt"):     ca.CertPEM(),
	}
	if err := writeFiles(files); err != nil {
		return "", fmt.Errorf("identity.EnrollNode: %w", err)
	}
	return dir, nil
}

// Load reads an enrolled user's identity.
func (s *Store) Load(mspID, name string) (*Enrollment, error) {
	dir := filepath.Join(s.Dir, mspID, "users", name, "msp")
	cert, err := readCert(filepath.Join(dir, "signcerts", "cert.pem"))
	if err != nil {
		return nil, greenmint.E(greenmint.ENOTFOUND, "", err, "identity %s@%s", name, mspID)
	}
	key, err := readKey(filepath.Join(dir, "keystore", "priv_sk"))
	if err != nil {
		return nil, fmt.Errorf("identity.Load: %w", err)
	}
	role, _ := RoleOf(cert)
	return &Enrollment{Name: name, MSPID: mspID, Role: role, Cert: cert, Key: key}, nil
}

func keyToPEM(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func readCert(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseCertPEM(b)
}

// ParseCertPEM parses one PEM certificate.
func ParseCertPEM(b []byte) (*x509.Certificate, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, greenmint.Errorf(greenmint.EINVALID, "not a PEM certificate")
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, greenmint.E(greenmint.EINVALID, "", err, "bad certificate")
	}
	return c, nil
}

func readKey(path string) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s: not PEM", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: not an ECDSA key", path)
	}
	return ek, nil
}

func writeFiles(files map[string][]byte) error {
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if filepath.Base(p) == "priv_sk" {
			mode = 0o600
		}
		if err := os.WriteFile(p, files[p], mode); err != nil {
			return err
		}
	}
	return nil
}

// CRLFile is an organisation's revocation list inside its MSP folder, where
// Fabric's MSP (and the embedded ledger) reads CRLs: <org>/msp/crls/crl.pem.
const CRLFile = "crl.pem"

// CRLPath returns the path of an organisation's revocation list.
func (s *Store) CRLPath(mspID string) string {
	return filepath.Join(s.Dir, mspID, "msp", "crls", CRLFile)
}

// Revoke revokes the certificate of the enrolled user name of the
// organisation mspID: it adds the certificate's serial number to the
// organisation's X.509 revocation list (keeping the entries already there),
// signs the list with the organisation's CA, as Fabric CA's gencrl does,
// and writes it atomically to CRLPath. It returns the list's path. Revoking
// an identity twice is ECONFLICT.
func (s *Store) Revoke(mspID, name string) (string, error) {
	if _, err := s.CA(mspID); err != nil {
		return "", err
	}
	e, err := s.Load(mspID, name)
	if err != nil {
		return "", err
	}
	return s.revoke(mspID, e.Cert.SerialNumber, fmt.Sprintf("identity %s@%s (serial %s)", name, mspID, e.Cert.SerialNumber))
}

// revoke adds serial to the organisation's revocation list; what names the
// certificate in the conflict of a second revocation.
func (s *Store) revoke(mspID string, serial *big.Int, what string) (string, error) {
	s.revokeMu.Lock()
	defer s.revokeMu.Unlock()
	ca, err := s.CA(mspID)
	if err != nil {
		return "", err
	}
	path := s.CRLPath(mspID)
	var entries []x509.RevocationListEntry
	number := big.NewInt(1)
	if raw, err := os.ReadFile(path); err == nil {
		blk, _ := pem.Decode(raw)
		if blk == nil || blk.Type != "X509 CRL" {
			return "", greenmint.Errorf(greenmint.EINVALID, "%s holds no PEM X509 CRL", path)
		}
		old, err := x509.ParseRevocationList(blk.Bytes)
		if err != nil {
			return "", greenmint.E(greenmint.EINVALID, "", err, "%s does not parse", path)
		}
		if err := old.CheckSignatureFrom(ca.Cert); err != nil {
			return "", greenmint.E(greenmint.EINVALID, "", err, "%s is not signed by %s's CA", path, mspID)
		}
		for _, r := range old.RevokedCertificateEntries {
			if r.SerialNumber.Cmp(serial) == 0 {
				return "", greenmint.Errorf(greenmint.ECONFLICT, "%s is already revoked", what)
			}
			entries = append(entries, x509.RevocationListEntry{SerialNumber: r.SerialNumber, RevocationTime: r.RevocationTime, ReasonCode: r.ReasonCode})
		}
		if old.Number != nil {
			number.Add(old.Number, big.NewInt(1))
		}
	} else if !os.IsNotExist(err) {
		return "", fmt.Errorf("identity.Revoke: %w", err)
	}
	now := s.Now()
	entries = append(entries, x509.RevocationListEntry{SerialNumber: serial, RevocationTime: now})
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    number,
		ThisUpdate:                now,
		NextUpdate:                ca.Cert.NotAfter,
		RevokedCertificateEntries: entries,
	}, ca.Cert, ca.Key)
	if err != nil {
		return "", fmt.Errorf("identity.Revoke: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", fmt.Errorf("identity.Revoke: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".crl-*")
	if err != nil {
		return "", fmt.Errorf("identity.Revoke: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})); err != nil {
		tmp.Close()
		return "", fmt.Errorf("identity.Revoke: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", fmt.Errorf("identity.Revoke: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("identity.Revoke: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return "", fmt.Errorf("identity.Revoke: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("identity.Revoke: %w", err)
	}
	return path, nil
}
