package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/greenmint/greenmint"
)

// The headers of a delivery (the Standard Webhooks specification,
// github.com/standard-webhooks/standard-webhooks, spec/standard-webhooks.md).
const (
	HeaderID        = "webhook-id"        // the message's ID, the same on every attempt
	HeaderTimestamp = "webhook-timestamp" // Unix seconds of the attempt
	HeaderSignature = "webhook-signature" // "v1,<base64 HMAC-SHA256>", space-separated if several
)

// SecretPrefix begins every signing secret.
const SecretPrefix = "whsec_"

// MasterKeySize is the size of the key secrets are derived from.
const MasterKeySize = 32

// Errors of Verify: each is unauthenticated.
var (
	ErrMissingHeaders = &greenmint.Error{Code: greenmint.EUNAUTHENTICATED, Op: "webhook.Verify", Message: "the webhook-id, webhook-timestamp and webhook-signature headers are required"}
	ErrTimestamp      = &greenmint.Error{Code: greenmint.EUNAUTHENTICATED, Op: "webhook.Verify", Message: "the webhook-timestamp is not a Unix time within the tolerance"}
	ErrSignature      = &greenmint.Error{Code: greenmint.EUNAUTHENTICATED, Op: "webhook.Verify", Message: "no webhook-signature matches"}
	ErrSecret         = &greenmint.Error{Code: greenmint.EINVALID, Op: "webhook.Verify", Message: "the secret is not whsec_ followed by base64"}
)

// Secret returns the signing secret of subscription subID:
// "whsec_" + base64(HMAC-SHA256(masterKey, subID)). Secrets are derived,
// never stored: a new masterKey gives every subscription a new secret.
func Secret(masterKey []byte, subID string) string {
	m := hmac.New(sha256.New, masterKey)
	m.Write([]byte(subID))
	return SecretPrefix + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// secretKey returns the HMAC key a secret stands for: the bytes its base64
// encodes (after the whsec_ prefix, which may be left out).
func secretKey(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil || len(key) == 0 {
		return nil, ErrSecret
	}
	return key, nil
}

// Sign returns the webhook-signature of a message: "v1," and the base64 of
// HMAC-SHA256 keyed with the secret's bytes over msgID "." timestamp "."
// body, the timestamp in decimal Unix seconds.
func Sign(secret, msgID string, timestamp int64, body []byte) (string, error) {
	key, err := secretKey(secret)
	if err != nil {
		return "", err
	}
	return "v1," + base64.StdEncoding.EncodeToString(mac(key, msgID, strconv.FormatInt(timestamp, 10), body)), nil
}

func mac(key []byte, msgID, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msgID + "." + timestamp + "."))
	m.Write(body)
	return m.Sum(nil)
}

// Headers returns the three headers of a message signed with secret at
// time ts.
func Headers(secret, msgID string, ts time.Time, body []byte) (http.Header, error) {
	sig, err := Sign(secret, msgID, ts.Unix(), body)
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set(HeaderID, msgID)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, sig)
	return h, nil
}

// Verify checks a received message as a subscriber does: the headers are
// present, the timestamp is within tolerance of the clock (either way,
// against replays), and one of the v1 signatures is the HMAC of the body
// with the secret. The errors are ErrMissingHeaders, ErrTimestamp,
// ErrSignature and ErrSecret.
func Verify(secret string, h http.Header, body []byte, tolerance time.Duration) error {
	return VerifyAt(secret, h, body, tolerance, time.Now())
}

// VerifyAt is Verify with the clock's time given.
func VerifyAt(secret string, h http.Header, body []byte, tolerance time.Duration, now time.Time) error {
	key, err := secretKey(secret)
	if err != nil {
		return err
	}
	id, ts, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || ts == "" || sigs == "" {
		return ErrMissingHeaders
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrTimestamp
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: %s is %v from now", ErrTimestamp, ts, d.Round(time.Second))
	}
	want := mac(key, id, ts, body)
	for _, s := range strings.Fields(sigs) {
		version, sig, ok := strings.Cut(s, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrSignature
}
