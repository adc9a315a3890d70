package greenminttest

import (
	"testing"

	"github.com/greenmint/greenmint/internal/store"
	"github.com/greenmint/greenmint/internal/store/storetest"
)

// PostgresDSNEnv names the variable that points the tests at PostgreSQL.
const PostgresDSNEnv = storetest.PostgresDSNEnv

// StoreDBs is storetest.StoreDBs: a fresh, migrated database of every kind
// Greenmint ships, keyed "sqlite" and "postgres".
func StoreDBs(tb testing.TB) map[string]*store.DB { return storetest.StoreDBs(tb) }
