package statement

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"

	"github.com/go-jose/go-jose/v4"

	"github.com/greenmint/greenmint"
)

// JWSType is the "typ" header of a signed statement: it keeps a statement
// from being taken for an access token signed with a key of the same set,
// and the other way round.
const JWSType = "greenmint-statement+jws"

// Key is the gateway's statement-signing key: an Ed25519 private key and the
// key ID under which its public key is published in the gateway's JWKS.
type Key struct {
	ID      string
	Private ed25519.PrivateKey
}

func (k Key) check() error {
	if k.ID == "" || len(k.Private) != ed25519.PrivateKeySize {
		return greenmint.Errorf(greenmint.EINVALID, "a statement key needs a key ID and an Ed25519 private key")
	}
	return nil
}

// PublicJWK returns the key's public half as a JWK to publish in the
// gateway's JWKS: OKP on Ed25519, with its kid, "alg" EdDSA and "use" sig.
func PublicJWK(k Key) (jose.JSONWebKey, error) {
	if err := k.check(); err != nil {
		return jose.JSONWebKey{}, fmt.Errorf("statement.PublicJWK: %w", err)
	}
	return jose.JSONWebKey{Key: k.Private.Public(), KeyID: k.ID, Algorithm: string(jose.EdDSA), Use: "sig"}, nil
}

// Signed builds the statement's Document from in (see Build) and returns it
// as a JWS in compact serialization: protected header {"alg":"EdDSA",
// "kid":k.ID,"typ":JWSType}, payload the Document's canonical bytes
// (greenmint.Canonical). Ed25519 is deterministic, so the same input and key
// give the same JWS.
func Signed(in Input, k Key) ([]byte, error) {
	const op = "statement.Signed"
	if err := k.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	d, err := Build(in)
	if err != nil {
		return nil, err
	}
	payload, err := greenmint.Canonical(d)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: k.Private, KeyID: k.ID}},
		(&jose.SignerOptions{}).WithType(JWSType))
	if err != nil {
		return nil, greenmint.E(greenmint.EINTERNAL, op, err, "")
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		return nil, greenmint.E(greenmint.EINTERNAL, op, err, "")
	}
	s, err := obj.CompactSerialize()
	if err != nil {
		return nil, greenmint.E(greenmint.EINTERNAL, op, err, "")
	}
	return []byte(s), nil
}

// Verify checks a signed statement against a JWKS (the JSON of the
// gateway's /.well-known/jwks.json) and returns its Document. It holds only
// when the JWS is compact, signed with EdDSA under the "kid" of an Ed25519
// key in the set (not one marked for another use or algorithm), of type
// JWSType; its payload is a Document of this Version in canonical form; and
// the Document's derived figures agree with its own counts (each part's
// surplus share, unit and the totals). A signature that does not hold or an
// unknown kid is unauthenticated; anything else that is wrong is invalid.
func Verify(jws, jwks []byte) (*Document, error) {
	const op = "statement.Verify"
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(jwks, &set); err != nil {
		return nil, greenmint.E(greenmint.EINVALID, op, err, "malformed JWKS")
	}
	obj, err := jose.ParseSignedCompact(string(bytes.TrimSpace(jws)), []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		return nil, greenmint.E(greenmint.EINVALID, op, err, "malformed JWS")
	}
	if len(obj.Signatures) != 1 {
		return nil, greenmint.Errorf(greenmint.EINVALID, "%s: a statement has one signature, this JWS %d", op, len(obj.Signatures))
	}
	h := obj.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != JWSType {
		return nil, greenmint.Errorf(greenmint.EINVALID, "%s: the JWS is of type %q, not %q", op, typ, JWSType)
	}
	if h.KeyID == "" {
		return nil, greenmint.Errorf(greenmint.EINVALID, "%s: the JWS names no key (kid)", op)
	}
	keys := set.Key(h.KeyID)
	if len(keys) != 1 {
		return nil, greenmint.Errorf(greenmint.EUNAUTHENTICATED, "%s: the key set has %d keys with kid %q, not one", op, len(keys), h.KeyID)
	}
	pub, ok := keys[0].Key.(ed25519.PublicKey)
	if !ok || (keys[0].Use != "" && keys[0].Use != "sig") || (keys[0].Algorithm != "" && keys[0].Algorithm != string(jose.EdDSA)) {
		return nil, greenmint.Errorf(greenmint.EUNAUTHENTICATED, "%s: key %q is not an Ed25519 signing key for EdDSA", op, h.KeyID)
	}
	payload, err := obj.Verify(pub)
	if err != nil {
		return nil, greenmint.E(greenmint.EUNAUTHENTICATED, op, err, "the signature does not verify with key %q", h.KeyID)
	}
	var d Document
	if err := greenmint.DecodeStrict(payload, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	canon, err := greenmint.Canonical(&d)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if !bytes.Equal(canon, payload) {
		return nil, greenmint.Errorf(greenmint.EINVALID, "%s: the signed document is not in canonical form", op)
	}
	if err := d.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return &d, nil
}

// check verifies a Document's derived figures against its own counts.
func (d *Document) check() error {
	if d.Version != Version {
		return greenmint.Errorf(greenmint.EINVALID, "document version %d, this verifier knows %d", d.Version, Version)
	}
	if len(d.Parts) == 0 {
		return greenmint.Errorf(greenmint.EINVALID, "the document has no parts")
	}
	for i, p := range d.Parts {
		unit, ok := unitOf(p.Instrument)
		hours, err := periodHours(p.PeriodStart, p.PeriodEnd)
		switch {
		case err != nil || hours != p.PeriodHours:
			return greenmint.Errorf(greenmint.EINVALID, "part %d: period %s–%s is not %d hours", i+1, p.PeriodStart, p.PeriodEnd, p.PeriodHours)
		case !ok || p.Unit != unit:
			return greenmint.Errorf(greenmint.EINVALID, "part %d: instrument %q with unit %q", i+1, p.Instrument, p.Unit)
		case p.Quantity <= 0:
			return greenmint.Errorf(greenmint.EINVALID, "part %d: quantity %d is not positive", i+1, p.Quantity)
		case p.SurplusShare == "" || p.SurplusShare != percent(p.SurplusHours, p.PeriodHours):
			return greenmint.Errorf(greenmint.EINVALID, "part %d: surplus share %q is not %d of %d hours", i+1, p.SurplusShare, p.SurplusHours, p.PeriodHours)
		}
	}
	want, err := totals(d.Parts)
	if err != nil {
		return err
	}
	if len(want) != len(d.Totals) {
		return greenmint.Errorf(greenmint.EINVALID, "the totals are not the sums of the parts")
	}
	for i := range want {
		if want[i] != d.Totals[i] {
			return greenmint.Errorf(greenmint.EINVALID, "the total of %s is not the sum of its parts", want[i].Instrument)
		}
	}
	return nil
}
