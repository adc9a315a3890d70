package embedded

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"google.golang.org/protobuf/proto"
)

// mspVerifier checks that a proposal's creator is a certificate issued by
// the CA of one of the channel's organisations, that the creator signed
// the proposal, and that the certificate is not revoked by its
// organisation's revocation lists, as a Fabric peer's MSP does.
type mspVerifier struct {
	roots map[string]*x509.CertPool
	cas   map[string][]*x509.Certificate // the organisations' root certificates, which sign their CRLs
	cache sync.Map                       // SHA-256 of the creator bytes → *creator (chain already verified)

	crlDir    string // <crlDir>/<MSP ID>/msp/crls/*; "" for none
	crlMu     sync.Mutex
	crlPrint  string                      // what the crls folders held at the last load
	crlLoaded atomic.Int64                // unix nanos of the last look at the folders
	revoked   atomic.Pointer[revocations] // nil: no lists
}

// revocations is what the organisations' CRLs revoke.
type revocations struct {
	serials map[string]map[string]bool // MSP ID → issuer ‖ serial → revoked
	broken  map[string]error           // MSP ID → why its lists cannot be used (its creators are refused)
}

// creator is a verified proposal creator.
type creator struct {
	mspID string
	cert  *x509.Certificate
}

func newMSPVerifier(orgs []OrgConfig) (*mspVerifier, error) {
	v := &mspVerifier{roots: map[string]*x509.CertPool{}, cas: map[string][]*x509.Certificate{}}
	for _, o := range orgs {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(o.RootCertPEM) {
			return nil, fmt.Errorf("embedded: organisation %s has no usable root certificate", o.MSPID)
		}
		v.roots[o.MSPID] = pool
		rest := o.RootCertPEM
		for {
			var blk *pem.Block
			blk, rest = pem.Decode(rest)
			if blk == nil {
				break
			}
			if c, err := x509.ParseCertificate(blk.Bytes); err == nil {
				v.cas[o.MSPID] = append(v.cas[o.MSPID], c)
			}
		}
	}
	return v, nil
}

func unauthenticated(format string, args ...any) error {
	return greenmint.Errorf(greenmint.EUNAUTHENTICATED, format, args...)
}

// verify checks that the creator chains to its organisation's CA and that
// it signed signedBytes. Validity in time and revocation are checked
// apart: against the ledger's clock for new proposals (checkCreator),
// against the transaction's own time when a chain is verified.
func (v *mspVerifier) verify(creatorBytes []byte, signedBytes, sig []byte) (*creator, error) {
	key := sha256.Sum256(creatorBytes)
	var c *creator
	if cached, ok := v.cache.Load(key); ok {
		c = cached.(*creator)
	} else {
		sid := &msp.SerializedIdentity{}
		if err := proto.Unmarshal(creatorBytes, sid); err != nil {
			return nil, unauthenticated("creator is not a serialized identity")
		}
		roots, ok := v.roots[sid.Mspid]
		if !ok {
			return nil, unauthenticated("organisation %q is not a member of the channel", sid.Mspid)
		}
		blk, _ := pem.Decode(sid.IdBytes)
		if blk == nil || blk.Type != "CERTIFICATE" {
			return nil, unauthenticated("creator carries no PEM certificate")
		}
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, greenmint.E(greenmint.EUNAUTHENTICATED, "", err, "creator certificate does not parse")
		}
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: cert.NotBefore.Add(time.Second), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			return nil, greenmint.E(greenmint.EUNAUTHENTICATED, "", err, "creator certificate was not issued by %s's CA", sid.Mspid)
		}
		if _, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok {
			return nil, unauthenticated("creator key is not ECDSA")
		}
		c = &creator{mspID: sid.Mspid, cert: cert}
		v.cache.Store(key, c)
	}
	digest := sha256.Sum256(signedBytes)
	if len(sig) == 0 || !ecdsa.VerifyASN1(c.cert.PublicKey.(*ecdsa.PublicKey), digest[:], sig) {
		return nil, unauthenticated("proposal signature does not verify against the creator's certificate")
	}
	return c, nil
}

// validAt checks the creator's certificate is valid at t.
func (c *creator) validAt(t time.Time, whose string) error {
	switch {
	case t.Before(c.cert.NotBefore):
		return unauthenticated("creator certificate of %s is not valid yet at %s (%s): valid from %s",
			c.cert.Subject.CommonName, t.UTC().Format(time.RFC3339), whose, c.cert.NotBefore.UTC().Format(time.RFC3339))
	case t.After(c.cert.NotAfter):
		return unauthenticated("creator certificate of %s expired at %s, before %s (%s)",
			c.cert.Subject.CommonName, c.cert.NotAfter.UTC().Format(time.RFC3339), t.UTC().Format(time.RFC3339), whose)
	}
	return nil
}

// checkCreator checks, against the ledger's clock now, that the creator's
// certificate is valid and not revoked and that the proposal's timestamp
// ts lies within skew of now.
func (v *mspVerifier) checkCreator(c *creator, ts, now time.Time, skew time.Duration) error {
	if err := c.validAt(now, "the ledger's time"); err != nil {
		return err
	}
	if err := v.checkRevoked(c); err != nil {
		return err
	}
	if d := ts.Sub(now); d > skew || d < -skew {
		return greenmint.Errorf(greenmint.EINVALID, "proposal timestamp %s is %s from the ledger's time %s; at most %s is allowed",
			ts.UTC().Format(time.RFC3339), d.Round(time.Second), now.UTC().Format(time.RFC3339), skew)
	}
	return nil
}

