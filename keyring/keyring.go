// Package keyring keeps each user's ledger identity: an X.509 certificate
// issued by the user's organisation's CA when the user is created, and its
// ECDSA P-256 private key, sealed at rest with AES-256-GCM under a
// key-encryption key (KEK) from configuration. Every ledger write a user
// makes is signed with that user's own identity (Keyring.Identity), so the
// contract's rules see the real caller. The key pair is made here and only
// a certificate request goes to the CA; the plaintext key exists only in
// memory (a bounded cache with a TTL) and is never logged or stored.
// docs/keyring.md describes the format and the KEK rotation procedure.
package keyring

import (
	"bytes"
	"container/list"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/store"
)

// CA is an organisation's certificate authority as the keyring calls it.
// identity.Store (the project's own CA) implements it; Fabric CA will too.
type CA interface {
	// IssueCertificate certifies the key of a PKCS#10 request (DER) as the
	// client identity name of organisation mspID with role (the Fabric CA
	// attribute), and returns the certificate in PEM.
	IssueCertificate(ctx context.Context, mspID, name string, role greenmint.Role, csrDER []byte) ([]byte, error)
	// RevokeCertificate revokes a certificate the CA issued, by serial;
	// ECONFLICT when it is revoked already.
	RevokeCertificate(ctx context.Context, mspID string, serial *big.Int) error
}

// Defaults of Options.
const (
	DefaultCacheSize   = 1024
	DefaultCacheTTL    = 5 * time.Minute
	DefaultRotateBatch = 100
)

// Options configure a Keyring.
type Options struct {
	// KEKs are the configured key-encryption keys (ParseKEKs); the first
	// is the current one, which seals every new identity. The others open
	// identities sealed under them before a rotation. At least one.
	KEKs []KEK
	// CacheSize bounds how many users' unsealed identities stay in memory
	// (least recently used leave first). Default DefaultCacheSize; -1: no
	// cache.
	CacheSize int
	// CacheTTL is how long an unsealed identity stays in memory after it
	// was read from the database. Default DefaultCacheTTL.
	CacheTTL time.Duration
	// RotateBatch is how many identities a rotation re-seals per round.
	// Default DefaultRotateBatch.
	RotateBatch int
	// Now is the clock of enrolment times and the cache. Default time.Now.
	Now func() time.Time
}

// Keyring issues, seals and opens users' ledger identities.
type Keyring struct {
	db    *store.DB
	ca    CA
	now   func() time.Time
	ttl   time.Duration
	size  int
	batch int

	mu      sync.Mutex
	keks    map[string]KEK
	current string
	lru     *list.List               // of *entry, most recently used first
	entries map[string]*list.Element // user ID → element of lru
}

type entry struct {
	userID  string
	id      *greenmint.Identity
	expires time.Time
}

// New returns a keyring that keeps identities in db and has them issued by
// ca. Options without a valid KEK are EINVALID.
func New(db *store.DB, ca CA, opts Options) (*Keyring, error) {
	if len(opts.KEKs) == 0 {
		return nil, greenmint.Errorf(greenmint.EINVALID, "the keyring needs at least one key-encryption key")
	}
	k := &Keyring{db: db, ca: ca, now: opts.Now, ttl: opts.CacheTTL, size: opts.CacheSize, batch: opts.RotateBatch,
		keks: map[string]KEK{}, current: opts.KEKs[0].ID, lru: list.New(), entries: map[string]*list.Element{}}
	for _, kek := range opts.KEKs {
		if err := kek.check(); err != nil {
			return nil, err
		}
		if _, dup := k.keks[kek.ID]; dup {
			return nil, greenmint.Errorf(greenmint.EINVALID, "key-encryption key %q is given twice", kek.ID)
		}
		k.keks[kek.ID] = KEK{ID: kek.ID, Key: append([]byte(nil), kek.Key...)}
	}
	if k.now == nil {
		k.now = time.Now
	}
	if k.ttl <= 0 {
		k.ttl = DefaultCacheTTL
	}
	if k.size == 0 {
		k.size = DefaultCacheSize
	}
	if k.batch <= 0 {
		k.batch = DefaultRotateBatch
	}
	return k, nil
}

// Info describes a user's ledger identity, without its key.
type Info struct {
	UserID      string
	MSPID       string
	Role        greenmint.Role
	Certificate []byte // PEM
	Serial      *big.Int
	KEKID       string
	EnrolledAt  time.Time
}

