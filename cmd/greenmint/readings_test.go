package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A file that lists a meter's readings newest first, longer than one part
// of the import, loses nothing: each meter's readings are sent in sequence
// order across parts and the results come back in the file's order.
// Before, the first part moved the meter's last sequence past the older
// readings of later parts, and each was rejected for good as
// sequence_not_higher (found in review).
func TestReadingsImportNewestFirstAcrossParts(t *testing.T) {
	defer func(n int) { importChunk = n }(importChunk)
	importChunk = 10
	dir := filepath.Join(t.TempDir(), "ws")
	mustRun := func(args ...string) string {
		t.Helper()
		out, err := run(t, args...)
		if err != nil {
			t.Fatalf("greenmint %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	mustRun("init", "--dir", dir)
	files := registerSiteWithReadings(t, mustRun, dir, "SITE0077", "NF")
	raw, err := os.ReadFile(files[1])
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	body := lines[1:]
	slices.Reverse(body) // newest first
	reversed := filepath.Join(dir, "pv.newest-first.csv")
	if err := os.WriteFile(reversed, []byte(lines[0]+"\n"+strings.Join(body, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var sum struct {
		Accepted, Rejected int
		Results            []struct {
			Index   int    `json:"index"`
			Seq     int64  `json:"seq"`
			Outcome string `json:"outcome"`
		}
	}
	out := mustRun("readings", "import", "--dir", dir, "--file", reversed, "--json")
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("import output %q: %v", out, err)
	}
	if sum.Accepted != 24 || sum.Rejected != 0 || len(sum.Results) != 24 {
		t.Fatalf("newest-first import: %d accepted, %d rejected, %d results; want 24, 0, 24", sum.Accepted, sum.Rejected, len(sum.Results))
	}
	for i, r := range sum.Results {
		if r.Index != i || r.Seq != int64(24-i) {
			t.Fatalf("result %d is index %d seq %d, want the file's order (index %d, seq %d)", i, r.Index, r.Seq, i, 24-i)
		}
	}
}
