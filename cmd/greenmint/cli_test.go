package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/greenmint/greenmint"
	"github.com/spf13/cobra"
)

// runExit runs the program as main does and returns its exit code, standard
// output and standard error.
func runExit(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := NewMain(&out, &errOut).Exec(context.Background(), args)
	return code, out.String(), errOut.String()
}

// leaves returns every runnable command of the tree by its path, hidden
// ones included.
func leaves(c *cobra.Command) map[string]*cobra.Command {
	out := map[string]*cobra.Command{}
	for _, sub := range c.Commands() {
		if sub.Name() == "help" || sub.Name() == "completion" {
			continue
		}
		if sub.Runnable() {
			out[strings.TrimPrefix(sub.CommandPath(), "greenmint ")] = sub
		}
		for k, v := range leaves(sub) {
			out[k] = v
		}
	}
	return out
}

// The tree: noun-verb commands; --json on every command; --ledger and
// --connection only on commands that reach the ledger, --db only on those
// that open the oracle's database; the deprecated verbs hidden.
func TestCommandTree(t *testing.T) {
	root := NewMain(nil, nil).rootCommand()
	all := leaves(root)
	ledger := []string{"init", "demo", "registration apply", "readings import", "attestation create", "attestation show", "batch show", "batch proof",
		"dataset publish", "simulate setup", "oracle serve", "site amend", "meter amend",
		"organisation admit", "organisation revoke", "organisation list", "serve",
		"attest", "import", "register", "proof"}
	db := []string{"init", "migrate", "readings import", "attestation create", "attestation show", "batch proof", "grid import", "oracle serve",
		"oracle token issue", "oracle token list", "oracle token revoke", "readmodel reindex", "readmodel reconcile", "serve", "attest", "import", "proof"}
	has := func(list []string, s string) bool {
		for _, x := range list {
			if x == s {
				return true
			}
		}
		return false
	}
	var names []string
	for path, c := range all {
		names = append(names, path)
		if c.Flag("json") == nil {
			t.Errorf("greenmint %s has no --json", path)
		}
		if got := c.Flag("ledger") != nil; got != has(ledger, path) {
			t.Errorf("greenmint %s: --ledger present %v, want %v", path, got, !got)
		}
		if got := c.Flag("connection") != nil; got != has(ledger, path) {
			t.Errorf("greenmint %s: --connection present %v, want %v", path, got, !got)
		}
		if got := c.Flag("db") != nil; got != has(db, path) {
			t.Errorf("greenmint %s: --db present %v, want %v", path, got, !got)
		}
		if words := strings.Fields(path); len(words) == 1 && !has([]string{"init", "migrate", "demo", "serve", "chaincode", "verify", "attest", "import", "register", "proof"}, path) {
			t.Errorf("greenmint %s: a top-level verb; commands are noun verb", path)
		}
	}
	sort.Strings(names)
	for _, old := range []string{"attest", "import", "register", "proof"} {
		if c := all[old]; c == nil || !c.Hidden {
			t.Errorf("greenmint %s: want a hidden deprecated alias, got %v", old, c)
		}
	}
	code, out, _ := runExit(t, "--help")
	for _, old := range []string{"  attest ", "  import ", "  register ", "  proof "} {
		if code != 0 || strings.Contains(out, old) {
			t.Errorf("greenmint --help lists the deprecated %q:\n%s", old, out)
		}
	}
	t.Logf("commands: %s", strings.Join(names, ", "))
}

// Every command is in docs/cli.md, and its exit-code table is the
// program's.
func TestCLIDocumented(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "docs", "cli.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	for path, c := range leaves(NewMain(nil, nil).rootCommand()) {
		if !c.Hidden && !strings.Contains(doc, "greenmint "+path) {
			t.Errorf("docs/cli.md does not mention `greenmint %s`", path)
		}
	}
	for code, exit := range exitCodes {
		row := regexp.MustCompile(`(?m)^\| ` + regexp.QuoteMeta("`"+code+"`") + ` \| (\d) \|`).FindStringSubmatch(doc)
		if row == nil || row[1] != string(rune('0'+exit)) {
			t.Errorf("docs/cli.md: code %s exits %v, the program %d", code, row, exit)
		}
	}
}

