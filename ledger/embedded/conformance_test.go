package embedded_test

import (
	"testing"

	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/ledger/embedded"
)

func TestLedgerConformance(t *testing.T) {
	greenminttest.RunLedgerConformance(t, func(t *testing.T) *greenminttest.Env {
		l, c, err := greenminttest.CreateEmbedded(t.TempDir(), embedded.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		e, err := greenminttest.NewEnv(l, c)
		if err != nil {
			t.Fatal(err)
		}
		return e
	})
}