// checkRevoked refuses a creator that its organisation's CRL revokes, or
// whose organisation's CRLs cannot be used.
func (v *mspVerifier) checkRevoked(c *creator) error {
	v.maybeReloadCRLs()
	r := v.revoked.Load()
	if r == nil {
		return nil
	}
	if err := r.broken[c.mspID]; err != nil {
		return greenmint.E(greenmint.EUNAUTHENTICATED, "", err, "the revocation list of %s cannot be used, so its creators are refused", c.mspID)
	}
	if r.serials[c.mspID][revocationKey(c.cert.RawIssuer, c.cert.SerialNumber.String())] {
		return unauthenticated("creator certificate of %s (serial %s) is revoked by %s's CA", c.cert.Subject.CommonName, c.cert.SerialNumber, c.mspID)
	}
	return nil
}

func revocationKey(issuer []byte, serial string) string { return string(issuer) + "\x00" + serial }

// setCRLDir loads the revocation lists under dir; an organisation's list
// that does not verify fails the call.
func (v *mspVerifier) setCRLDir(dir string) error {
	v.crlDir = dir
	if dir == "" {
		return nil
	}
	r, err := v.reloadCRLs(true)
	if err != nil {
		return err
	}
	for _, id := range sortedKeys(r.broken) {
		return greenmint.E(greenmint.EINVALID, "", r.broken[id], "revocation list of %s", id)
	}
	return nil
}

// crlCheckEvery is how often the crls folders are looked at for changes.
const crlCheckEvery = time.Second

func (v *mspVerifier) maybeReloadCRLs() {
	if v.crlDir == "" {
		return
	}
	now := time.Now().UnixNano()
	last := v.crlLoaded.Load()
	if now-last < int64(crlCheckEvery) || !v.crlLoaded.CompareAndSwap(last, now) {
		return
	}
	_, _ = v.reloadCRLs(false)
}

// reloadCRLs reads every organisation's crls folder again (or, unless
// force, only when what they hold changed) and installs the result.
func (v *mspVerifier) reloadCRLs(force bool) (*revocations, error) {
	v.crlMu.Lock()
	defer v.crlMu.Unlock()
	v.crlLoaded.Store(time.Now().UnixNano())
	fp, files := v.crlFiles()
	if !force && fp == v.crlPrint && v.revoked.Load() != nil {
		return v.revoked.Load(), nil
	}
	r := &revocations{serials: map[string]map[string]bool{}, broken: map[string]error{}}
	for mspID, paths := range files {
		for _, p := range paths {
			if err := v.loadCRL(r, mspID, p); err != nil {
				r.broken[mspID] = fmt.Errorf("%s: %w", p, err)
			}
		}
	}
	v.crlPrint = fp
	v.revoked.Store(r)
	return r, nil
}

// crlFiles lists each organisation's CRL files and a fingerprint of them
// (names, sizes, modification times).
func (v *mspVerifier) crlFiles() (string, map[string][]string) {
	var b strings.Builder
	files := map[string][]string{}
	for _, id := range sortedKeys(v.roots) {
		dir := filepath.Join(v.crlDir, id, "msp", "crls")
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			fi, err := e.Info()
			if err != nil {
				continue
			}
			p := filepath.Join(dir, e.Name())
			files[id] = append(files[id], p)
			fmt.Fprintf(&b, "%s|%d|%d\n", p, fi.Size(), fi.ModTime().UnixNano())
		}
	}
	return b.String(), files
}

// loadCRL adds the certificates that the CRL file at path revokes, after
// checking it was signed by one of the organisation's CAs.
func (v *mspVerifier) loadCRL(r *revocations, mspID, path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	ders := [][]byte{}
	rest := raw
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type == "X509 CRL" {
			ders = append(ders, blk.Bytes)
		}
	}
	if len(ders) == 0 {
		if len(strings.TrimSpace(string(raw))) == 0 || strings.Contains(string(raw), "-----BEGIN") {
			return fmt.Errorf("holds no PEM \"X509 CRL\" block")
		}
		ders = append(ders, raw) // DER
	}
	for _, der := range ders {
		rl, err := x509.ParseRevocationList(der)
		if err != nil {
			return fmt.Errorf("does not parse: %w", err)
		}
		var signer *x509.Certificate
		for _, ca := range v.cas[mspID] {
			if rl.CheckSignatureFrom(ca) == nil {
				signer = ca
				break
			}
		}
		if signer == nil {
			return fmt.Errorf("is not signed by %s's CA", mspID)
		}
		if r.serials[mspID] == nil {
			r.serials[mspID] = map[string]bool{}
		}
		for _, e := range rl.RevokedCertificateEntries {
			r.serials[mspID][revocationKey(rl.RawIssuer, e.SerialNumber.String())] = true
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ReloadRevocations reads the organisations' revocation lists again from
// Options.MSPDir and applies them to every later proposal. An
// organisation whose list does not verify has its creators refused until a
// good list replaces it; the error names it.
func (l *Ledger) ReloadRevocations() error {
	if l.msp.crlDir == "" {
		return greenmint.Errorf(greenmint.EINVALID, "the ledger was opened without an MSP folder (Options.MSPDir)")
	}
	r, err := l.msp.reloadCRLs(true)
	if err != nil {
		return err
	}
	for _, id := range sortedKeys(r.broken) {
		return greenmint.E(greenmint.EINVALID, "", r.broken[id], "revocation list of %s (its creators are refused)", id)
	}
	return nil
}
