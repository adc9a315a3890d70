package greenmint_test

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/greenmint/greenmint"
)

func TestCheckedArithmetic(t *testing.T) {
	tests := []struct {
		name    string
		f       func(a, b int64) (int64, error)
		a, b    int64
		want    int64
		wantErr bool
	}{
		{"add", greenmint.AddQty, 2, 3, 5, false},
		{"add overflow", greenmint.AddQty, math.MaxInt64, 1, 0, true},
		{"add underflow", greenmint.AddQty, math.MinInt64, -1, 0, true},
		{"add negative", greenmint.AddQty, -5, 3, -2, false},
		{"sub", greenmint.SubQty, 5, 3, 2, false},
		{"sub min", greenmint.SubQty, 0, math.MinInt64, 0, true},
		{"sub overflow", greenmint.SubQty, math.MinInt64, 1, 0, true},
		{"mul", greenmint.MulQty, 1_000_000, 329_000, 329_000_000_000, false},
		{"mul overflow", greenmint.MulQty, math.MaxInt64/2 + 1, 2, 0, true},
		{"mul min by -1", greenmint.MulQty, math.MinInt64, -1, 0, true},
		{"mul zero", greenmint.MulQty, 0, math.MaxInt64, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.f(tc.a, tc.b)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("%s(%d, %d) = %d, %v; want %d, error %v", tc.name, tc.a, tc.b, got, err, tc.want, tc.wantErr)
			}
			if err != nil && greenmint.ErrorCode(err) != greenmint.EINVALID {
				t.Fatalf("overflow code = %s", greenmint.ErrorCode(err))
			}
		})
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		in   int64
		mwh  string
		tons string
	}{
		{0, "0.000000 MWh", "0.000000 tCO2e"},
		{1, "0.000001 MWh", "0.000001 tCO2e"},
		{149_879_027, "149.879027 MWh", "149.879027 tCO2e"},
		{-1_500_000, "-1.500000 MWh", "-1.500000 tCO2e"},
		{math.MaxInt64, "9223372036854.775807 MWh", "9223372036854.775807 tCO2e"},
		{math.MinInt64, "-9223372036854.775808 MWh", "-9223372036854.775808 tCO2e"},
	}
	for _, tc := range tests {
		if got := greenmint.FormatMWh(tc.in); got != tc.mwh {
			t.Errorf("FormatMWh(%d) = %q, want %q", tc.in, got, tc.mwh)
		}
		if got := greenmint.FormatTonnes(tc.in); got != tc.tons {
			t.Errorf("FormatTonnes(%d) = %q, want %q", tc.in, got, tc.tons)
		}
	}
}

