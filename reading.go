package greenmint

import (
	"crypto/ed25519"
	"encoding/base64"
	"strconv"
	"time"
)

// ReadingSigningBytes returns what a meter signs for a reading: the
// signing context and the canonical encoding of the reading without its
// signature.
func ReadingSigningBytes(r Reading) ([]byte, error) {
	r.Signature = nil
	return SigningBytes(ContextReading, r.canonical()), nil
}

// canonical is Canonical(r), written out by hand because ingestion encodes
// every reading twice; a test and a fuzz target hold it to Canonical's bytes.
func (r Reading) canonical() []byte {
	if !plainJSON(r.MeterID) || !plainJSON(r.Start) || !plainJSON(r.End) {
		b, _ := Canonical(r) // strings that need escaping take the general path
		return b
	}
	b := make([]byte, 0, 160+len(r.MeterID)+base64.StdEncoding.EncodedLen(len(r.Signature)))
	b = append(b, `{"meter_id":"`...)
	b = append(b, r.MeterID...)
	b = append(b, `","seq":`...)
	b = strconv.AppendInt(b, r.Seq, 10)
	b = append(b, `,"start":"`...)
	b = append(b, r.Start...)
	b = append(b, `","end":"`...)
	b = append(b, r.End...)
	b = append(b, `","energy_wh":`...)
	b = strconv.AppendInt(b, r.EnergyWh, 10)
	b = append(b, `,"register_wh":`...)
	b = strconv.AppendInt(b, r.RegisterWh, 10)
	if len(r.Signature) > 0 {
		b = append(b, `,"signature":"`...)
		b = base64.StdEncoding.AppendEncode(b, r.Signature)
		b = append(b, '"')
	}
	return append(b, '}')
}

// plainJSON reports whether s is printable ASCII that JSON writes as is.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// CanonicalReading returns the canonical bytes of a reading (signature
// included), as Canonical does, faster.
func CanonicalReading(r Reading) []byte { return r.canonical() }

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
	return MerkleLeaf(r.canonical()), nil
}

// MeterHead is what the oracle remembers of a meter's last accepted
// reading: the sequence, the end of its interval and the register after it.
type MeterHead struct {
	Seq        int64
	End        time.Time
	RegisterWh int64
	Known      bool // a reading was accepted before
}

// IntervalKey names one reading of one meter by its interval's start.
type IntervalKey struct {
	MeterID string
	Start   int64 // Unix seconds
}
