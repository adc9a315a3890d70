package greenmint

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
)

// Canonical returns the one canonical byte encoding of v that Greenmint signs
// and hashes (docs/encoding.md): compact JSON of the value's Go struct, fields
// in declaration order, integers in decimal, byte strings in standard base64,
// no HTML escaping and no trailing newline. Every signed or hashed type is a
// struct of strings, integers, booleans, byte slices and slices of such
// structs, with no maps and no floating point, so the encoding is unique.
func Canonical(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, &Error{Code: EINVALID, Op: "greenmint.Canonical", Message: "cannot encode", Err: err}
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// SHA256Hex returns the lower-case hex SHA-256 of b.
func SHA256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// DecodeStrict decodes one JSON value into v, refusing unknown fields and
// trailing data, and reports failures as EINVALID with the reason.
func DecodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return E(EINVALID, "", err, "malformed JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return Errorf(EINVALID, "malformed JSON: trailing data after the value")
	}
	return nil
}

// Signing contexts: every signature covers a context string, a newline and
// the canonical bytes, so a signature made for one purpose never verifies
// for another.
const (
	ContextAttestation = "greenmint/attestation/v1"
	ContextReading     = "greenmint/reading/v1"
	ContextProposal    = "greenmint/proposal/v1"
)

// SigningBytes returns the bytes a signature in the given context covers.
func SigningBytes(context string, canonical []byte) []byte {
	out := make([]byte, 0, len(context)+1+len(canonical))
	out = append(out, context...)
	out = append(out, '\n')
	return append(out, canonical...)
}

// DatasetSHA256 returns the hex SHA-256 of the dataset content's canonical
// encoding: the value a dataset pin names (R9).
func DatasetSHA256(c DatasetContent) (string, error) {
	b, err := Canonical(c)
	if err != nil {
		return "", fmt.Errorf("greenmint.DatasetSHA256: %w", err)
	}
	return SHA256Hex(b), nil
}
