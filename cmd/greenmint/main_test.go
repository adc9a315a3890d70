package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/greenmint/greenmint/ledger/embedded"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := NewMain(&out, &errOut).Run(context.Background(), args)
	return out.String() + errOut.String(), err
}

func TestDemoThenVerify(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "net")
	out, err := run(t, "demo", "--dir", dir)
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	for _, want := range []string{
		"mints batch CO2E-ES-SITE0042-20230601-0001: 42116006 units",
		"issued 42.116006 tCO2e = tradable 31.587005 tCO2e + escrowed 0.000000 tCO2e + retired 10.529001 tCO2e + cancelled 0.000000 tCO2e",
		"Ledger verified: 22 blocks", // 6 of them the bootstrap's admissions (R11)
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	out, err = run(t, "ledger", "verify", "--dir", dir)
	if err != nil || !strings.HasPrefix(out, "ok: 22 blocks") {
		t.Fatalf("verify = %q, %v", out, err)
	}
	if out, err := run(t, "demo", "--dir", dir); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("demo into a used directory = %v\n%s", err, out)
	}

	// Damage block 9 behind the ledger's back: verify must name it.
	db, err := pebble.Open(filepath.Join(dir, "ledger", embedded.StoreDir), &pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 9)
	key[0] = 'b' // blocks live under 'b' ‖ number
	binary.BigEndian.PutUint64(key[1:], 9)
	raw, closer, err := db.Get(key)
	if err != nil {
		t.Fatal(err)
	}
	edited := bytes.Replace(raw, []byte(`"VALID"`), []byte(`"MVCC_READ_CONFLICT"`), 1)
	closer.Close()
	err = db.Set(key, edited, pebble.Sync)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	_, err = run(t, "ledger", "verify", "--dir", dir)
	if err == nil || !strings.Contains(err.Error(), "block 9") {
		t.Fatalf("verify of a damaged ledger = %v, want it to name block 9", err)
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
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"migrate", "--db", db}, "sqlite database at schema version 7"},
		{[]string{"migrate", "--db", db, "--to", "3", "--json"}, `"version": 3`},
		{[]string{"migrate", "--db", db, "--to", "7"}, "schema version 7"},
	} {
		out, err := run(t, c.args...)
		if err != nil || !strings.Contains(out, c.want) {
			t.Fatalf("%v = %q, %v; want %q", c.args, out, err, c.want)
		}
	}
	if out, err := run(t, "migrate", "--db", db, "--to", "8"); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("--to 8 = %q, %v", out, err)
	}
}
