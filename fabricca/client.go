package fabricca

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/greenmint/greenmint"
)

// Fabric CA's error codes (lib/caerrors in hyperledger/fabric-ca) that
// carry a meaning of their own beyond the HTTP status.
const (
	caErrRevCertNotFound   = 8
	caErrCANotFound        = 19
	caErrCertAlreadyRevoke = 66
	caErrDupIdentityReg    = 74
)

// renewBefore is how long before its certificate expires the registrar
// enrolls again.
const renewBefore = time.Hour

// server is one organisation's Fabric CA reached over its REST API (v1),
// acting as the organisation's registrar.
type server struct {
	cfg    Config
	base   *url.URL // the server's URL, with the path /api/v1/
	client *http.Client
	now    func() time.Time

	mu        sync.Mutex
	regKey    *ecdsa.PrivateKey // the registrar's enrollment key (memory only)
	regCert   []byte            // its certificate, PEM
	regExpiry time.Time

	chain []byte // the CA's certificate chain, PEM (cainfo)
	aki   string // hex of the issuing CA certificate's subject key ID
}

// envelope is the JSON every Fabric CA answer comes in (cfssl's
// api.Response).
type envelope struct {
	Success bool            `json:"success"`
	Result  json.RawMessage `json:"result"`
	Errors  []struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
}

// auth is how a request proves who sends it.
type auth int

const (
	noAuth        auth = iota
	registrarAuth      // the registrar's token (Authorization: cert.sig)
)

// call sends method path with body (JSON-encoded unless nil) and decodes
// the result into out. With registrarAuth, a refusal of the registrar's
// credential (an expired or revoked certificate) makes it enroll again and
// retry once.
func (s *server) call(ctx context.Context, method, path string, body, out any, a auth) error {
	err := s.do(ctx, method, path, body, out, a, nil)
	if a == registrarAuth && greenmint.ErrorCode(err) == greenmint.EUNAUTHENTICATED {
		if rerr := s.enrollRegistrar(ctx); rerr != nil {
			return err
		}
		err = s.do(ctx, method, path, body, out, a, nil)
	}
	return err
}

// do sends one request. basic, when set, is the enrollment ID and secret of
// an enrollment (HTTP basic authentication).
func (s *server) do(ctx context.Context, method, path string, body, out any, a auth, basic *[2]string) error {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return fmt.Errorf("fabricca: %w", err)
		}
	}
	u := s.base.JoinPath(path)
	if method == http.MethodGet && s.cfg.CAName != "" {
		u.RawQuery = url.Values{"ca": {s.cfg.CAName}}.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(raw))
	if err != nil {
		return greenmint.E(greenmint.EINVALID, "", err, "Fabric CA of %s", s.cfg.MSPID)
	}
	req.Header.Set("Content-Type", "application/json")
	switch {
	case basic != nil:
		req.SetBasicAuth(basic[0], basic[1])
	case a == registrarAuth:
		if err := s.ensureRegistrar(ctx); err != nil {
			return err
		}
		s.mu.Lock()
		tok, err := token(s.regCert, s.regKey, method, req.URL.RequestURI(), raw)
		s.mu.Unlock()
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", tok)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return greenmint.E(greenmint.EUNAVAILABLE, "", err, "Fabric CA of %s at %s", s.cfg.MSPID, s.cfg.URL)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return greenmint.E(greenmint.EUNAVAILABLE, "", err, "Fabric CA of %s at %s", s.cfg.MSPID, s.cfg.URL)
	}
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return greenmint.Errorf(statusCode(resp.StatusCode, greenmint.EUNAVAILABLE),
			"Fabric CA of %s at %s answered %s %s with HTTP %d and no Fabric CA response", s.cfg.MSPID, s.cfg.URL, method, path, resp.StatusCode)
	}
	if !env.Success || len(env.Errors) > 0 || resp.StatusCode >= 400 {
		code, caCode, msg := statusCode(resp.StatusCode, greenmint.EINTERNAL), 0, "no reason given"
		if len(env.Errors) > 0 {
			caCode, msg = env.Errors[0].Code, env.Errors[0].Message
		}
		switch caCode {
		case caErrDupIdentityReg, caErrCertAlreadyRevoke:
			code = greenmint.ECONFLICT
		case caErrRevCertNotFound, caErrCANotFound:
			code = greenmint.ENOTFOUND
		}
		return greenmint.Errorf(code, "Fabric CA of %s refused %s %s (HTTP %d, Fabric CA error %d): %s", s.cfg.MSPID, method, path, resp.StatusCode, caCode, msg)
	}
	if out != nil {
		if err := json.Unmarshal(env.Result, out); err != nil {
			return greenmint.E(greenmint.EINTERNAL, "", err, "Fabric CA of %s: %s %s answered an unexpected result", s.cfg.MSPID, method, path)
		}
	}
	return nil
}

