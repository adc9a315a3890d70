package main

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/ledger/embedded"
)

func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		out[p] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestLedgerVerifyNamesADamagedLog is the reported case: after demo
// --keep, one bit flipped inside the store's write-ahead log made `ledger
// verify` print "ok: 11 blocks" (settlement and retirement gone) and, by
// opening the store read-write, make the loss permanent. Now verify names
// the damage, changes no byte, and the ledger refuses to open.
func TestLedgerVerifyNamesADamagedLog(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "net")
	if out, err := run(t, "demo", "--dir", dir); err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	logs, _ := filepath.Glob(filepath.Join(dir, "ledger", embedded.StoreDir, "*.log"))
	if len(logs) != 1 {
		t.Fatalf("write-ahead logs: %v", logs)
	}
	raw, err := os.ReadFile(logs[0])
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)/2] ^= 0x10
	if err := os.WriteFile(logs[0], raw, 0o600); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dir)
	out, err := run(t, "ledger", "verify", "--dir", dir)
	if err == nil || !strings.Contains(err.Error(), "block ") || strings.Contains(out, "ok:") {
		t.Fatalf("verify of a damaged log = %q, %v; want an error naming a block", out, err)
	}
	if _, err := greenminttest.OpenEmbedded(dir, embedded.Options{}); greenmint.ErrorCode(err) != greenmint.EINTERNAL {
		t.Fatalf("open of a damaged log = %v, want internal", err)
	}
	after := snapshot(t, dir)
	for p, b := range before {
		if !bytes.Equal(b, after[p]) {
			t.Fatalf("%s changed", p)
		}
	}
	if len(after) != len(before) {
		t.Fatalf("files before %d, after %d", len(before), len(after))
	}
}

// TestLedgerRevoke revokes the demo buyer: the ledger refuses its
// proposals, the registrar goes on.
func TestLedgerRevoke(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "net")
	if out, err := run(t, "demo", "--dir", dir); err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	out, err := run(t, "ledger", "revoke", "--dir", dir, "--msp", consortium.BuyerMSP, "--user", "buyer")
	if err != nil || !strings.Contains(out, filepath.Join("BuyerMSP", "msp", "crls", "crl.pem")) {
		t.Fatalf("revoke = %q, %v", out, err)
	}
	if _, err := run(t, "ledger", "revoke", "--dir", dir, "--msp", consortium.BuyerMSP, "--user", "buyer"); greenmint.ErrorCode(err) != greenmint.ECONFLICT {
		t.Fatalf("revoke twice = %v", err)
	}
	c, err := consortium.Load(filepath.Join(dir, "organizations"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := greenminttest.OpenEmbedded(dir, embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	if _, err := l.Evaluate(ctx, c.MustIdentity(consortium.BuyerMSP, "buyer"), "GetPolicy", "{}"); greenmint.ErrorCode(err) != greenmint.EUNAUTHENTICATED || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("revoked buyer = %v", err)
	}
	if _, err := l.Evaluate(ctx, c.MustIdentity(consortium.RegistryMSP, "registrar"), "GetPolicy", "{}"); greenmint.ErrorCode(err) == greenmint.EUNAUTHENTICATED {
		t.Fatalf("registrar = %v", err)
	}
}