func infoOf(row store.LedgerIdentity) (Info, error) {
	serial, ok := new(big.Int).SetString(row.Serial, 10)
	if !ok {
		return Info{}, greenmint.Errorf(greenmint.EINTERNAL, "the ledger identity of user %q has a bad serial", row.UserID)
	}
	return Info{UserID: row.UserID, MSPID: row.MSPID, Role: greenmint.Role(row.Role), Certificate: row.Certificate,
		Serial: serial, KEKID: row.KEKID, EnrolledAt: row.EnrolledAt}, nil
}

// Enroll gives a new user its ledger identity: a fresh ECDSA P-256 key, a
// certificate for it from the organisation mspID's CA, naming userID (the
// certificate's CN, so 1-64 letters, digits, '.', '_' or '-') with role,
// and the key sealed under the current KEK. A user who has an identity is
// ECONFLICT (Reenroll replaces one); the CA's refusals keep their codes.
// If storing fails after the CA issued the certificate, the key is
// dropped, so the certificate can sign nothing.
func (k *Keyring) Enroll(ctx context.Context, userID, mspID string, role greenmint.Role) (Info, error) {
	const op = "keyring.Enroll"
	if userID == "" || mspID == "" {
		return Info{}, greenmint.Errorf(greenmint.EINVALID, "enrolling needs a user ID and an MSP ID")
	}
	if _, err := k.db.LedgerIdentity(ctx, userID); err == nil {
		return Info{}, greenmint.Errorf(greenmint.ECONFLICT, "user %q has a ledger identity already: re-enrol to replace it", userID)
	} else if greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
		return Info{}, greenmint.E("", op, err, "")
	}
	row, err := k.issue(ctx, userID, mspID, role)
	if err != nil {
		return Info{}, greenmint.E("", op, err, "")
	}
	if err := k.db.SaveLedgerIdentity(ctx, row); err != nil {
		return Info{}, greenmint.E("", op, err, "user %q", userID)
	}
	return infoOf(row)
}

// issue makes a key pair, has the CA certify it and seals the key under
// the current KEK.
func (k *Keyring) issue(ctx context.Context, userID, mspID string, role greenmint.Role) (store.LedgerIdentity, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return store.LedgerIdentity{}, fmt.Errorf("keyring.issue: %w", err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: userID, Organization: []string{mspID}}}, key)
	if err != nil {
		return store.LedgerIdentity{}, fmt.Errorf("keyring.issue: %w", err)
	}
	certPEM, err := k.ca.IssueCertificate(ctx, mspID, userID, role, csr)
	if err != nil {
		return store.LedgerIdentity{}, err
	}
	cert, err := parseCert(certPEM)
	if err != nil {
		return store.LedgerIdentity{}, greenmint.E(greenmint.EINTERNAL, "", err, "the CA of %s returned", mspID)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return store.LedgerIdentity{}, greenmint.Errorf(greenmint.EINTERNAL, "the CA of %s certified another key than the one requested", mspID)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return store.LedgerIdentity{}, fmt.Errorf("keyring.issue: %w", err)
	}
	kek := k.currentKEK()
	sealed, err := seal(kek, der, additionalData(userID, mspID, certPEM))
	clear(der)
	if err != nil {
		return store.LedgerIdentity{}, err
	}
	return store.LedgerIdentity{UserID: userID, MSPID: mspID, Role: string(role), Certificate: certPEM, Serial: cert.SerialNumber.String(),
		KEKID: kek.ID, SealedKey: sealed, EnrolledAt: k.now().UTC()}, nil
}

func parseCert(certPEM []byte) (*x509.Certificate, error) {
	blk, _ := pem.Decode(certPEM)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, errors.New("not a PEM certificate")
	}
	return x509.ParseCertificate(blk.Bytes)
}

func (k *Keyring) currentKEK() KEK {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.keks[k.current]
}

// Info returns what is known of a user's ledger identity, without opening
// its key. A user without one is ENOTFOUND.
func (k *Keyring) Info(ctx context.Context, userID string) (Info, error) {
	row, err := k.db.LedgerIdentity(ctx, userID)
	if err != nil {
		return Info{}, greenmint.E("", "keyring.Info", err, "")
	}
	return infoOf(row)
}

// Identity returns the user's ledger identity, ready to sign the user's
// proposals (greenmint.Ledger Submit and Evaluate): from the cache, or
// read and opened with the KEK its row names. A user without one is
// ENOTFOUND. A row sealed under a KEK that is not configured, or that the
// KEK does not open (a wrong key, a changed byte, a row moved to another
// user or organisation) is EINTERNAL and yields no key.
func (k *Keyring) Identity(ctx context.Context, userID string) (*greenmint.Identity, error) {
	const op = "keyring.Identity"
	if id := k.cached(userID); id != nil {
		return id, nil
	}
	row, err := k.db.LedgerIdentity(ctx, userID)
	if err != nil {
		return nil, greenmint.E("", op, err, "")
	}
	key, err := k.unseal(row)
	if err != nil {
		return nil, greenmint.E("", op, err, "")
	}
	id := &greenmint.Identity{MSPID: row.MSPID, Certificate: row.Certificate, Signer: key}
	k.remember(userID, id)
	return &greenmint.Identity{MSPID: id.MSPID, Certificate: id.Certificate, Signer: id.Signer}, nil
}