// statusCode maps an HTTP status of Fabric CA to an error code; def for a
// status that says nothing more.
func statusCode(status int, def string) string {
	switch {
	case status == http.StatusBadRequest:
		return greenmint.EINVALID
	case status == http.StatusUnauthorized:
		return greenmint.EUNAUTHENTICATED
	case status == http.StatusForbidden:
		return greenmint.EFORBIDDEN
	case status == http.StatusNotFound:
		return greenmint.ENOTFOUND
	case status == http.StatusConflict:
		return greenmint.ECONFLICT
	case status == http.StatusBadGateway, status == http.StatusServiceUnavailable, status == http.StatusGatewayTimeout:
		return greenmint.EUNAVAILABLE
	}
	return def
}

// token is fabric-ca-client's token for a request (util.CreateToken of
// hyperledger/fabric-ca v1.4+): base64(certificate PEM) "." base64(ECDSA
// signature, low-S, over SHA-256 of method "." base64(URI) "."
// base64(body) "." base64(certificate PEM)).
func token(certPEM []byte, key *ecdsa.PrivateKey, method, uri string, body []byte) (string, error) {
	b64 := base64.StdEncoding.EncodeToString
	b64cert := b64(certPEM)
	digest := sha256.Sum256([]byte(method + "." + b64([]byte(uri)) + "." + b64(body) + "." + b64cert))
	sig, err := signLowS(key, digest[:])
	if err != nil {
		return "", err
	}
	return b64cert + "." + b64(sig), nil
}

// signLowS signs digest with key, with S in the lower half of the curve
// order as Fabric's BCCSP requires of every ECDSA signature it verifies.
func signLowS(key *ecdsa.PrivateKey, digest []byte) ([]byte, error) {
	r, s, err := ecdsa.Sign(rand.Reader, key, digest)
	if err != nil {
		return nil, fmt.Errorf("fabricca: %w", err)
	}
	n := key.Curve.Params().N
	if s.Cmp(new(big.Int).Rsh(n, 1)) > 0 {
		s.Sub(n, s)
	}
	sig, err := asn1.Marshal(struct{ R, S *big.Int }{r, s})
	if err != nil {
		return nil, fmt.Errorf("fabricca: %w", err)
	}
	return sig, nil
}

// caInfo is Fabric CA's /cainfo result.
type caInfo struct {
	CAName  string
	CAChain string // base64 of the PEM chain
	Version string
}

// loadInfo reads the CA's chain and the key ID that its certificates name
// as their authority.
func (s *server) loadInfo(ctx context.Context) error {
	var info caInfo
	if err := s.do(ctx, http.MethodPost, "cainfo", map[string]string{"caname": s.cfg.CAName}, &info, noAuth, nil); err != nil {
		return err
	}
	chain, err := base64.StdEncoding.DecodeString(info.CAChain)
	if err != nil {
		return greenmint.E(greenmint.EINTERNAL, "", err, "Fabric CA of %s sent a CA chain that is not base64", s.cfg.MSPID)
	}
	blk, _ := pem.Decode(chain)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return greenmint.Errorf(greenmint.EINTERNAL, "Fabric CA of %s sent no CA certificate", s.cfg.MSPID)
	}
	issuer, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return greenmint.E(greenmint.EINTERNAL, "", err, "Fabric CA of %s sent a CA certificate that does not parse", s.cfg.MSPID)
	}
	s.chain, s.aki = chain, fmt.Sprintf("%x", issuer.SubjectKeyId)
	return nil
}

