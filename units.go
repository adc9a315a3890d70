package greenmint

import (
	"fmt"
	"math"
	"math/big"
)

// Unit conversions. Energy is kept in Wh, emissions in gCO2e and emission
// factors in gCO2e/MWh, always as int64.
const (
	WhPerMWh        = 1_000_000
	GramsPerTonne   = 1_000_000
	WhPerMWhDivisor = WhPerMWh // the /10^6 of the CO2E formula
)

// ErrOverflow is returned when an integer quantity would leave int64.
var ErrOverflow = &Error{Code: EINVALID, Message: "quantity overflows int64"}

// AddQty returns a+b, or ErrOverflow if the sum does not fit in int64.
func AddQty(a, b int64) (int64, error) {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		return 0, ErrOverflow
	}
	return s, nil
}

// SubQty returns a-b, or ErrOverflow if the difference does not fit in int64.
func SubQty(a, b int64) (int64, error) {
	if b == math.MinInt64 {
		return 0, ErrOverflow
	}
	return AddQty(a, -b)
}

// MulQty returns a*b, or ErrOverflow if the product does not fit in int64.
func MulQty(a, b int64) (int64, error) {
	if a == 0 || b == 0 {
		return 0, nil
	}
	p := a * b
	if p/b != a || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) {
		return 0, ErrOverflow
	}
	return p, nil
}

// SumQty adds the quantities, failing on overflow.
func SumQty(qs ...int64) (int64, error) {
	var s int64
	for _, q := range qs {
		var err error
		if s, err = AddQty(s, q); err != nil {
			return 0, err
		}
	}
	return s, nil
}

// FormatMWh renders Wh as MWh with six decimals, exactly.
func FormatMWh(wh int64) string { return formatMillionths(wh) + " MWh" }

// FormatTonnes renders gCO2e as tCO2e with six decimals, exactly.
func FormatTonnes(g int64) string { return formatMillionths(g) + " tCO2e" }

func formatMillionths(v int64) string {
	b := new(big.Int).SetInt64(v)
	sign := ""
	if b.Sign() < 0 {
		sign = "-"
		b.Neg(b)
	}
	q, r := new(big.Int).QuoRem(b, big.NewInt(1_000_000), new(big.Int))
	return fmt.Sprintf("%s%s.%06d", sign, q.String(), r.Int64())
}