// TestErrorRoundTrip: an error keeps its code, op, message and cause in
// its text, and ParseError reads that text back into an equal error, for
// every code, for wrapped causes, nested *Errors and errors wrapped with
// fmt.Errorf (rendered as the chaincode renders them: code, then message).
func TestErrorRoundTrip(t *testing.T) {
	allCodes := []string{greenmint.EINVALID, greenmint.ENOTFOUND, greenmint.ECONFLICT, greenmint.EUNAUTHENTICATED, greenmint.EFORBIDDEN, greenmint.EUNAVAILABLE, greenmint.EINTERNAL}
	for _, code := range allCodes {
		cause := errors.New("disk full")
		inner := &greenmint.Error{Code: greenmint.EINVALID, Op: "store.Get", Message: "no such row"}
		tests := []struct {
			name string
			err  *greenmint.Error
			text string   // what Error() renders; "" when only its parts are fixed
			has  []string // parts the text holds, in order
		}{
			{"message", &greenmint.Error{Code: code, Message: "already minted"}, code + ": already minted", nil},
			{"op and message", &greenmint.Error{Code: code, Op: "Mint", Message: "role"}, code + ": Mint: role", nil},
			{"dotted op", &greenmint.Error{Code: code, Op: "store.Retire", Message: "no holding"}, code + ": store.Retire: no holding", nil},
			{"op and cause", &greenmint.Error{Code: code, Op: "Transfer", Err: cause}, code + ": Transfer: disk full", nil},
			{"op, message and wrapped cause", &greenmint.Error{Code: code, Op: "Retire", Message: "saving", Err: fmt.Errorf("write block 7: %w", cause)}, code + ": Retire: saving: write block 7: disk full", nil},
			{"nested error", &greenmint.Error{Code: code, Op: "Transfer", Err: inner}, "", []string{code + ": ", "Transfer: ", "store.Get: no such row"}},
			{"nested twice", &greenmint.Error{Code: code, Op: "api.transfer", Message: "refused", Err: &greenmint.Error{Code: greenmint.ECONFLICT, Op: "Transfer", Err: inner}}, "", []string{code + ": ", "api.transfer: refused: ", "Transfer: ", "store.Get: no such row"}},
		}
		for _, tc := range tests {
			t.Run(code+"/"+tc.name, func(t *testing.T) {
				e := tc.err
				text := e.Error()
				if tc.text != "" && text != tc.text {
					t.Errorf("Error() = %q, want %q", text, tc.text)
				}
				rest := text
				for _, part := range tc.has {
					i := strings.Index(rest, part)
					if i < 0 {
						t.Fatalf("Error() = %q, want %q in it (in order)", text, part)
					}
					rest = rest[i+len(part):]
				}
				if got := greenmint.ErrorCode(e); got != code {
					t.Errorf("ErrorCode(%q) = %q, want %q", text, got, code)
				}
				if e.Err != nil && !errors.Is(e, cause) && !errors.Is(e, inner) {
					t.Errorf("errors.Is(%q, its cause) = false", text)
				}
				back := greenmint.ParseError(text)
				checkSameError(t, back, e)
				// Wrapped with fmt.Errorf, the chaincode renders code and message.
				wrapped := fmt.Errorf("chaincode.write: %w", e)
				if got := greenmint.ErrorCode(wrapped); got != code {
					t.Errorf("ErrorCode(wrapped %q) = %q, want %q", text, got, code)
				}
				checkSameError(t, greenmint.ParseError(greenmint.ErrorCode(wrapped)+": "+greenmint.ErrorMessage(wrapped)), e)
			})
		}
	}
	uncoded := greenmint.ParseError("boom: no code")
	if want := (&greenmint.Error{Code: greenmint.EINTERNAL, Message: "boom: no code"}); *uncoded != *want {
		t.Errorf("ParseError of an uncoded message = %+v, want %+v", uncoded, want)
	}
	// Limit: a message without an op whose first part reads as one comes
	// back as that op; the text is the same.
	if back := greenmint.ParseError("internal: chaincode: decode batch"); back.Op != "chaincode" || back.Error() != "internal: chaincode: decode batch" {
		t.Errorf("ParseError(internal: chaincode: decode batch) = %+v", back)
	}
	if back := greenmint.ParseError("invalid: malformed JSON: unexpected end"); back.Op != "" || back.Message != "malformed JSON: unexpected end" {
		t.Errorf("ParseError(invalid: malformed JSON: …) = %+v, want no op", back)
	}
	if got := greenmint.ErrorCode(nil); got != "" {
		t.Errorf("ErrorCode(nil) = %q", got)
	}
}

// checkSameError holds back, an error read back from want's text, equal to
// want: its code, its op, its text and its message; a message with no
// cause comes back as is, a cause's text comes back in the message.
func checkSameError(tb testing.TB, back, want *greenmint.Error) {
	tb.Helper()
	if back.Code != want.Code || back.Op != want.Op {
		tb.Errorf("ParseError(%q) has code %q op %q, want %q %q", want.Error(), back.Code, back.Op, want.Code, want.Op)
	}
	if back.Error() != want.Error() {
		tb.Errorf("ParseError(%q).Error() = %q", want.Error(), back.Error())
	}
	if got, w := greenmint.ErrorMessage(back), greenmint.ErrorMessage(want); got != w {
		tb.Errorf("ErrorMessage(ParseError(%q)) = %q, want %q", want.Error(), got, w)
	}
	if want.Err == nil && back.Message != want.Message {
		tb.Errorf("ParseError(%q).Message = %q, want %q", want.Error(), back.Message, want.Message)
	}
	if want.Err != nil && !strings.HasSuffix(back.Message, "no such row") && !strings.HasSuffix(back.Message, "disk full") {
		tb.Errorf("ParseError(%q).Message = %q, want the cause's text in it", want.Error(), back.Message)
	}
}