// unseal opens a row's private key and checks that it is the certificate's.
func (k *Keyring) unseal(row store.LedgerIdentity) (*ecdsa.PrivateKey, error) {
	k.mu.Lock()
	kek, ok := k.keks[row.KEKID]
	k.mu.Unlock()
	if !ok {
		return nil, greenmint.Errorf(greenmint.EINTERNAL, "the ledger identity of user %q is sealed under key-encryption key %q, which is not configured", row.UserID, row.KEKID)
	}
	der, err := open(kek, row.SealedKey, additionalData(row.UserID, row.MSPID, row.Certificate))
	if err != nil {
		return nil, greenmint.E(greenmint.EINTERNAL, "", err, "key-encryption key %q does not open the ledger identity of user %q: a wrong key, or the row was altered or belongs to another user", row.KEKID, row.UserID)
	}
	defer clear(der)
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, greenmint.Errorf(greenmint.EINTERNAL, "the ledger identity of user %q holds no PKCS#8 key", row.UserID)
	}
	key, ok := parsed.(*ecdsa.PrivateKey)
	if !ok {
		return nil, greenmint.Errorf(greenmint.EINTERNAL, "the ledger identity of user %q holds no ECDSA key", row.UserID)
	}
	cert, err := parseCert(row.Certificate)
	if err != nil {
		return nil, greenmint.E(greenmint.EINTERNAL, "", err, "the certificate of user %q", row.UserID)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, greenmint.Errorf(greenmint.EINTERNAL, "the ledger identity of user %q holds a key that is not its certificate's", row.UserID)
	}
	return key, nil
}

// Reenroll replaces a user's ledger identity (a role change, or a key or
// certificate to revoke): a new key and certificate from the same
// organisation's CA with role, sealed under the current KEK; the old
// certificate's serial is kept among the retired ones and revoked by the
// CA. A user without an identity is ENOTFOUND; one re-enrolled meanwhile
// by another call ECONFLICT. When the new identity is in place but the
// revocation fails, Reenroll returns the new identity's Info and an error
// saying so: RevokeRetired retries it.
func (k *Keyring) Reenroll(ctx context.Context, userID string, role greenmint.Role) (Info, error) {
	const op = "keyring.Reenroll"
	old, err := k.db.LedgerIdentity(ctx, userID)
	if err != nil {
		return Info{}, greenmint.E("", op, err, "")
	}
	row, err := k.issue(ctx, userID, old.MSPID, role)
	if err != nil {
		return Info{}, greenmint.E("", op, err, "")
	}
	if err := k.db.ReplaceLedgerIdentity(ctx, row, old.Serial); err != nil {
		return Info{}, greenmint.E("", op, err, "")
	}
	k.forget(userID)
	info, err := infoOf(row)
	if err != nil {
		return Info{}, err
	}
	if err := k.revoke(ctx, old.MSPID, old.Serial); err != nil {
		return info, greenmint.E("", op, err, "user %q has its new identity, but certificate %s of %s is not revoked yet", userID, old.Serial, old.MSPID)
	}
	return info, nil
}

// revoke has the CA revoke a retired certificate and records it.
func (k *Keyring) revoke(ctx context.Context, mspID, serial string) error {
	n, ok := new(big.Int).SetString(serial, 10)
	if !ok {
		return greenmint.Errorf(greenmint.EINTERNAL, "retired certificate serial %q is not a number", serial)
	}
	if err := k.ca.RevokeCertificate(ctx, mspID, n); err != nil && greenmint.ErrorCode(err) != greenmint.ECONFLICT {
		return err
	}
	return k.db.MarkLedgerIdentityRevoked(ctx, mspID, serial, k.now())
}

// RevokeRetired has the CAs revoke every retired certificate not revoked
// yet and returns how many it revoked; it stops at the first failure.
func (k *Keyring) RevokeRetired(ctx context.Context) (int, error) {
	retired, err := k.db.RetiredLedgerIdentities(ctx)
	if err != nil {
		return 0, greenmint.E("", "keyring.RevokeRetired", err, "")
	}
	for i, r := range retired {
		if err := k.revoke(ctx, r.MSPID, r.Serial); err != nil {
			return i, greenmint.E("", "keyring.RevokeRetired", err, "certificate %s of %s (user %q)", r.Serial, r.MSPID, r.UserID)
		}
	}
	return len(retired), nil
}

