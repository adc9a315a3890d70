package greenminttest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/greenmint/greenmint/internal/store"
	"github.com/greenmint/greenmint/ledger/embedded"
)

// Network is a fresh embedded network for tests: bootstrapped by the
// registry (two oracles, threshold 2, the shipped dataset), the demo site
// SITE0042 registered and approved with its two meters, and an empty,
// migrated SQLite database for an oracle.
type Network struct {
	*Env
	Ledger *embedded.Ledger
	Site   *Site
	DB     *store.DB
	Dir    string
}

// NewNetwork builds a Network in a temporary directory, closed at cleanup.
func NewNetwork(tb testing.TB) *Network {
	tb.Helper()
	ctx := context.Background()
	dir := tb.TempDir()
	l, c, err := CreateEmbedded(filepath.Join(dir, "net"), embedded.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	e, err := NewEnv(l, c)
	if err != nil {
		tb.Fatal(err)
	}
	if err := e.Bootstrap(ctx); err != nil {
		tb.Fatal(err)
	}
	site, err := e.RegisterSite(ctx, e.Miner, "SITE0042")
	if err != nil {
		tb.Fatal(err)
	}
	db := NewOracleDB(tb, filepath.Join(dir, "oracle.db"))
	return &Network{Env: e, Ledger: l, Site: site, DB: db, Dir: dir}
}

// NewOracleDB opens and migrates a SQLite oracle database at path, closed
// at cleanup.
func NewOracleDB(tb testing.TB, path string) *store.DB {
	tb.Helper()
	db, err := store.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return db
}
