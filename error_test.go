package greenmint_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
)

// TestEKeepsItsCause holds E: the cause stays in the chain (errors.Is and
// errors.As see it), an empty code takes the cause's, retryability follows
// only an unchanged code, and the text names each code once.
func TestEKeepsItsCause(t *testing.T) {
	retryable := &greenmint.Error{Code: greenmint.ECONFLICT, Message: "transaction t1 invalidated at commit: MVCC_READ_CONFLICT", Retryable: true}
	tests := []struct {
		name      string
		err       *greenmint.Error
		code      string
		text      string
		retryable bool
		is        error
	}{
		{"context", greenmint.E(greenmint.EUNAVAILABLE, "embedded.Commit", context.Canceled, "transaction %s not ordered", "t1"),
			greenmint.EUNAVAILABLE, "unavailable: embedded.Commit: transaction t1 not ordered: context canceled", false, context.Canceled},
		{"inherits the code", greenmint.E("", "store.Open", greenmint.E(greenmint.ENOTFOUND, "", fs.ErrNotExist, "no file %s", "x"), ""),
			greenmint.ENOTFOUND, "not_found: store.Open: no file x: file does not exist", false, fs.ErrNotExist},
		{"uncoded cause is internal", greenmint.E("", "op", errors.New("boom"), "doing %s", "it"),
			greenmint.EINTERNAL, "internal: op: doing it: boom", false, nil},
		{"no cause", greenmint.E(greenmint.EINVALID, "op", nil, "bad %d", 1), greenmint.EINVALID, "invalid: op: bad 1", false, nil},
		{"nested once", greenmint.E(greenmint.EUNAVAILABLE, "fabric.Submit", greenmint.E("", "fabric.commit", fmt.Errorf("peer p1: %w", greenmint.Errorf(greenmint.EUNAVAILABLE, "down")), ""), ""),
			greenmint.EUNAVAILABLE, "unavailable: fabric.Submit: fabric.commit: peer p1: down", false, nil},
		{"other code, text kept", greenmint.E(greenmint.EUNAUTHENTICATED, "embedded.Endorse", greenmint.Errorf(greenmint.EINVALID, "malformed JSON"), "proposal does not decode"),
			greenmint.EUNAUTHENTICATED, "unauthenticated: embedded.Endorse: proposal does not decode: malformed JSON", false, nil},
		{"retryable kept", greenmint.E("", "oracle.submit", retryable, ""), greenmint.ECONFLICT,
			"conflict: oracle.submit: transaction t1 invalidated at commit: MVCC_READ_CONFLICT", true, nil},
		{"retryable kept under the same code", greenmint.E(greenmint.ECONFLICT, "oracle.submit", fmt.Errorf("mint: %w", retryable), ""), greenmint.ECONFLICT,
			"conflict: oracle.submit: mint: transaction t1 invalidated at commit: MVCC_READ_CONFLICT", true, nil},
		{"retryable dropped by another code", greenmint.E(greenmint.EINTERNAL, "op", retryable, ""), greenmint.EINTERNAL,
			"internal: op: transaction t1 invalidated at commit: MVCC_READ_CONFLICT", false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error = tc.err
			if got := greenmint.ErrorCode(err); got != tc.code {
				t.Errorf("ErrorCode = %q, want %q", got, tc.code)
			}
			if got := err.Error(); got != tc.text {
				t.Errorf("Error() = %q, want %q", got, tc.text)
			}
			if got := greenmint.IsRetryable(err); got != tc.retryable {
				t.Errorf("IsRetryable = %v, want %v", got, tc.retryable)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tc.is)
			}
			if got := greenmint.ErrorMessage(err); got != strings.TrimPrefix(tc.text, tc.code+": ") {
				t.Errorf("ErrorMessage = %q", got)
			}
			back := greenmint.ParseError(err.Error())
			if back.Code != tc.code || back.Error() != tc.text || back.Retryable {
				t.Errorf("ParseError(%q) = %+v, want code %q, the same text, not retryable", err.Error(), back, tc.code)
			}
		})
	}
}