// Failures exit with their code's exit status and, with --json, print
// {"error":{"code","message"}} on standard error and nothing on standard
// output.
func TestExitCodesAndJSONErrors(t *testing.T) {
	ws := filepath.Join(t.TempDir(), "ws")
	if code, out, errOut := runExit(t, "init", "--dir", ws); code != 0 {
		t.Fatalf("init: %d\n%s%s", code, out, errOut)
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	reg := filepath.Join(t.TempDir(), "reg.json")
	if err := os.WriteFile(reg, []byte(`{"sites":[{"site_id":"SITE0009","name":"n","country":"ES","grid_region":"ES","capacity_w":1000000}],"meters":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code string
		exit int
		want string
	}{
		{"unknown command", []string{"frobnicate"}, greenmint.EINVALID, 2, "unknown command"},
		{"unknown flag", []string{"batch", "show", "--frob"}, greenmint.EINVALID, 2, "unknown flag"},
		{"extra argument", []string{"demo", "extra"}, greenmint.EINVALID, 2, "unknown command"},
		{"missing required flags", []string{"attestation", "create", "--dir", ws}, greenmint.EINVALID, 2, `required flag(s) "from", "site", "to" not set`},
		{"bad hour", []string{"attestation", "create", "--dir", ws, "--site", "S", "--from", "yesterday", "--to", "today"}, greenmint.EINVALID, 2, "whole hours"},
		{"bad ledger kind", []string{"demo", "--ledger", "quantum"}, greenmint.EINVALID, 2, "embedded or fabric"},
		{"missing registration file", []string{"registration", "apply", "--dir", ws, "--file", filepath.Join(ws, "none.json")}, greenmint.EINVALID, 2, "registration file"},
		{"no workspace", []string{"batch", "show", "--dir", filepath.Join(t.TempDir(), "none"), "--id", "X"}, greenmint.ENOTFOUND, 3, "greenmint init"},
		{"no such batch", []string{"batch", "show", "--dir", ws, "--id", "EAC-ES-NONE-20230601-0001"}, greenmint.ENOTFOUND, 3, "EAC-ES-NONE-20230601-0001"},
		{"workspace in use", []string{"init", "--dir", ws}, greenmint.ECONFLICT, 4, "not empty"},
		{"a buyer registers", []string{"registration", "apply", "--dir", ws, "--file", reg, "--as", "BuyerMSP:buyer"}, greenmint.EFORBIDDEN, 5, "may not"},
		{"port taken", []string{"oracle", "serve", "--dir", ws, "--listen", busy.Addr().String()}, greenmint.EUNAVAILABLE, 6, "cannot listen"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runExit(t, append(tc.args, "--json")...)
			if code != tc.exit {
				t.Errorf("exit %d, want %d\n%s", code, tc.exit, errOut)
			}
			var e cliError
			if err := json.Unmarshal([]byte(errOut), &e); err != nil {
				t.Fatalf("standard error %q is not a JSON error: %v", errOut, err)
			}
			if e.Error.Code != tc.code || !strings.Contains(e.Error.Message, tc.want) || strings.HasPrefix(e.Error.Message, tc.code+":") {
				t.Errorf("error = %+v, want code %s and a message with %q", e.Error, tc.code, tc.want)
			}
			if strings.TrimSpace(out) != "" {
				t.Errorf("standard output of a failure: %q", out)
			}
			code, _, errOut = runExit(t, tc.args...)
			if code != tc.exit || !strings.HasPrefix(errOut, "greenmint: "+tc.code+": ") {
				t.Errorf("without --json: exit %d, %q", code, errOut)
			}
		})
	}
	if got := ExitCode(errors.New("no code")); got != 1 {
		t.Errorf("ExitCode(an error without code) = %d, want 1 (internal)", got)
	}
}

// The old top-level verbs still run, after a note on standard error that
// names the new command; the typo of register's help is gone.
func TestDeprecatedAliases(t *testing.T) {
	ws := filepath.Join(t.TempDir(), "ws")
	if code, out, errOut := runExit(t, "init", "--dir", ws); code != 0 {
		t.Fatalf("init: %d\n%s%s", code, out, errOut)
	}
	reg := filepath.Join(t.TempDir(), "reg.json")
	if err := os.WriteFile(reg, []byte(`{"sites":[{"site_id":"SITE0009","name":"n","country":"ES","grid_region":"ES","capacity_w":1000000}],"meters":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runExit(t, "register", "--dir", ws, "--file", reg, "--json")
	if code != 0 || !strings.Contains(errOut, "`greenmint register` is deprecated") || !strings.Contains(errOut, "`greenmint registration apply`") {
		t.Fatalf("register: %d\n%s\n%s", code, out, errOut)
	}
	if !json.Valid([]byte(out)) {
		t.Fatalf("register --json printed %q", out)
	}
	for _, args := range [][]string{{"register", "--help"}, {"registration", "apply", "--help"}} {
		if _, out, _ := runExit(t, args...); strings.Contains(out, "asRegister") || !strings.Contains(out, "--approve-as") {
			t.Errorf("greenmint %v:\n%s", args, out)
		}
	}
}

// `migrate --dir` migrates that workspace's database.
func TestMigrateHonoursDir(t *testing.T) {
	t.Setenv("GREENMINT_DB", "")
	dir := filepath.Join(t.TempDir(), "ws")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := runExit(t, "migrate", "--dir", dir); code != 0 || !strings.Contains(out, "sqlite database at schema version") {
		t.Fatalf("migrate --dir: %d %s %s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "oracle.db")); err != nil {
		t.Fatalf("migrate --dir %s made no oracle.db there: %v", dir, err)
	}
}

// --json on the commands that had none: ledger verify, demo, meter sign,
// fabric down print one JSON document on standard output.
func TestJSONOutputs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "net")
	code, out, errOut := runExit(t, "demo", "--dir", dir, "--json")
	var d demoResult
	if code != 0 || json.Unmarshal([]byte(out), &d) != nil || d.Story == nil || d.Story.BatchID != "CO2E-ES-SITE0042-20230601-0001" || d.Verify == nil || d.Verify.Blocks == 0 {
		t.Fatalf("demo --json: %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "7. Final state of batch") {
		t.Errorf("demo --json: the story is not on standard error:\n%s", errOut)
	}
	code, out, errOut = runExit(t, "ledger", "verify", "--dir", dir, "--json")
	var v verifyJSON
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v != *d.Verify {
		t.Fatalf("ledger verify --json: %d %s %s; want %+v", code, out, errOut, *d.Verify)
	}

	keyDir := t.TempDir()
	key := filepath.Join(keyDir, "m.key")
	if code, out, errOut := runExit(t, "meter", "keygen", "--out", key, "--json"); code != 0 || !json.Valid([]byte(out)) {
		t.Fatalf("meter keygen --json: %d %s %s", code, out, errOut)
	}
	if code, _, errOut := runExit(t, "meter", "keygen", "--out", key); code != 4 || !strings.Contains(errOut, "never overwritten") {
		t.Fatalf("meter keygen over a key: %d %s", code, errOut)
	}
	csv := filepath.Join(keyDir, "r.csv")
	if err := os.WriteFile(csv, []byte("meter_id,seq,start,end,energy_wh,register_wh,signature\nM1,1,2023-06-01T00:00:00Z,2023-06-01T01:00:00Z,5,5,\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	signed := filepath.Join(keyDir, "r.signed.csv")
	code, out, errOut = runExit(t, "meter", "sign", "--key", key, "--in", csv, "--out", signed, "--json")
	var s struct{ Signed int }
	if code != 0 || json.Unmarshal([]byte(out), &s) != nil || s.Signed != 1 {
		t.Fatalf("meter sign --json: %d %s %s", code, out, errOut)
	}
	if code, _, errOut := runExit(t, "meter", "sign", "--key", key, "--in", csv, "--json"); code != 2 || !strings.Contains(errOut, "--out") {
		t.Fatalf("meter sign --json to standard output: %d %s", code, errOut)
	}
	fab := filepath.Join(t.TempDir(), "fabric")
	if code, out, errOut := runExit(t, "fabric", "down", "--dir", fab, "--json"); code != 0 || !json.Valid([]byte(out)) {
		t.Fatalf("fabric down --json: %d %s %s", code, out, errOut)
	}
}
