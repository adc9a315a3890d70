package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/greenmint/greenmint"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestTranslateByType holds the store's translation of database errors to
// their driver's types and codes, not their text: a unique or primary-key
// violation is a conflict on SQLite and PostgreSQL, whatever language the
// server speaks; other constraint failures are not; text that merely says
// "UNIQUE constraint" is not.
func TestTranslateByType(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		err  error
		code string
	}{
		{"postgres unique violation, in German", &pgconn.PgError{Severity: "FEHLER", Code: "23505",
			Message: "doppelter Schlüsselwert verletzt Unique-Constraint »tokens_pkey«"}, greenmint.ECONFLICT},
		{"postgres unique violation, wrapped", fmt.Errorf("insert: %w", &pgconn.PgError{Code: "23505", Message: "duplicate key value violates unique constraint"}), greenmint.ECONFLICT},
		{"postgres not-null violation", &pgconn.PgError{Code: "23502", Message: "null value in column \"kind\" violates not-null constraint"}, greenmint.EINTERNAL},
		{"text only", errors.New("UNIQUE constraint failed: tokens.id; duplicate key"), greenmint.EINTERNAL},
		{"ended context", fmt.Errorf("query: %w", context.Canceled), greenmint.EUNAVAILABLE},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := greenmint.ErrorCode(translate("store.Test", tc.err)); got != tc.code {
				t.Fatalf("translate(%v) = %q, want %q", tc.err, got, tc.code)
			}
		})
	}

	// The drivers' own errors, from real statements.
	dbs := map[string]func(t *testing.T) (*DB, string){
		"sqlite": func(t *testing.T) (*DB, string) {
			db, err := Open(filepath.Join(t.TempDir(), "t.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db, "translate_test"
		},
		"postgres": func(t *testing.T) (*DB, string) {
			dsn := os.Getenv("GREENMINT_TEST_POSTGRES_DSN")
			if dsn == "" {
				t.Skip("set GREENMINT_TEST_POSTGRES_DSN to run the PostgreSQL case")
			}
			db, err := Open(dsn)
			if err != nil {
				t.Fatal(err)
			}
			b := make([]byte, 6)
			_, _ = rand.Read(b)
			table := "greenmint_translate_" + hex.EncodeToString(b)
			t.Cleanup(func() {
				db.gdb.Exec("DROP TABLE IF EXISTS " + table)
				db.Close()
			})
			return db, table
		},
	}
	for name, open := range dbs {
		t.Run(name, func(t *testing.T) {
			db, table := open(t)
			g := db.gdb.WithContext(ctx)
			if err := g.Exec("CREATE TABLE " + table + " (id TEXT PRIMARY KEY, code TEXT NOT NULL UNIQUE, n INTEGER CHECK (n > 0))").Error; err != nil {
				t.Fatal(err)
			}
			if err := g.Exec("INSERT INTO "+table+" VALUES (?, ?, ?)", "a", "x", 1).Error; err != nil {
				t.Fatal(err)
			}
			cases := []struct {
				what string
				args []any
				code string
			}{
				{"primary key", []any{"a", "y", 1}, greenmint.ECONFLICT},
				{"unique", []any{"b", "x", 1}, greenmint.ECONFLICT},
				{"not null", []any{"c", nil, 1}, greenmint.EINTERNAL},
				{"check", []any{"d", "z", 0}, greenmint.EINTERNAL},
			}
			for _, c := range cases {
				err := g.Exec("INSERT INTO "+table+" VALUES (?, ?, ?)", c.args...).Error
				if err == nil {
					t.Fatalf("%s: the insert passed", c.what)
				}
				if got := greenmint.ErrorCode(translate("store.Test", err)); got != c.code {
					t.Errorf("%s: translate(%T %v) = %q, want %q", c.what, err, err, got, c.code)
				}
			}
		})
	}
}