// TestBatchRules checks each rule's exact effect on the batch's counters and
// both holdings, and that a refused rule changes nothing.
func TestBatchRules(t *testing.T) {
	type qty struct{ Tradable, Escrowed, Retired, Cancelled int64 } // a batch's counters; a holding's are the first two
	state := func(b *greenmint.Batch, a, c *greenmint.Holding) [3]qty {
		return [3]qty{{b.Tradable, b.Escrowed, b.Retired, b.Cancelled}, {a.Tradable, a.Escrowed, 0, 0}, {c.Tradable, c.Escrowed, 0, 0}}
	}
	type rule = func(b *greenmint.Batch, a, c *greenmint.Holding) error
	transfer := func(q int64) rule {
		return func(b *greenmint.Batch, a, c *greenmint.Holding) error { return greenmint.Transfer(b, a, c, q) }
	}
	escrow := func(q int64) rule {
		return func(b *greenmint.Batch, a, c *greenmint.Holding) error { return greenmint.Escrow(b, a, q) }
	}
	settle := func(q int64) rule {
		return func(b *greenmint.Batch, a, c *greenmint.Holding) error { return greenmint.Settle(b, a, c, q) }
	}
	retire := func(q int64) rule {
		return func(b *greenmint.Batch, a, c *greenmint.Holding) error { return greenmint.Retire(b, a, q) }
	}
	withdrawn := func(b *greenmint.Batch, a, c *greenmint.Holding) error {
		b.Status = greenmint.BatchWithdrawn
		return nil
	}
	flagged := func(b *greenmint.Batch, a, c *greenmint.Holding) error { b.OpenFlags = 1; return nil }
	then := func(rs ...rule) rule {
		return func(b *greenmint.Batch, a, c *greenmint.Holding) error {
			for _, r := range rs {
				if err := r(b, a, c); err != nil {
					return err
				}
			}
			return nil
		}
	}
	tests := []struct {
		name  string
		setup rule // applied first; must succeed
		op    rule
		code  string
		want  [3]qty // batch, holding a, holding c after op; refused: as after setup
	}{
		{"transfer", nil, transfer(40), "", [3]qty{{100, 0, 0, 0}, {60, 0, 0, 0}, {40, 0, 0, 0}}},
		{"transfer all", nil, transfer(100), "", [3]qty{{100, 0, 0, 0}, {0, 0, 0, 0}, {100, 0, 0, 0}}},
		{"transfer too much", nil, transfer(101), greenmint.ECONFLICT, [3]qty{}},
		{"transfer zero", nil, transfer(0), greenmint.EINVALID, [3]qty{}},
		{"transfer negative", nil, transfer(-5), greenmint.EINVALID, [3]qty{}},
		{"transfer to self", nil, func(b *greenmint.Batch, a, c *greenmint.Holding) error { return greenmint.Transfer(b, a, a, 1) }, greenmint.EINVALID, [3]qty{}},
		{"transfer of a withdrawn batch", withdrawn, transfer(1), greenmint.ECONFLICT, [3]qty{}},
		{"transfer of a flagged batch", flagged, transfer(1), greenmint.ECONFLICT, [3]qty{}},
		{"transfer overflowing the receiver", func(b *greenmint.Batch, a, c *greenmint.Holding) error { c.Tradable = math.MaxInt64; return nil }, transfer(1), greenmint.EINVALID, [3]qty{}},
		{"escrow", nil, escrow(30), "", [3]qty{{70, 30, 0, 0}, {70, 30, 0, 0}, {0, 0, 0, 0}}},
		{"escrow too much", nil, escrow(101), greenmint.ECONFLICT, [3]qty{}},
		{"escrow of a flagged batch", flagged, escrow(1), greenmint.ECONFLICT, [3]qty{}},
		{"unescrow", escrow(30), func(b *greenmint.Batch, a, c *greenmint.Holding) error { return greenmint.Unescrow(b, a, 10) }, "", [3]qty{{80, 20, 0, 0}, {80, 20, 0, 0}, {0, 0, 0, 0}}},
		{"unescrow more than escrowed", escrow(30), func(b *greenmint.Batch, a, c *greenmint.Holding) error { return greenmint.Unescrow(b, a, 31) }, greenmint.EINTERNAL, [3]qty{}},
		{"settle", escrow(30), settle(30), "", [3]qty{{100, 0, 0, 0}, {70, 0, 0, 0}, {30, 0, 0, 0}}},
		{"settle part", escrow(30), settle(10), "", [3]qty{{80, 20, 0, 0}, {70, 20, 0, 0}, {10, 0, 0, 0}}},
		{"settle without escrow", nil, settle(1), greenmint.EINTERNAL, [3]qty{}},
		{"settle of a flagged batch", then(escrow(30), flagged), settle(30), greenmint.ECONFLICT, [3]qty{}},
		{"retire", nil, retire(60), "", [3]qty{{40, 0, 60, 0}, {40, 0, 0, 0}, {0, 0, 0, 0}}},
		{"retire then cancel the rest", nil, then(retire(60), func(b *greenmint.Batch, a, c *greenmint.Holding) error { return greenmint.Cancel(b, a, 40) }), "", [3]qty{{0, 0, 60, 40}, {0, 0, 0, 0}, {0, 0, 0, 0}}},
		{"retire too much", nil, retire(101), greenmint.ECONFLICT, [3]qty{}},
		{"retire zero", nil, retire(0), greenmint.EINVALID, [3]qty{}},
		{"retire of a withdrawn batch", withdrawn, retire(1), greenmint.ECONFLICT, [3]qty{}},
		{"retire of a flagged batch", flagged, retire(1), greenmint.ECONFLICT, [3]qty{}},
		{"cancel of a flagged batch", flagged, func(b *greenmint.Batch, a, c *greenmint.Holding) error { return greenmint.Cancel(b, a, 10) }, "", [3]qty{{90, 0, 0, 10}, {90, 0, 0, 0}, {0, 0, 0, 0}}},
		{"cancel too much", nil, func(b *greenmint.Batch, a, c *greenmint.Holding) error { return greenmint.Cancel(b, a, 101) }, greenmint.ECONFLICT, [3]qty{}},
		{"cancel escrowed", escrow(30), func(b *greenmint.Batch, a, c *greenmint.Holding) error { return greenmint.CancelEscrowed(b, a, 20) }, "", [3]qty{{70, 10, 0, 20}, {70, 10, 0, 0}, {0, 0, 0, 0}}},
		{"cancel more than escrowed", escrow(30), func(b *greenmint.Batch, a, c *greenmint.Holding) error { return greenmint.CancelEscrowed(b, a, 31) }, greenmint.EINTERNAL, [3]qty{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := &greenmint.Batch{ID: "B", Issued: 100, Tradable: 100, Status: greenmint.BatchActive}
			a := &greenmint.Holding{BatchID: "B", Owner: "A", Tradable: 100}
			c := &greenmint.Holding{BatchID: "B", Owner: "C"}
			if tc.setup != nil {
				if err := tc.setup(b, a, c); err != nil {
					t.Fatalf("setup: %v", err)
				}
			}
			bb, ab, cb := *b, *a, *c
			err := tc.op(b, a, c)
			if got := greenmint.ErrorCode(err); got != tc.code {
				t.Fatalf("code = %q (%v), want %q", got, err, tc.code)
			}
			if err != nil {
				if *b != bb || *a != ab || *c != cb {
					t.Fatalf("a refused rule changed state: batch %+v → %+v, A %+v → %+v, C %+v → %+v", bb, *b, ab, *a, cb, *c)
				}
				return
			}
			if got := state(b, a, c); got != tc.want {
				t.Fatalf("after %s: batch, A, C = %+v, want %+v", tc.name, got, tc.want)
			}
			if b.Issued != 100 || b.Status != bb.Status || b.OpenFlags != bb.OpenFlags || a.Owner != "A" || c.Owner != "C" {
				t.Fatalf("%s changed what it must not: batch %+v, A %+v, C %+v", tc.name, *b, *a, *c)
			}
			if err := greenmint.CheckBatchSupply(b); err != nil {
				t.Fatalf("R3 broken: %v", err)
			}
		})
	}
}
