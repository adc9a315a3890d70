package greenmint_test

import (
	"strings"
	"testing"

	"github.com/greenmint/greenmint"
)

func TestIsGridRegion(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"ES", true},
		{"ES-CN", true},
		{"PT-20", true},
		{"US-CAL-CISO", true},
		{"CAMX", true},
		{strings.Repeat("A", greenmint.MaxGridRegionLen), true},
		{strings.Repeat("A", greenmint.MaxGridRegionLen+1), false},
		{"", false},
		{"Spain", false},
		{"es", false},
		{"ES-", false},
		{"-ES", false},
		{"ES--CN", false},
		{"ES CN", false},
		{"ES_CN", false},
		{"ES.CN", false},
	}
	for _, tc := range tests {
		if got := greenmint.IsGridRegion(tc.in); got != tc.want {
			t.Errorf("IsGridRegion(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
