package greenmint_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/greenmint/greenmint"
)

// CheckMeterID accepts exactly what MeterIDPattern matches.
func TestCheckMeterID(t *testing.T) {
	re := regexp.MustCompile(greenmint.MeterIDPattern)
	ids := []string{"", "M1", "SITE0042-CONS", "a", "0", "a.b_c-d", strings.Repeat("x", 64), strings.Repeat("x", 65),
		"-lead", ".lead", "_lead", "has space", "semi;colon", "é", "M1\n", "../etc", "M\x00", "a/b"}
	for _, id := range ids {
		err := greenmint.CheckMeterID(id)
		if got, want := err == nil, re.MatchString(id); got != want {
			t.Errorf("CheckMeterID(%q) = %v, want ok %v", id, err, want)
		}
		if err != nil && greenmint.ErrorCode(err) != greenmint.EINVALID {
			t.Errorf("CheckMeterID(%q) = %v, want invalid", id, err)
		}
	}
	if err := greenmint.CheckMeterID(strings.Repeat("y", 10_000)); len(err.Error()) > 200 {
		t.Errorf("a long ID is quoted whole: %d bytes", len(err.Error()))
	}
}

// FuzzCheckMeterID holds CheckMeterID to MeterIDPattern on any input.
func FuzzCheckMeterID(f *testing.F) {
	re := regexp.MustCompile(greenmint.MeterIDPattern)
	for _, s := range []string{"M1", "-x", "a b", strings.Repeat("z", 64)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if got, want := greenmint.CheckMeterID(id) == nil, re.MatchString(id); got != want {
			t.Fatalf("CheckMeterID(%q) ok = %v, want %v", id, got, want)
		}
	})
}
