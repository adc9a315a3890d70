package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"log/slog"
	"regexp"
	"strings"

	"github.com/greenmint/greenmint"
)

// KEKSize is the size of a key-encryption key: 32 bytes, for AES-256.
const KEKSize = 32

var kekIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// KEK is a key-encryption key: the AES-256 key that seals users' private
// keys, and the ID each sealed key records so that the keyring knows which
// key opens it. Its String, GoString and LogValue show the ID only, so
// printing or logging a KEK never shows the key.
type KEK struct {
	ID  string
	Key []byte // KEKSize bytes
}

// String shows the KEK's ID, never its key.
func (k KEK) String() string { return "KEK(" + k.ID + ")" }

// GoString shows the KEK's ID, never its key.
func (k KEK) GoString() string { return k.String() }

// LogValue shows the KEK's ID, never its key.
func (k KEK) LogValue() slog.Value { return slog.StringValue(k.String()) }

func (k KEK) check() error {
	if !kekIDPattern.MatchString(k.ID) {
		return greenmint.Errorf(greenmint.EINVALID, "key-encryption key ID %q must be 1-64 letters, digits, '.', '_' or '-'", k.ID)
	}
	if len(k.Key) != KEKSize {
		return greenmint.Errorf(greenmint.EINVALID, "key-encryption key %q has %d bytes, want %d (AES-256)", k.ID, len(k.Key), KEKSize)
	}
	return nil
}

// ParseKEKs reads key-encryption keys from configuration: a comma-separated
// list of ID:KEY, each KEY 32 bytes in standard base64 (as `openssl rand
// -base64 32` prints it), e.g. "2026-12:q8…=,2026-06:Zm…=". The first is
// the current key, which seals new identities; the others only open the
// identities still sealed under them, until a rotation moves those to the
// current key. Errors name the ID, never the key.
func ParseKEKs(s string) ([]KEK, error) {
	var out []KEK
	seen := map[string]bool{}
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		id, enc, ok := strings.Cut(part, ":")
		if !ok {
			return nil, greenmint.Errorf(greenmint.EINVALID, "key-encryption key %d is not ID:BASE64KEY", i+1)
		}
		key, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			return nil, greenmint.Errorf(greenmint.EINVALID, "key-encryption key %q is not standard base64", id)
		}
		k := KEK{ID: id, Key: key}
		if err := k.check(); err != nil {
			return nil, err
		}
		if seen[id] {
			return nil, greenmint.Errorf(greenmint.EINVALID, "key-encryption key %q is given twice", id)
		}
		seen[id] = true
		out = append(out, k)
	}
	return out, nil
}

// sealVersion is the first byte of a sealed key: the format below.
const sealVersion = 1

// additionalData binds a sealed key to its user, organisation and
// certificate: GCM refuses a sealed key moved to another user's row, to
// another organisation or beside another certificate.
func additionalData(userID, mspID string, certPEM []byte) []byte {
	sum := sha256.Sum256(certPEM)
	var b []byte
	b = append(b, "greenmint/keyring/v1"...)
	for _, s := range []string{userID, mspID} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	return append(b, sum[:]...)
}

func newGCM(k KEK) (cipher.AEAD, error) {
	block, err := aes.NewCipher(k.Key)
	if err != nil {
		return nil, greenmint.E(greenmint.EINTERNAL, "keyring", err, "key-encryption key %q", k.ID)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, greenmint.E(greenmint.EINTERNAL, "keyring", err, "key-encryption key %q", k.ID)
	}
	return gcm, nil
}

// seal encrypts plaintext with AES-256-GCM under k with a random nonce:
// version || nonce || ciphertext and tag.
func seal(k KEK, plaintext, aad []byte) ([]byte, error) {
	gcm, err := newGCM(k)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1+gcm.NonceSize(), 1+gcm.NonceSize()+len(plaintext)+gcm.Overhead())
	out[0] = sealVersion
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("keyring.seal: %w", err)
	}
	return gcm.Seal(out, out[1:], plaintext, aad), nil
}

// open decrypts what seal returned; a wrong key, a changed byte or other
// additional data fail GCM's authentication and return no plaintext.
func open(k KEK, sealed, aad []byte) ([]byte, error) {
	gcm, err := newGCM(k)
	if err != nil {
		return nil, err
	}
	if len(sealed) < 1+gcm.NonceSize()+gcm.Overhead() || sealed[0] != sealVersion {
		return nil, greenmint.Errorf(greenmint.EINTERNAL, "the sealed key is not in format %d", sealVersion)
	}
	n := 1 + gcm.NonceSize()
	plain, err := gcm.Open(nil, sealed[1:n], sealed[n:], aad)
	if err != nil {
		return nil, greenmint.E(greenmint.EINTERNAL, "", err, "")
	}
	return plain, nil
}
