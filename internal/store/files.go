package store

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/greenmint/greenmint"
)

// File modes of a SQLite database: its file, its -wal and -shm files and
// the folders created for it hold every reading and token record, so no
// other local user may read them.
const (
	fileMode = 0o600
	dirMode  = 0o700
)

// prepareFile makes a SQLite database's folders (0700) and file (0600)
// before SQLite opens it, and narrows the modes of an existing file and its
// -wal and -shm files to 0600. SQLite creates the -wal and -shm files with
// the database file's mode, whatever the umask. A DSN that names no file
// (":memory:", "file::memory:…") is left alone.
func prepareFile(dsn string) error {
	path := strings.TrimPrefix(dsn, "file:")
	path, _, _ = strings.Cut(path, "?")
	if path == "" || strings.HasPrefix(path, ":memory:") {
		return nil
	}
	if err := mkdirAll(filepath.Dir(path)); err != nil {
		return greenmint.E(greenmint.EUNAVAILABLE, "", err, "cannot create the database's folder")
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return greenmint.E(greenmint.EUNAVAILABLE, "", err, "cannot open the database file %s", path)
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return greenmint.E(greenmint.EUNAVAILABLE, "", err, "cannot read the mode of %s", p)
		}
		if fi.Mode().Perm() != fileMode {
			if err := os.Chmod(p, fileMode); err != nil {
				return greenmint.E(greenmint.EUNAVAILABLE, "", err, "cannot make %s private (0600)", p)
			}
		}
	}
	return nil
}

// mkdirAll creates dir and its missing parents with mode 0700, set
// explicitly so that the umask does not widen or narrow it. Folders that
// exist already are left as they are.
func mkdirAll(dir string) error {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a folder", dir)
		}
		return nil
	}
	if err := mkdirAll(filepath.Dir(dir)); err != nil {
		return err
	}
	if err := os.Mkdir(dir, dirMode); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil // made meanwhile by someone else: left as it is
		}
		return err
	}
	return os.Chmod(dir, dirMode)
}

// RedactDSN returns dsn fit to print: a PostgreSQL URL's password is
// replaced by "xxxxx" (also a password= parameter); a SQLite path is
// returned as it is.
func RedactDSN(dsn string) string {
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return dsn
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres://(a DSN that does not parse)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}