// ensureRegistrar enrolls the registrar if it has no certificate or its
// certificate is about to expire.
func (s *server) ensureRegistrar(ctx context.Context) error {
	s.mu.Lock()
	ok := s.regCert != nil && s.now().Add(renewBefore).Before(s.regExpiry)
	s.mu.Unlock()
	if ok {
		return nil
	}
	return s.enrollRegistrar(ctx)
}

// enrollRegistrar enrolls the registrar with its secret: a fresh key in
// memory and a certificate for it.
func (s *server) enrollRegistrar(ctx context.Context) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("fabricca: %w", err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: s.cfg.Registrar}}, key)
	if err != nil {
		return fmt.Errorf("fabricca: %w", err)
	}
	certPEM, cert, err := s.enroll(ctx, s.cfg.Registrar, s.cfg.registrarSecret, csr, nil)
	if err != nil {
		return greenmint.E("", "", err, "enrolling the registrar %q", s.cfg.Registrar)
	}
	s.mu.Lock()
	s.regKey, s.regCert, s.regExpiry = key, certPEM, cert.NotAfter
	s.mu.Unlock()
	return nil
}

// attrReq is an attribute an enrollment asks to have in the certificate.
type attrReq struct {
	Name     string `json:"name"`
	Optional bool   `json:"optional,omitempty"`
}

// enroll has the CA certify the key of csr (DER) for the identity name
// with secret, and returns the certificate as PEM and parsed.
func (s *server) enroll(ctx context.Context, name, secret string, csr []byte, attrs []attrReq) ([]byte, *x509.Certificate, error) {
	req := struct {
		CSR      string    `json:"certificate_request"`
		CAName   string    `json:"caname,omitempty"`
		AttrReqs []attrReq `json:"attr_reqs,omitempty"`
	}{string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr})), s.cfg.CAName, attrs}
	var res struct{ Cert string }
	if err := s.do(ctx, http.MethodPost, "enroll", req, &res, noAuth, &[2]string{name, secret}); err != nil {
		return nil, nil, err
	}
	certPEM, err := base64.StdEncoding.DecodeString(res.Cert)
	if err != nil {
		return nil, nil, greenmint.E(greenmint.EINTERNAL, "", err, "Fabric CA of %s sent a certificate that is not base64", s.cfg.MSPID)
	}
	blk, _ := pem.Decode(certPEM)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, nil, greenmint.Errorf(greenmint.EINTERNAL, "Fabric CA of %s sent no PEM certificate", s.cfg.MSPID)
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, nil, greenmint.E(greenmint.EINTERNAL, "", err, "Fabric CA of %s sent a certificate that does not parse", s.cfg.MSPID)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), cert, nil
}

// newHTTPClient returns the client of a Fabric CA: TLS with the configured
// root for https URLs.
func newHTTPClient(cfg Config, timeout time.Duration) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if strings.EqualFold(cfgScheme(cfg.URL), "https") {
		pool := x509.NewCertPool()
		if len(cfg.TLSRootCertPEM) > 0 && !pool.AppendCertsFromPEM(cfg.TLSRootCertPEM) {
			return nil, greenmint.Errorf(greenmint.EINVALID, "the TLS root certificate of %s's Fabric CA holds no PEM certificate", cfg.MSPID)
		}
		if len(cfg.TLSRootCertPEM) == 0 {
			return nil, greenmint.Errorf(greenmint.EINVALID, "%s's Fabric CA is at an https URL: give its TLS root certificate", cfg.MSPID)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: timeout}, nil
}

func cfgScheme(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Scheme
}
