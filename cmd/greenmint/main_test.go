package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greenmint/greenmint/ledger/embedded"
	"github.com/greenmint/greenmint/migrations"
	"github.com/greenmint/greenmint/workspace"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := NewMain(&out, &errOut).Run(context.Background(), args)
	return out.String() + errOut.String(), err
}

// TestDemoThenVerify runs the demo, then checks `ledger verify` against
// what the ledger itself holds (its height, its blocks' transactions and
// their events), not against counts written down here; then damages one
// block in the block file, as a disk or an editor would, and verify must
// name that block.
func TestDemoThenVerify(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "net")
	code, out, errOut := runExit(t, "demo", "--dir", dir, "--json")
	var d demoResult
	if code != 0 || json.Unmarshal([]byte(out), &d) != nil || d.Story == nil || d.Verify == nil {
		t.Fatalf("demo: %d\n%s\n%s", code, out, errOut)
	}
	// The story's arithmetic: a week of the Almería profile against the load.
	b := d.Story.Batch
	if d.Story.BatchID != "CO2E-ES-SITE0042-20230601-0001" || d.Story.Quantity != 42_116_006 || b.Issued != d.Story.Quantity ||
		b.Issued != b.Tradable+b.Escrowed+b.Retired+b.Cancelled || b.Retired != d.Story.Quantity/2/2 {
		t.Errorf("the story minted %+v", d.Story)
	}
	if code, _, errOut := runExit(t, "demo", "--dir", dir); code != 4 || !strings.Contains(errOut, "not empty") {
		t.Fatalf("demo into a used directory: exit %d, %s", code, errOut)
	}

	// What the ledger holds, read through its own API.
	w, err := workspace.Open(workspace.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	l := w.Ledger.(*embedded.Ledger)
	height := l.Height()
	var txs, valid, events uint64
	for n := uint64(0); n < height; n++ {
		blk, err := l.Block(n)
		if err != nil {
			t.Fatal(err)
		}
		for _, tx := range blk.Data.Transactions {
			txs++
			if tx.Validation == embedded.TxValid {
				valid++
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := l.Events(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	for ev := range ch {
		events++
		if ev.BlockNumber == height-1 {
			break
		}
	}
	cancel()
	w.Close()
	want := verifyJSON{Blocks: height, Transactions: txs, Valid: valid, StateKeys: d.Verify.StateKeys, LastHash: d.Verify.LastHash}
	if *d.Verify != want || valid != events || valid < 15 {
		t.Fatalf("the demo's verification %+v; the ledger holds %+v with %d events (every valid transaction has one, R7)", *d.Verify, want, events)
	}
	code, out, errOut = runExit(t, "ledger", "verify", "--dir", dir, "--json")
	var v verifyJSON
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v != *d.Verify {
		t.Fatalf("ledger verify = %d %s %s; want %+v", code, out, errOut, *d.Verify)
	}

	// Damage one block in the block file: one byte of its JSON, as the
	// file's documented layout places it.
	damaged := height / 2
	path := filepath.Join(dir, "ledger", embedded.BlockFileName)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const header, head, tail = 16, 12, 32 // magic; number ‖ length; SHA-256
	off := header
	for off+head <= len(raw) {
		n, size := binary.BigEndian.Uint64(raw[off:]), int(binary.BigEndian.Uint32(raw[off+8:]))
		if n == damaged {
			i := bytes.Index(raw[off+head:off+head+size], []byte(`"VALID"`))
			if i < 0 {
				t.Fatalf("block %d holds no valid transaction", n)
			}
			raw[off+head+i+1] = 'X' // "XALID"
			break
		}
		off += head + size + tail
	}
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runExit(t, "ledger", "verify", "--dir", dir, "--json")
	var e cliError
	if code == 0 || json.Unmarshal([]byte(errOut), &e) != nil || !strings.Contains(e.Error.Message, fmt.Sprintf("block %d", damaged)) || out != "" {
		t.Fatalf("verify of a damaged block file = exit %d, %s%s; want an error naming block %d", code, out, errOut, damaged)
	}
}

func TestBadInvocations(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"ledger", "verify", "--dir", filepath.Join(t.TempDir(), "none")}, "no ledger"},
		{[]string{"frobnicate"}, "unknown command"},
		{[]string{"registration", "apply", "--dir", filepath.Join(t.TempDir(), "none"), "--file", filepath.Join(t.TempDir(), "none.json")}, "registration file"},
		{[]string{"readings", "import", "--dir", filepath.Join(t.TempDir(), "none"), "--file", "x.csv"}, "no such file"},
		{[]string{"attestation", "create", "--dir", filepath.Join(t.TempDir(), "none"), "--site", "S", "--from", "2023-06-01T00:00:00Z", "--to", "2023-06-01T01:00:00Z"}, "greenmint init"},
		{[]string{"demo", "--ledger", "quantum"}, "embedded or fabric"},
		{[]string{"chaincode"}, "package ID is required"},
		{[]string{"meter", "sign", "--key", filepath.Join(t.TempDir(), "none.key"), "--in", "x.csv"}, "no such file"},
		{[]string{"meter", "sign", "--key", filepath.Join(t.TempDir(), "none.key")}, `required flag(s) "in" not set`},
		{[]string{"demo", "extra"}, "unknown command"},
	}
	for _, tc := range tests {
		_, err := run(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("greenmint %v = %v, want an error with %q", tc.args, err, tc.want)
		}
	}
}

// `greenmint migrate` goes to the latest schema, `--to` up or down, and a
// version that does not exist is an error.
func TestMigrateCommand(t *testing.T) {
	db := filepath.Join(t.TempDir(), "oracle.db")
	latest := migrations.Latest()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"migrate", "--db", db}, fmt.Sprintf("sqlite database at schema version %d", latest)},
		{[]string{"migrate", "--db", db, "--to", "3", "--json"}, `"version": 3`},
		{[]string{"migrate", "--db", db, "--to", fmt.Sprint(latest)}, fmt.Sprintf("schema version %d", latest)},
	} {
		out, err := run(t, c.args...)
		if err != nil || !strings.Contains(out, c.want) {
			t.Fatalf("%v = %q, %v; want %q", c.args, out, err, c.want)
		}
	}
	if out, err := run(t, "migrate", "--db", db, "--to", fmt.Sprint(latest+1)); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("--to %d = %q, %v", latest+1, out, err)
	}
}

// withLedger appends the ledger flags to args when the command args name
// takes them (flags act only where they act, docs/cli.md).
func withLedger(t *testing.T, args, ledger []string) []string {
	t.Helper()
	cmd, _, err := NewMain(io.Discard, io.Discard).rootCommand().Find(args)
	if err != nil {
		t.Fatalf("no command for %v: %v", args, err)
	}
	if cmd.Flags().Lookup("ledger") == nil {
		return args
	}
	return append(append([]string{}, args...), ledger...)
}
