// Package storetest gives tests a fresh, migrated database of every kind
// Greenmint ships (SQLite, and PostgreSQL when GREENMINT_TEST_POSTGRES_DSN
// is set). It imports nothing but the store, so any package's tests may
// use it, even those the workspace wiring imports.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/greenmint/greenmint/internal/store"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// PostgresDSNEnv names the variable that points the tests at PostgreSQL.
const PostgresDSNEnv = "GREENMINT_TEST_POSTGRES_DSN"

// StoreDBs returns a fresh, migrated database of every kind Greenmint ships:
// SQLite always, and PostgreSQL (a new database, dropped afterwards) when
// GREENMINT_TEST_POSTGRES_DSN is set. The map's keys are "sqlite" and
// "postgres".
func StoreDBs(tb testing.TB) map[string]*store.DB {
	tb.Helper()
	ctx := context.Background()
	out := map[string]*store.DB{}
	db, err := store.Open(filepath.Join(tb.TempDir(), "greenmint.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	out["sqlite"] = db
	dsn := os.Getenv(PostgresDSNEnv)
	if dsn == "" {
		tb.Logf("PostgreSQL tests skipped: set %s (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run them", PostgresDSNEnv)
		return out
	}
	admin, err := gorm.Open(postgres.Open(dsn), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		tb.Fatalf("%s: %v", PostgresDSNEnv, err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "greenmint_test_" + hex.EncodeToString(b)
	if err := admin.Exec("CREATE DATABASE " + name).Error; err != nil {
		tb.Fatalf("create test database: %v", err)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	u.Path = "/" + name
	pg, err := store.Open(u.String())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		pg.Close()
		admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		if sqlDB, err := admin.DB(); err == nil {
			sqlDB.Close()
		}
	})
	if _, err := pg.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	out["postgres"] = pg
	return out
}