// TestCodesParse holds the one list of codes: ParseError reads back every
// code in it, and nothing else.
func TestCodesParse(t *testing.T) {
	codes := greenmint.Codes()
	if len(codes) < 7 {
		t.Fatalf("Codes() = %v", codes)
	}
	for _, c := range codes {
		if got := greenmint.ParseError(c + ": F: m"); got.Code != c || got.Op != "F" || got.Message != "m" {
			t.Errorf("ParseError(%q) = %+v", c+": F: m", got)
		}
	}
	if got := greenmint.ParseError("teapot: F: m"); got.Code != greenmint.EINTERNAL || got.Message != "teapot: F: m" {
		t.Errorf("ParseError of an unknown code = %+v, want internal with the whole text", got)
	}
	codes[0] = "changed"
	if greenmint.Codes()[0] == "changed" {
		t.Error("Codes() returns the package's own slice")
	}
}

// TestRetryPolicy holds the one retry policy of the ledger adapters: a
// retryable failure is tried again, up to Attempts; anything else is
// returned at once; running out says so and stays retryable; a context
// that ends while waiting stops the retries.
func TestRetryPolicy(t *testing.T) {
	ctx := context.Background()
	conflict := func() error {
		return &greenmint.Error{Code: greenmint.ECONFLICT, Message: "invalidated at commit: MVCC_READ_CONFLICT", Retryable: true}
	}
	var pauses []time.Duration
	p := greenmint.DefaultRetryPolicy()
	p.Sleep = func(ctx context.Context, d time.Duration) error { pauses = append(pauses, d); return ctx.Err() }

	t.Run("passes on a later attempt", func(t *testing.T) {
		pauses = nil
		calls := 0
		err := p.Do(ctx, "op", func(attempt int) error {
			if attempt != calls {
				t.Fatalf("attempt = %d, want %d", attempt, calls)
			}
			calls++
			if calls < 3 {
				return conflict()
			}
			return nil
		})
		if err != nil || calls != 3 || len(pauses) != 2 {
			t.Fatalf("Do = %v after %d calls and %d pauses, want nil after 3 and 2", err, calls, len(pauses))
		}
		for i, d := range pauses {
			if d <= 0 || d > p.Base<<i {
				t.Errorf("pause %d = %v, want in (0, %v]", i, d, p.Base<<i)
			}
		}
	})
	t.Run("not retryable", func(t *testing.T) {
		calls := 0
		refused := greenmint.Errorf(greenmint.ECONFLICT, "Bootstrap: already bootstrapped")
		err := p.Do(ctx, "op", func(int) error { calls++; return refused })
		if err != refused || calls != 1 {
			t.Fatalf("Do = %v after %d calls, want the refusal after 1", err, calls)
		}
	})
	t.Run("exhausted", func(t *testing.T) {
		calls := 0
		err := p.Do(ctx, "embedded.Submit", func(int) error { calls++; return conflict() })
		if calls != p.Attempts {
			t.Fatalf("%d calls, want %d", calls, p.Attempts)
		}
		want := fmt.Sprintf("conflict: embedded.Submit: retries exhausted: gave up after %d attempts: invalidated at commit: MVCC_READ_CONFLICT", p.Attempts)
		if !errors.Is(err, greenmint.ErrRetriesExhausted) || !greenmint.IsRetryable(err) || greenmint.ErrorCode(err) != greenmint.ECONFLICT || err.Error() != want {
			t.Fatalf("Do = %q (exhausted %v, retryable %v), want %q", err, errors.Is(err, greenmint.ErrRetriesExhausted), greenmint.IsRetryable(err), want)
		}
	})
	t.Run("context ends", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		calls := 0
		err := p.Do(cctx, "op", func(int) error { calls++; return conflict() })
		if calls != 1 || greenmint.ErrorCode(err) != greenmint.EUNAVAILABLE || !errors.Is(err, context.Canceled) || greenmint.IsRetryable(err) {
			t.Fatalf("Do = %v after %d calls, want unavailable with context.Canceled after 1", err, calls)
		}
	})
}
