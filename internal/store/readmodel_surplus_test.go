package store_test

import (
	"testing"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/store"
)

// SurplusBP rounds down and counts the gaps among the period's hours; a
// period it cannot count in whole hours gives 0.
func TestSurplusBP(t *testing.T) {
	hours := func(states ...string) []greenmint.AttestedHour {
		out := make([]greenmint.AttestedHour, len(states))
		for i, s := range states {
			out[i].GridState = s
		}
		return out
	}
	const s, n, u = greenmint.GridSurplus, greenmint.GridNormal, greenmint.GridUnknown
	tests := []struct {
		name       string
		start, end string
		hours      []greenmint.AttestedHour
		want       int64
	}{
		{"one of three", "2023-06-01T00:00:00Z", "2023-06-01T03:00:00Z", hours(s, n, u), 3333},
		{"two of three", "2023-06-01T00:00:00Z", "2023-06-01T03:00:00Z", hours(s, s, n), 6666},
		{"one of three, a gap", "2023-06-01T00:00:00Z", "2023-06-01T03:00:00Z", hours(s, n), 3333},
		{"all", "2023-06-01T00:00:00Z", "2023-06-01T02:00:00Z", hours(s, s), 10000},
		{"none", "2023-06-01T00:00:00Z", "2023-06-01T02:00:00Z", hours(n, u), 0},
		{"more surplus hours than the period", "2023-06-01T00:00:00Z", "2023-06-01T01:00:00Z", hours(s, s), 0},
		{"empty period", "2023-06-01T00:00:00Z", "2023-06-01T00:00:00Z", hours(s), 0},
		{"not whole hours", "2023-06-01T00:00:00Z", "2023-06-01T01:30:00Z", hours(s), 0},
		{"bad time", "June", "2023-06-01T01:00:00Z", hours(s), 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := greenmint.Attestation{PeriodStart: tc.start, PeriodEnd: tc.end, Hours: tc.hours}
			if got := store.SurplusBP(a); got != tc.want {
				t.Errorf("SurplusBP(%s–%s, %d hours) = %d, want %d", tc.start, tc.end, len(tc.hours), got, tc.want)
			}
		})
	}
}