// Rotate makes kek the current key-encryption key (adding it to the
// configured ones, and sealing every later enrolment under it) and
// re-seals every identity sealed under another KEK under it, RotateBatch
// rows at a time, each row replaced only if it did not change meanwhile.
// It returns how many it re-sealed. It can stop (a cancelled context, a
// row no configured KEK opens) and be run again: it takes up the rows not
// yet under kek. A KEK with the ID of a configured one but another key is
// EINVALID.
func (k *Keyring) Rotate(ctx context.Context, kek KEK) (int, error) {
	const op = "keyring.Rotate"
	if err := kek.check(); err != nil {
		return 0, err
	}
	k.mu.Lock()
	have, ok := k.keks[kek.ID]
	k.mu.Unlock()
	if ok && !bytes.Equal(have.Key, kek.Key) {
		return 0, greenmint.Errorf(greenmint.EINVALID, "key-encryption key %q is configured with another key", kek.ID)
	}
	// Rows another replica sealed under this ID already must open with it:
	// a mistyped key would otherwise seal every identity under a key
	// nobody else has.
	sample, found, err := k.db.LedgerIdentityUnder(ctx, kek.ID)
	if err != nil {
		return 0, greenmint.E("", op, err, "")
	}
	if found {
		if _, err := open(kek, sample.SealedKey, additionalData(sample.UserID, sample.MSPID, sample.Certificate)); err != nil {
			return 0, greenmint.E(greenmint.EINVALID, op, err, "key-encryption key %q does not open the identities already sealed under that ID (user %q): not the same key", kek.ID, sample.UserID)
		}
	}
	k.mu.Lock()
	k.keks[kek.ID] = KEK{ID: kek.ID, Key: append([]byte(nil), kek.Key...)}
	k.current = kek.ID
	k.mu.Unlock()
	done, after := 0, ""
	for {
		if err := ctx.Err(); err != nil {
			return done, greenmint.E(greenmint.EUNAVAILABLE, op, err, "stopped after re-sealing %d identities", done)
		}
		rows, err := k.db.LedgerIdentitiesNotUnder(ctx, kek.ID, after, k.batch)
		if err != nil {
			return done, greenmint.E("", op, err, "")
		}
		if len(rows) == 0 {
			return done, nil
		}
		for _, row := range rows {
			after = row.UserID
			key, err := k.unseal(row)
			if err != nil {
				return done, greenmint.E("", op, err, "stopped after re-sealing %d identities", done)
			}
			der, err := x509.MarshalPKCS8PrivateKey(key)
			if err != nil {
				return done, fmt.Errorf("keyring.Rotate: %w", err)
			}
			sealed, err := seal(kek, der, additionalData(row.UserID, row.MSPID, row.Certificate))
			clear(der)
			if err != nil {
				return done, err
			}
			ok, err := k.db.ResealLedgerIdentity(ctx, row.UserID, row.Serial, row.KEKID, kek.ID, sealed)
			if err != nil {
				return done, greenmint.E("", op, err, "stopped after re-sealing %d identities", done)
			}
			if ok {
				done++
			}
		}
	}
}

// cached returns a copy of the user's cached identity, if it is there and
// fresh.
func (k *Keyring) cached(userID string) *greenmint.Identity {
	k.mu.Lock()
	defer k.mu.Unlock()
	el, ok := k.entries[userID]
	if !ok {
		return nil
	}
	e := el.Value.(*entry)
	if !k.now().Before(e.expires) {
		k.lru.Remove(el)
		delete(k.entries, userID)
		return nil
	}
	k.lru.MoveToFront(el)
	return &greenmint.Identity{MSPID: e.id.MSPID, Certificate: e.id.Certificate, Signer: e.id.Signer}
}

func (k *Keyring) remember(userID string, id *greenmint.Identity) {
	if k.size < 0 {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if el, ok := k.entries[userID]; ok {
		k.lru.Remove(el)
	}
	k.entries[userID] = k.lru.PushFront(&entry{userID: userID, id: id, expires: k.now().Add(k.ttl)})
	for k.lru.Len() > k.size {
		last := k.lru.Back()
		k.lru.Remove(last)
		delete(k.entries, last.Value.(*entry).userID)
	}
}

func (k *Keyring) forget(userID string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if el, ok := k.entries[userID]; ok {
		k.lru.Remove(el)
		delete(k.entries, userID)
	}
}

// Cached reports how many users' identities the cache holds.
func (k *Keyring) Cached() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.lru.Len()
}
