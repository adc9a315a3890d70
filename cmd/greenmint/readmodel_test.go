package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greenmint/greenmint/internal/store"
	"github.com/greenmint/greenmint/readmodel"
)

// readmodel reindex builds the read model of the demo's ledger; reconcile
// finds it equal, then names a quantity corrupted in SQL and exits 4
// (conflict), with the differences on standard output; reindex repairs it.
func TestReadModelReindexReconcile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "net")
	if code, out, errOut := runExit(t, "demo", "--dir", dir, "--json"); code != 0 {
		t.Fatalf("demo: %d\n%s\n%s", code, out, errOut)
	}
	dbPath := filepath.Join(t.TempDir(), "rm.db")
	code, out, errOut := runExit(t, "readmodel", "reindex", "--dir", dir, "--db", dbPath, "--json")
	var cp struct {
		Block uint64 `json:"block"`
		TxID  string `json:"tx_id"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &cp) != nil || cp.TxID == "" || cp.Block == 0 {
		t.Fatalf("readmodel reindex: %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := runExit(t, "readmodel", "reconcile", "--dir", dir, "--db", dbPath); code != 0 || !strings.Contains(out, "agrees") {
		t.Fatalf("readmodel reconcile: %d\n%s\n%s", code, out, errOut)
	}

	db, err := store.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := db.ExecReadModel(context.Background(), "UPDATE rm_listings SET quantity = quantity - 1"); err != nil || n != 1 {
		t.Fatalf("corrupting the listing: %d rows, %v", n, err)
	}
	db.Close()
	code, out, errOut = runExit(t, "readmodel", "reconcile", "--dir", dir, "--db", dbPath, "--json")
	var rep struct {
		Differences []readmodel.Difference `json:"differences"`
	}
	if code != 4 || json.Unmarshal([]byte(out), &rep) != nil || len(rep.Differences) != 1 ||
		rep.Differences[0].Kind != "listing" || rep.Differences[0].Field != "quantity" || !strings.Contains(errOut, `"conflict"`) {
		t.Fatalf("reconcile of a corrupted listing: %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := runExit(t, "readmodel", "reindex", "--dir", dir, "--db", dbPath); code != 0 {
		t.Fatalf("readmodel reindex: %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := runExit(t, "readmodel", "reconcile", "--dir", dir, "--db", dbPath); code != 0 {
		t.Fatalf("readmodel reconcile after reindex: %d\n%s\n%s", code, out, errOut)
	}
}
