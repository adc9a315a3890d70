package webhook_test

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/webhook"
)

// TestSignStandardVector signs the Standard Webhooks reference libraries'
// test vector.
func TestSignStandardVector(t *testing.T) {
	got, err := webhook.Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; err != nil || got != want {
		t.Fatalf("Sign(vector) = %q, %v; want %q", got, err, want)
	}
}

// TestSecret: secrets are whsec_ and 32 bytes of base64, one per
// subscription and master key.
func TestSecret(t *testing.T) {
	k1, k2 := []byte(strings.Repeat("a", 32)), []byte(strings.Repeat("b", 32))
	s := webhook.Secret(k1, "whk_1")
	if !strings.HasPrefix(s, "whsec_") || len(s) != len("whsec_")+44 || s != webhook.Secret(k1, "whk_1") {
		t.Fatalf("Secret = %q, want whsec_ and 44 base64 characters, the same each time", s)
	}
	if s == webhook.Secret(k1, "whk_2") || s == webhook.Secret(k2, "whk_1") {
		t.Fatal("Secret is the same for another subscription or another master key")
	}
}

func TestVerify(t *testing.T) {
	secret := webhook.Secret([]byte(strings.Repeat("k", 32)), "whk_1")
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"type":"Transfer","id":"7-0"}`)
	signed := func(at time.Time) http.Header {
		h, err := webhook.Headers(secret, "msg_1", at, body)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	tests := []struct {
		name   string
		secret string
		header func() http.Header
		body   string
		want   error
	}{
		{"signed now", secret, func() http.Header { return signed(now) }, string(body), nil},
		{"without the prefix", strings.TrimPrefix(secret, "whsec_"), func() http.Header { return signed(now) }, string(body), nil},
		{"4 minutes old", secret, func() http.Header { return signed(now.Add(-4 * time.Minute)) }, string(body), nil},
		{"6 minutes old", secret, func() http.Header { return signed(now.Add(-6 * time.Minute)) }, string(body), webhook.ErrTimestamp},
		{"6 minutes ahead", secret, func() http.Header { return signed(now.Add(6 * time.Minute)) }, string(body), webhook.ErrTimestamp},
		{"another body", secret, func() http.Header { return signed(now) }, `{"type":"Transfer","id":"7-1"}`, webhook.ErrSignature},
		{"another secret", webhook.Secret([]byte(strings.Repeat("k", 32)), "whk_2"), func() http.Header { return signed(now) }, string(body), webhook.ErrSignature},
		{"another id", secret, func() http.Header { h := signed(now); h.Set(webhook.HeaderID, "msg_2"); return h }, string(body), webhook.ErrSignature},
		{"another timestamp", secret, func() http.Header {
			h := signed(now)
			h.Set(webhook.HeaderTimestamp, strconv.FormatInt(now.Unix()+1, 10))
			return h
		}, string(body), webhook.ErrSignature},
		{"several signatures, one good", secret, func() http.Header {
			h := signed(now)
			h.Set(webhook.HeaderSignature, "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,x "+h.Get(webhook.HeaderSignature))
			return h
		}, string(body), nil},
		{"the good one as v2", secret, func() http.Header {
			h := signed(now)
			h.Set(webhook.HeaderSignature, "v2,"+strings.TrimPrefix(h.Get(webhook.HeaderSignature), "v1,"))
			return h
		}, string(body), webhook.ErrSignature},
		{"no id", secret, func() http.Header { h := signed(now); h.Del(webhook.HeaderID); return h }, string(body), webhook.ErrMissingHeaders},
		{"no signature", secret, func() http.Header { h := signed(now); h.Del(webhook.HeaderSignature); return h }, string(body), webhook.ErrMissingHeaders},
		{"timestamp not a number", secret, func() http.Header { h := signed(now); h.Set(webhook.HeaderTimestamp, "soon"); return h }, string(body), webhook.ErrTimestamp},
		{"secret not base64", "whsec_!!", func() http.Header { return signed(now) }, string(body), webhook.ErrSecret},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := webhook.VerifyAt(tc.secret, tc.header(), []byte(tc.body), 5*time.Minute, now)
			if !errors.Is(err, tc.want) {
				t.Fatalf("VerifyAt = %v, want %v", err, tc.want)
			}
			if err != nil && tc.want != webhook.ErrSecret && greenmint.ErrorCode(err) != greenmint.EUNAUTHENTICATED {
				t.Fatalf("VerifyAt = %v, code %s; want unauthenticated", err, greenmint.ErrorCode(err))
			}
		})
	}
}

func TestDefaultBackoff(t *testing.T) {
	for _, tc := range []struct {
		attempt int
		max     time.Duration
	}{{1, 30 * time.Second}, {2, time.Minute}, {3, 2 * time.Minute}, {10, 256 * time.Minute}, {11, 6 * time.Hour}, {13, 6 * time.Hour}, {100, 6 * time.Hour}} {
		for range 20 {
			if got := webhook.DefaultBackoff(tc.attempt); got > tc.max || got < tc.max*3/4 {
				t.Fatalf("DefaultBackoff(%d) = %v, want %v to %v", tc.attempt, got, tc.max*3/4, tc.max)
			}
		}
	}
}
