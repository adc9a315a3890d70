package store_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/store"
)

// TestFileModes opens a SQLite database in folders that do not exist yet
// with a umask that would leave everything world-readable (0), writes to
// it, and checks by stat that the folders are 0700 and the database and its
// -wal and -shm files 0600. A database made 0644 earlier is narrowed to
// 0600 when opened.
func TestFileModes(t *testing.T) {
	old := syscall.Umask(0)
	t.Cleanup(func() { syscall.Umask(old) })
	root := t.TempDir()
	path := filepath.Join(root, "a", "b", "oracle.db")
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.SaveToken(ctx, "t1", "collector", "c", time.Now(), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	want := map[string]os.FileMode{
		filepath.Join(root, "a"):      0o700,
		filepath.Join(root, "a", "b"): 0o700,
		path:                          0o600,
		path + "-wal":                 0o600,
		path + "-shm":                 0o600,
	}
	for p, mode := range want {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatalf("stat %s: %v", p, err)
		}
		if got := fi.Mode().Perm(); got != mode {
			t.Errorf("mode of %s = %o, want %o", p, got, mode)
		}
	}
	db.Close()

	loose := filepath.Join(root, "loose.db")
	if err := os.WriteFile(loose, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	db, err = store.Open(loose)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if fi, err := os.Stat(loose); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("an existing 0644 database after Open = %v, %v; want 0600", fi.Mode(), err)
	}
}

func TestRedactDSN(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://greenmint:hunter2@db:5432/oracle?sslmode=require", "postgres://greenmint:xxxxx@db:5432/oracle?sslmode=require"},
		{"postgresql://u@db/oracle?password=hunter2", "postgresql://u@db/oracle?password=xxxxx"},
		{"postgres://db/oracle", "postgres://db/oracle"},
		{"/var/lib/greenmint/oracle.db", "/var/lib/greenmint/oracle.db"},
	}
	for _, tc := range tests {
		if got := store.RedactDSN(tc.in); got != tc.want {
			t.Errorf("RedactDSN(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	// An unreachable server: the error names the database without its password.
	_, err := store.Open("postgres://greenmint:hunter2@127.0.0.1:1/oracle?connect_timeout=2")
	if err == nil || greenmint.ErrorCode(err) != greenmint.EUNAVAILABLE || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("Open(unreachable) = %v; want unavailable without the password", err)
	}
}
