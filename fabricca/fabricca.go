// Package fabricca has users' ledger identities issued by their
// organisations' Hyperledger Fabric CAs: it is a client of Fabric CA's REST
// API (v1: cainfo, register, enroll, revoke, identities, gencrl) that
// implements the keyring's CA port (keyring.CA). Each organisation has one
// configured Fabric CA; the gateway acts there as the organisation's
// registrar, an identity it enrolls at start from its bootstrap secret
// (the key stays in memory). Issuing a certificate registers the user as a
// client identity carrying the role attribute (role=<role>:ecert, the
// Fabric CA attribute the contract reads) and enrolls it with the caller's
// certificate request, so the private key never leaves the caller.
// docs/fabric-ca.md describes the configuration and the choices.
package fabricca

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/keyring"
)

// Config is one organisation's Fabric CA.
type Config struct {
	// MSPID is the organisation's MSP ID.
	MSPID string `json:"msp_id"`
	// URL is the Fabric CA server's address, e.g. https://ca-miner:7054.
	URL string `json:"url"`
	// CAName names the CA within the server (its --ca.name); empty: the
	// server's default CA.
	CAName string `json:"ca_name,omitempty"`
	// TLSRootCert is the file of the root certificate (PEM) that the
	// server's TLS certificate chains to; required for an https URL. A
	// relative path is relative to the configuration file.
	TLSRootCert string `json:"tls_root_cert,omitempty"`
	// TLSRootCertPEM is the TLS root certificate itself; when set,
	// TLSRootCert is not read.
	TLSRootCertPEM []byte `json:"-"`
	// Registrar is the enrollment ID of the identity that registers users
	// (the server's bootstrap identity, or one registered with
	// hf.Registrar.Roles client, hf.Registrar.Attributes role, hf.Revoker
	// and hf.GenCRL).
	Registrar string `json:"registrar"`
	// RegistrarSecretEnv names the environment variable holding the
	// registrar's secret; RegistrarSecretFile is a file holding it (a
	// relative path is relative to the configuration file). Exactly one.
	RegistrarSecretEnv  string `json:"registrar_secret_env,omitempty"`
	RegistrarSecretFile string `json:"registrar_secret_file,omitempty"`
	// Affiliation is the affiliation users are registered in; empty: the
	// registrar's own.
	Affiliation string `json:"affiliation,omitempty"`

	registrarSecret string
}

// File is a configuration file: the Fabric CA of each organisation whose
// users the gateway enrolls.
type File struct {
	Organizations []Config `json:"organizations"`
}

// LoadConfig reads a configuration file (JSON, File) and the secrets and
// TLS roots it names. A file that does not parse or names what cannot be
// read is EINVALID.
func LoadConfig(path string) ([]Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, greenmint.E(greenmint.EINVALID, "fabricca.LoadConfig", err, "")
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, greenmint.E(greenmint.EINVALID, "fabricca.LoadConfig", err, "%s", path)
	}
	dir := filepath.Dir(path)
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	for i := range f.Organizations {
		f.Organizations[i].TLSRootCert = rel(f.Organizations[i].TLSRootCert)
		f.Organizations[i].RegistrarSecretFile = rel(f.Organizations[i].RegistrarSecretFile)
	}
	if len(f.Organizations) == 0 {
		return nil, greenmint.Errorf(greenmint.EINVALID, "%s names no organisation", path)
	}
	return f.Organizations, nil
}

// resolve checks cfg and reads its secret and TLS root.
func (cfg *Config) resolve() error {
	if cfg.MSPID == "" {
		return greenmint.Errorf(greenmint.EINVALID, "a Fabric CA's configuration needs the organisation's MSP ID")
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return greenmint.Errorf(greenmint.EINVALID, "the Fabric CA of %s needs an http or https URL, not %q", cfg.MSPID, cfg.URL)
	}
	if cfg.Registrar == "" {
		return greenmint.Errorf(greenmint.EINVALID, "the Fabric CA of %s needs its registrar's enrollment ID", cfg.MSPID)
	}
	switch {
	case cfg.registrarSecret != "":
	case cfg.RegistrarSecretEnv != "" && cfg.RegistrarSecretFile != "":
		return greenmint.Errorf(greenmint.EINVALID, "the Fabric CA of %s: give registrar_secret_env or registrar_secret_file, not both", cfg.MSPID)
	case cfg.RegistrarSecretEnv != "":
		cfg.registrarSecret = os.Getenv(cfg.RegistrarSecretEnv)
		if cfg.registrarSecret == "" {
			return greenmint.Errorf(greenmint.EINVALID, "the Fabric CA of %s: environment variable %s (its registrar's secret) is not set", cfg.MSPID, cfg.RegistrarSecretEnv)
		}
	case cfg.RegistrarSecretFile != "":
		b, err := os.ReadFile(cfg.RegistrarSecretFile)
		if err != nil {
			return greenmint.E(greenmint.EINVALID, "", err, "the Fabric CA of %s: its registrar's secret", cfg.MSPID)
		}
		cfg.registrarSecret = strings.TrimRight(string(b), "\r\n")
		if cfg.registrarSecret == "" {
			return greenmint.Errorf(greenmint.EINVALID, "the Fabric CA of %s: %s (its registrar's secret) is empty", cfg.MSPID, cfg.RegistrarSecretFile)
		}
	default:
		return greenmint.Errorf(greenmint.EINVALID, "the Fabric CA of %s needs its registrar's secret: registrar_secret_env or registrar_secret_file", cfg.MSPID)
	}
	if len(cfg.TLSRootCertPEM) == 0 && cfg.TLSRootCert != "" {
		b, err := os.ReadFile(cfg.TLSRootCert)
		if err != nil {
			return greenmint.E(greenmint.EINVALID, "", err, "the Fabric CA of %s: its TLS root certificate", cfg.MSPID)
		}
		cfg.TLSRootCertPEM = b
	}
	return nil
}

