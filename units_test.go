package greenmint_test

import (
	"math"
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

func TestErrorRoundTrip(t *testing.T) {
	tests := []struct {
		err  *greenmint.Error
		want string
	}{
		{&greenmint.Error{Code: greenmint.ECONFLICT, Message: "already minted"}, "conflict: already minted"},
		{&greenmint.Error{Code: greenmint.EFORBIDDEN, Op: "Mint", Message: "role"}, "forbidden: Mint: role"},
	}
	for _, tc := range tests {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
		back := greenmint.ParseError(tc.err.Error())
		if back.Code != tc.err.Code {
			t.Errorf("ParseError(%q).Code = %q, want %q", tc.err.Error(), back.Code, tc.err.Code)
		}
	}
	if got := greenmint.ParseError("boom: no code").Code; got != greenmint.EINTERNAL {
		t.Errorf("ParseError of an uncoded message = %q, want internal", got)
	}
	if got := greenmint.ErrorCode(nil); got != "" {
		t.Errorf("ErrorCode(nil) = %q", got)
	}
}

func TestBatchRules(t *testing.T) {
	fresh := func() (*greenmint.Batch, *greenmint.Holding, *greenmint.Holding) {
		return &greenmint.Batch{ID: "B", Issued: 100, Tradable: 100, Status: greenmint.BatchActive},
			&greenmint.Holding{BatchID: "B", Owner: "A", Tradable: 100},
			&greenmint.Holding{BatchID: "B", Owner: "C"}
	}
	tests := []struct {
		name string
		op   func(b *greenmint.Batch, a, c *greenmint.Holding) error
		code string
	}{
		{"transfer", func(b *greenmint.Batch, a, c *greenmint.Holding) error { return greenmint.Transfer(b, a, c, 40) }, ""},
		{"transfer too much", func(b *greenmint.Batch, a, c *greenmint.Holding) error { return greenmint.Transfer(b, a, c, 101) }, greenmint.ECONFLICT},
		{"transfer to self", func(b *greenmint.Batch, a, c *greenmint.Holding) error { return greenmint.Transfer(b, a, a, 1) }, greenmint.EINVALID},
		{"escrow then settle", func(b *greenmint.Batch, a, c *greenmint.Holding) error {
			if err := greenmint.Escrow(b, a, 30); err != nil {
				return err
			}
			return greenmint.Settle(b, a, c, 30)
		}, ""},
		{"settle without escrow", func(b *greenmint.Batch, a, c *greenmint.Holding) error { return greenmint.Settle(b, a, c, 1) }, greenmint.EINTERNAL},
		{"retire then cancel the rest", func(b *greenmint.Batch, a, c *greenmint.Holding) error {
			if err := greenmint.Retire(b, a, 60); err != nil {
				return err
			}
			return greenmint.Cancel(b, a, 40)
		}, ""},
		{"retire withdrawn", func(b *greenmint.Batch, a, c *greenmint.Holding) error {
			b.Status = greenmint.BatchWithdrawn
			return greenmint.Retire(b, a, 1)
		}, greenmint.ECONFLICT},
		{"retire zero", func(b *greenmint.Batch, a, c *greenmint.Holding) error { return greenmint.Retire(b, a, 0) }, greenmint.EINVALID},
		{"transfer overflowing the receiver", func(b *greenmint.Batch, a, c *greenmint.Holding) error {
			c.Tradable = math.MaxInt64
			return greenmint.Transfer(b, a, c, 1)
		}, greenmint.EINVALID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, a, c := fresh()
			before := *a
			err := tc.op(b, a, c)
			if got := greenmint.ErrorCode(err); got != tc.code {
				t.Fatalf("code = %q (%v), want %q", got, err, tc.code)
			}
			if err == nil {
				if err := greenmint.CheckBatchSupply(b); err != nil {
					t.Fatalf("R3 broken: %v", err)
				}
				if a.Tradable+a.Escrowed+c.Tradable+c.Escrowed != b.Tradable+b.Escrowed {
					t.Fatalf("holdings %+v %+v do not add up to batch %+v", a, c, b)
				}
			} else if *a != before && tc.name != "settle without escrow" {
				t.Fatalf("a failed rule changed the holding: %+v → %+v", before, *a)
			}
		})
	}
}
