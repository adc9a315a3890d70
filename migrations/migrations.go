// Package migrations holds the versioned SQL schema of Greenmint's own
// database, one directory per dialect (sqlite, postgres), embedded in the
// binary and applied by goose at start and by `greenmint migrate`.
package migrations

import "embed"

// FS holds sqlite/*.sql and postgres/*.sql.
//
//go:embed sqlite/*.sql postgres/*.sql
var FS embed.FS