// WithSecret returns cfg with the registrar's secret given directly (tests
// and programs that hold it already), instead of RegistrarSecretEnv or
// RegistrarSecretFile.
func (cfg Config) WithSecret(secret string) Config {
	cfg.registrarSecret = secret
	return cfg
}

// Options tune a CA.
type Options struct {
	// Timeout bounds each request to a Fabric CA. Default 30 s.
	Timeout time.Duration
	// Now is the clock that decides when the registrar's certificate is
	// due for renewal. Default time.Now.
	Now func() time.Time
	// Others is the CA of the organisations that have no Fabric CA here
	// (e.g. the consortium's own CAs, identity.Store): IssueCertificate
	// and RevokeCertificate for them go to it. Nil: they are ENOTFOUND.
	Others keyring.CA
}

// CA is the organisations' Fabric CAs behind the keyring's CA port.
type CA struct {
	servers map[string]*server // MSP ID → its Fabric CA
	others  keyring.CA
}

// New connects to each organisation's Fabric CA: it reads the CA's chain
// (cainfo) and enrolls the registrar with its secret. A configuration that
// is incomplete or names an organisation twice is EINVALID; a server that
// does not answer EUNAVAILABLE; a registrar the server refuses
// EUNAUTHENTICATED.
func New(ctx context.Context, cfgs []Config, opts Options) (*CA, error) {
	const op = "fabricca.New"
	if len(cfgs) == 0 {
		return nil, greenmint.Errorf(greenmint.EINVALID, "no Fabric CA is configured")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c := &CA{servers: map[string]*server{}, others: opts.Others}
	for _, cfg := range cfgs {
		if err := cfg.resolve(); err != nil {
			return nil, greenmint.E("", op, err, "")
		}
		if _, dup := c.servers[cfg.MSPID]; dup {
			return nil, greenmint.Errorf(greenmint.EINVALID, "the Fabric CA of %s is configured twice", cfg.MSPID)
		}
		client, err := newHTTPClient(cfg, opts.Timeout)
		if err != nil {
			return nil, greenmint.E("", op, err, "")
		}
		base, _ := url.Parse(cfg.URL)
		base = base.JoinPath("api", "v1") // cfg.resolve checked it parses
		s := &server{cfg: cfg, base: base, client: client, now: opts.Now}
		if err := s.loadInfo(ctx); err != nil {
			return nil, greenmint.E("", op, err, "")
		}
		if err := s.enrollRegistrar(ctx); err != nil {
			return nil, greenmint.E("", op, err, "")
		}
		c.servers[cfg.MSPID] = s
	}
	return c, nil
}

// MSPIDs lists the organisations that have a Fabric CA here, sorted.
func (c *CA) MSPIDs() []string {
	out := make([]string, 0, len(c.servers))
	for id := range c.servers {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

func (c *CA) server(mspID string) (*server, error) {
	s, ok := c.servers[mspID]
	if !ok {
		return nil, greenmint.Errorf(greenmint.ENOTFOUND, "organisation %q has no Fabric CA configured", mspID)
	}
	return s, nil
}

// ChainPEM returns the certificate chain (PEM) of an organisation's Fabric
// CA as its cainfo gave it at New: the root first for a root CA; the
// organisation's MSP on the channel trusts it. An unknown organisation is
// ENOTFOUND.
func (c *CA) ChainPEM(mspID string) ([]byte, error) {
	s, err := c.server(mspID)
	if err != nil {
		return nil, err
	}
	return slices.Clone(s.chain), nil
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// userRoles are the roles a user identity may carry.
var userRoles = append([]greenmint.Role{greenmint.RoleRegistry}, greenmint.AdmissibleRoles()...)

// attrOID is the Fabric CA attribute extension's object identifier.
var attrOID = asn1.ObjectIdentifier{1, 2, 3, 4, 5, 6, 7, 8, 1}

// IssueCertificate is the organisation's Fabric CA certifying the key of a
// PKCS#10 request (DER) as the client identity name of organisation mspID
// with role (keyring.CA). It registers name (type client, the configured
// affiliation, attribute role=<role> put in enrollment certificates) with
// a fresh random secret, and enrolls it with the request, asking for the
// role attribute; the certificate comes back in PEM. A name registered
// already as a Greenmint user (a client identity with a role attribute)
// is registered again: its role and secret are updated (re-enrolment); a
// name the CA holds for another kind of identity, or the registrar's own,
// is ECONFLICT. A request that does not parse, is not signed by its key,
// holds a key other than ECDSA P-256 or names another subject than name,
// a bad name or a role that is not a user's is EINVALID; an organisation
// without a Fabric CA goes to Options.Others, or is ENOTFOUND without one;
// the CA's refusals keep their codes (EUNAVAILABLE when it cannot be
// reached).
func (c *CA) IssueCertificate(ctx context.Context, mspID, name string, role greenmint.Role, csrDER []byte) ([]byte, error) {
	const op = "fabricca.IssueCertificate"
	if _, ok := c.servers[mspID]; !ok && c.others != nil {
		return c.others.IssueCertificate(ctx, mspID, name, role, csrDER)
	}
	if !slices.Contains(userRoles, role) {
		return nil, greenmint.Errorf(greenmint.EINVALID, "role %q is not one of %v", role, userRoles)
	}
	if !namePattern.MatchString(name) {
		return nil, greenmint.Errorf(greenmint.EINVALID, "name %q must be 1-64 letters, digits, '.', '_' or '-'", name)
	}
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		return nil, greenmint.E(greenmint.EINVALID, op, err, "the certificate request does not parse")
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, greenmint.E(greenmint.EINVALID, op, err, "the certificate request is not signed by its key")
	}
	pub, ok := csr.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, greenmint.Errorf(greenmint.EINVALID, "the certificate request's key is not ECDSA P-256")
	}
	if csr.Subject.CommonName != name {
		// Fabric CA enrolls only a request whose CN is the enrollment ID.
		return nil, greenmint.Errorf(greenmint.EINVALID, "the certificate request names %q, not %q", csr.Subject.CommonName, name)
	}
	s, err := c.server(mspID)
	if err != nil {
		return nil, err
	}
	if name == s.cfg.Registrar {
		return nil, greenmint.Errorf(greenmint.ECONFLICT, "%q is the registrar of %s's Fabric CA, not a user", name, mspID)
	}
	secret, err := newSecret()
	if err != nil {
		return nil, err
	}
	if err := s.register(ctx, name, role, secret); err != nil {
		return nil, greenmint.E("", op, err, "")
	}
	certPEM, cert, err := s.enroll(ctx, name, secret, csrDER, []attrReq{
		{Name: greenmint.RoleAttribute},
		{Name: "hf.EnrollmentID", Optional: true}, {Name: "hf.Type", Optional: true}, {Name: "hf.Affiliation", Optional: true},
	})
	if err != nil {
		return nil, greenmint.E("", op, err, "enrolling %q", name)
	}
	if !pub.Equal(cert.PublicKey) {
		return nil, greenmint.Errorf(greenmint.EINTERNAL, "the Fabric CA of %s certified another key than the one requested", mspID)
	}
	if got, ok := roleOf(cert); !ok || got != role {
		return nil, greenmint.Errorf(greenmint.EINTERNAL, "the Fabric CA of %s issued %q a certificate whose role attribute is %q, not %q", mspID, name, got, role)
	}
	return certPEM, nil
}

// newSecret returns a random enrollment secret: used once, right away,
// and never kept.
func newSecret() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("fabricca: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// caAttr is an identity's attribute at Fabric CA.
type caAttr struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	ECert bool   `json:"ecert,omitempty"`
}

// register registers name as a client identity with role and secret, or,
// if the CA holds name already as a Greenmint user, updates its role and
// secret.
func (s *server) register(ctx context.Context, name string, role greenmint.Role, secret string) error {
	attrs := []caAttr{{Name: greenmint.RoleAttribute, Value: string(role), ECert: true}}
	reg := struct {
		Name        string   `json:"id"`
		Type        string   `json:"type"`
		Secret      string   `json:"secret"`
		Affiliation string   `json:"affiliation"`
		Attrs       []caAttr `json:"attrs"`
		CAName      string   `json:"caname,omitempty"`
	}{name, "client", secret, s.cfg.Affiliation, attrs, s.cfg.CAName}
	err := s.call(ctx, http.MethodPost, "register", reg, nil, registrarAuth)
	if greenmint.ErrorCode(err) != greenmint.ECONFLICT {
		return err
	}
	var have struct {
		Type  string   `json:"type"`
		Attrs []caAttr `json:"attrs"`
	}
	if err := s.call(ctx, http.MethodGet, "identities/"+url.PathEscape(name), nil, &have, registrarAuth); err != nil {
		return err
	}
	isUser := have.Type == "client" && slices.ContainsFunc(have.Attrs, func(a caAttr) bool { return a.Name == greenmint.RoleAttribute })
	if !isUser {
		return greenmint.Errorf(greenmint.ECONFLICT, "%s's Fabric CA holds %q already as a %s identity that is not a Greenmint user (no %s attribute)",
			s.cfg.MSPID, name, have.Type, greenmint.RoleAttribute)
	}
	mod := struct {
		Type        string   `json:"type"`
		Affiliation string   `json:"affiliation"`
		Attrs       []caAttr `json:"attrs"`
		Secret      string   `json:"secret"`
		CAName      string   `json:"caname,omitempty"`
	}{"client", s.cfg.Affiliation, attrs, secret, s.cfg.CAName}
	return s.call(ctx, http.MethodPut, "identities/"+url.PathEscape(name), mod, nil, registrarAuth)
}

// RevokeCertificate is the organisation's Fabric CA revoking a certificate
// it issued, by serial number (keyring.CA), with the reason "superseded":
// the serial and the authority key ID of the CA's certificate. The CA
// lists it in the revocation lists it generates from then on (CRL); the
// peers refuse it once the organisation's MSP on the channel holds such a
// list. A serial revoked already is ECONFLICT; one the CA never issued
// ENOTFOUND; an organisation without a Fabric CA goes to Options.Others,
// or is ENOTFOUND without one.
func (c *CA) RevokeCertificate(ctx context.Context, mspID string, serial *big.Int) error {
	const op = "fabricca.RevokeCertificate"
	if _, ok := c.servers[mspID]; !ok && c.others != nil {
		return c.others.RevokeCertificate(ctx, mspID, serial)
	}
	if serial == nil || serial.Sign() <= 0 {
		return greenmint.Errorf(greenmint.EINVALID, "a certificate serial number is positive")
	}
	s, err := c.server(mspID)
	if err != nil {
		return err
	}
	req := struct {
		Serial string `json:"serial"`
		AKI    string `json:"aki"`
		Reason string `json:"reason"`
		CAName string `json:"caname,omitempty"`
	}{fmt.Sprintf("%x", serial), s.aki, "superseded", s.cfg.CAName}
	if err := s.call(ctx, http.MethodPost, "revoke", req, nil, registrarAuth); err != nil {
		return greenmint.E("", op, err, "certificate %s of %s", serial, mspID)
	}
	return nil
}

// CRL returns a revocation list (PEM, "X509 CRL") of every certificate
// the organisation's Fabric CA has revoked, signed by the CA: what goes
// into the organisation's MSP (msp/crls) on the channel and, for the
// embedded ledger, into <MSPDir>/<MSP ID>/msp/crls. An organisation
// without a Fabric CA is ENOTFOUND.
func (c *CA) CRL(ctx context.Context, mspID string) ([]byte, error) {
	s, err := c.server(mspID)
	if err != nil {
		return nil, err
	}
	var res struct{ CRL string }
	if err := s.call(ctx, http.MethodPost, "gencrl", map[string]string{"caname": s.cfg.CAName}, &res, registrarAuth); err != nil {
		return nil, greenmint.E("", "fabricca.CRL", err, "")
	}
	crl, err := base64.StdEncoding.DecodeString(res.CRL)
	if err != nil {
		return nil, greenmint.E(greenmint.EINTERNAL, "fabricca.CRL", err, "the Fabric CA of %s sent a CRL that is not base64", mspID)
	}
	if blk, _ := pem.Decode(crl); blk == nil || blk.Type != "X509 CRL" {
		return nil, greenmint.Errorf(greenmint.EINTERNAL, "the Fabric CA of %s sent no PEM CRL", mspID)
	}
	return crl, nil
}

// roleOf reads the role attribute of a certificate's Fabric CA attribute
// extension ({"attrs":{"role":…}}).
func roleOf(cert *x509.Certificate) (greenmint.Role, bool) {
	for _, e := range cert.Extensions {
		if e.Id.Equal(attrOID) {
			var a struct {
				Attrs map[string]string `json:"attrs"`
			}
			if json.Unmarshal(e.Value, &a) != nil {
				return "", false
			}
			r, ok := a.Attrs[greenmint.RoleAttribute]
			return greenmint.Role(r), ok
		}
	}
	return "", false
}
