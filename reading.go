package greenmint

import (
	"crypto/ed25519"
	"fmt"
	"time"
)

// ReadingSigningBytes returns what a meter signs for a reading: the
// signing context and the canonical encoding of the reading without its
// signature.
func ReadingSigningBytes(r Reading) ([]byte, error) {
	r.Signature = nil
	b, err := Canonical(r)
	if err != nil {
		return nil, fmt.Errorf("greenmint.ReadingSigningBytes: %w", err)
	}
	return SigningBytes(ContextReading, b), nil
}

// SignReading signs a reading with a meter's key.
func SignReading(r *Reading, key ed25519.PrivateKey) error {
	msg, err := ReadingSigningBytes(*r)
	if err != nil {
		return err
	}
	r.Signature = ed25519.Sign(key, msg)
	return nil
}

// VerifyReadingSignature checks a reading's signature against its meter's
// registered key (R6, first condition).
func VerifyReadingSignature(r Reading, pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize {
		return Errorf(EINVALID, "meter %s has no usable public key", r.MeterID)
	}
	msg, err := ReadingSigningBytes(r)
	if err != nil {
		return err
	}
	if !ed25519.Verify(pub, msg, r.Signature) {
		return Errorf(EINVALID, "bad signature")
	}
	return nil
}

// ReadingLeaf returns a reading's Merkle leaf: the leaf hash of its
// canonical encoding, signature included.
func ReadingLeaf(r Reading) ([32]byte, error) {
	b, err := Canonical(r)
	if err != nil {
		return [32]byte{}, err
	}
	return MerkleLeaf(b), nil
}

// MeterHead is what the oracle remembers of a meter's last accepted
// reading: the sequence, the end of its interval and the register after it.
type MeterHead struct {
	Seq        int64
	End        time.Time
	RegisterWh int64
	Known      bool // a reading was accepted before
}

// SeqKey names one reading of one meter.
type SeqKey struct {
	MeterID string
	Seq     int64
}
