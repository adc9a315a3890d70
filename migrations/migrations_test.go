package migrations_test

import (
	"slices"
	"testing"

	"github.com/greenmint/greenmint/migrations"
)

// Both dialects have the same versions, numbered 1, 2, … without a hole,
// and Latest is the last of them.
func TestDialectsAgree(t *testing.T) {
	sqlite, postgres := migrations.Versions("sqlite"), migrations.Versions("postgres")
	if !slices.Equal(sqlite, postgres) {
		t.Fatalf("sqlite versions %v, postgres %v", sqlite, postgres)
	}
	for i, v := range sqlite {
		if v != int64(i+1) {
			t.Fatalf("versions %v: want 1…%d", sqlite, len(sqlite))
		}
	}
	if got := migrations.Latest(); len(sqlite) == 0 || got != sqlite[len(sqlite)-1] {
		t.Fatalf("Latest() = %d, versions %v", got, sqlite)
	}
}
