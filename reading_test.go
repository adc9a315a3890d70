package greenmint_test

import (
	"bytes"
	"testing"

	"github.com/greenmint/greenmint"
)

// FuzzCanonicalReading holds the hand-written reading encoder to the
// general canonical encoding, byte for byte.
func FuzzCanonicalReading(f *testing.F) {
	f.Add("M1", int64(1), "2023-06-01T00:00:00Z", "2023-06-01T00:15:00Z", int64(100), int64(100), []byte{1, 2, 3})
	f.Add("méter \"x\"\n<&>", int64(-5), "", "\u2028", int64(-1), int64(1<<62), []byte{})
	f.Fuzz(func(t *testing.T, meter string, seq int64, start, end string, energy, register int64, sig []byte) {
		r := greenmint.Reading{MeterID: meter, Seq: seq, Start: start, End: end, EnergyWh: energy, RegisterWh: register, Signature: sig}
		want, err := greenmint.Canonical(r)
		if err != nil {
			t.Skip()
		}
		if got := greenmint.CanonicalReading(r); !bytes.Equal(got, want) {
			t.Fatalf("CanonicalReading = %s, want %s", got, want)
		}
	})
}
