package auth

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-jose/go-jose/v4"
	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/store"
)

// keySet is the signing keys in memory: the current one signs, every one
// (current and retired) verifies.
type keySet struct {
	current string
	signer  ed25519.PrivateKey
	public  map[string]ed25519.PublicKey
	order   []string // newest first
}

func (s *Service) currentKID() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.keys.current
}

// Reload reads the signing keys from the database again, so that a key
// rotated or dropped by another Service over the same database is seen.
// A key no configured KEK opens is an internal error that loads nothing.
func (s *Service) Reload(ctx context.Context) error {
	const op = "auth.Reload"
	stored, err := s.db.SigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	ks := keySet{public: map[string]ed25519.PublicKey{}}
	for _, k := range stored {
		seed, err := s.open(k.KID, k.Sealed)
		if err != nil {
			return greenmint.E(greenmint.EINTERNAL, op, err, "signing key %s", k.KID)
		}
		priv := ed25519.NewKeyFromSeed(seed)
		ks.public[k.KID] = priv.Public().(ed25519.PublicKey)
		ks.order = append(ks.order, k.KID)
		if k.RetiredAt.IsZero() && ks.current == "" {
			ks.current, ks.signer = k.KID, priv
		}
	}
	s.mu.Lock()
	s.keys = ks
	s.mu.Unlock()
	return nil
}

// RotateKey makes a new Ed25519 signing key the current one and retires
// the one that was current: tokens it signed keep verifying until DropKey
// removes it. It returns the new key's ID (its RFC 7638 thumbprint).
func (s *Service) RotateKey(ctx context.Context) (string, error) {
	const op = "auth.RotateKey"
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", greenmint.E(greenmint.EINTERNAL, op, err, "")
	}
	tp, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		return "", greenmint.E(greenmint.EINTERNAL, op, err, "thumbprint")
	}
	kid := base64.RawURLEncoding.EncodeToString(tp)
	sealed, err := s.seal(kid, priv.Seed())
	if err != nil {
		return "", greenmint.E(greenmint.EINTERNAL, op, err, "")
	}
	if err := s.db.AddSigningKey(ctx, store.SigningKey{KID: kid, Sealed: sealed, CreatedAt: s.now()}); err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	if err := s.Reload(ctx); err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	return kid, nil
}

// DropKey removes a retired signing key: tokens it signed stop verifying
// at once. Drop a key only after AccessTTL plus Leeway has passed since
// its rotation. The current key is a conflict, an unknown one not_found.
func (s *Service) DropKey(ctx context.Context, kid string) error {
	const op = "auth.DropKey"
	if err := s.db.DeleteSigningKey(ctx, kid); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := s.Reload(ctx); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// JWKS returns the JSON Web Key Set (RFC 7517) of every key that verifies
// access tokens, newest first: OKP keys on Ed25519 with their kid, "alg"
// EdDSA and "use" sig, for /.well-known/jwks.json. It holds no private
// material.
func (s *Service) JWKS() ([]byte, error) {
	s.mu.RLock()
	set := jose.JSONWebKeySet{}
	for _, kid := range s.keys.order {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: s.keys.public[kid], KeyID: kid, Algorithm: string(jose.EdDSA), Use: "sig"})
	}
	s.mu.RUnlock()
	b, err := json.Marshal(set)
	if err != nil {
		return nil, greenmint.E(greenmint.EINTERNAL, "auth.JWKS", err, "")
	}
	return b, nil
}

// seal encrypts a signing key's seed under the KEK with AES-256-GCM: a
// random 12-byte nonce, then the ciphertext and tag; the key ID is the
// associated data, so a sealed seed moved to another key's row does not
// open.
func (s *Service) seal(kid string, seed []byte) ([]byte, error) {
	aead, err := newAEAD(s.cfg.KEK)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("random: %w", err)
	}
	return aead.Seal(nonce, nonce, seed, []byte(kid)), nil
}

// open decrypts a sealed seed with the KEK or, failing that, one of the
// previous KEKs.
func (s *Service) open(kid string, sealed []byte) ([]byte, error) {
	for _, kek := range append([][]byte{s.cfg.KEK}, s.cfg.PreviousKEKs...) {
		aead, err := newAEAD(kek)
		if err != nil {
			return nil, err
		}
		if len(sealed) < aead.NonceSize()+aead.Overhead() {
			return nil, errors.New("sealed key too short")
		}
		seed, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], []byte(kid))
		if err == nil && len(seed) == ed25519.SeedSize {
			return seed, nil
		}
	}
	return nil, errors.New("no configured key-encryption key opens it")
}

func newAEAD(kek []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, fmt.Errorf("key-encryption key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("key-encryption key: %w", err)
	}
	return aead, nil
}
