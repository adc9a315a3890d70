// Package migrations holds the versioned SQL schema of Greenmint's own
// database, one directory per dialect (sqlite, postgres), embedded in the
// binary and applied by goose at start and by `greenmint migrate`.
package migrations

import (
	"embed"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// FS holds sqlite/*.sql and postgres/*.sql.
//
//go:embed sqlite/*.sql postgres/*.sql
var FS embed.FS

// Latest returns the newest schema version: the highest version number
// among the migrations of either dialect (goose's NNNNN_name.sql). Both
// dialects have the same versions (TestDialectsAgree).
func Latest() int64 {
	var latest int64
	for _, dialect := range []string{"sqlite", "postgres"} {
		for _, v := range Versions(dialect) {
			latest = max(latest, v)
		}
	}
	return latest
}

// Versions returns the versions of a dialect's migrations, ascending.
func Versions(dialect string) []int64 {
	names, _ := fs.Glob(FS, dialect+"/*.sql")
	var out []int64
	for _, name := range names {
		num, _, ok := strings.Cut(path.Base(name), "_")
		if v, err := strconv.ParseInt(num, 10, 64); ok && err == nil {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out
}
