package workspace_test

import (
	"context"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/workspace"
)

func exampleFile(t *testing.T) consortium.File {
	t.Helper()
	f, err := consortium.ReadFile(filepath.Join("..", "docs", "consortium", "example.json"))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// A workspace made from a consortium file that is not the demo's holds
// that consortium on its ledger after Bootstrap: the file's registry is
// the registry, its policy the policy, its organisations admitted to their
// roles and its oracles registered; a second Bootstrap keeps it all, and
// the workspace opens again with the same file.
func TestCreateBootstrapOpen(t *testing.T) {
	ctx := context.Background()
	f := exampleFile(t)
	cfg := workspace.Config{Dir: filepath.Join(t.TempDir(), "ws")}
	w, err := workspace.Create(cfg, f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Bootstrap(ctx); err != nil {
		t.Fatalf("a second Bootstrap = %v", err)
	}
	reader, err := w.Identity("VerifyCoMSP:auditor")
	if err != nil {
		t.Fatal(err)
	}
	var p greenmint.Policy
	if err := greenmint.EvaluateJSON(ctx, w.Ledger, reader, greenmint.QueryGetPolicy, struct{}{}, &p); err != nil {
		t.Fatal(err)
	}
	if p.RegistryMSP != "IberRegistryMSP" || p.Threshold != 2 || p.ToleranceBP != 300 || p.ReservationTTLSeconds != 86400 {
		t.Fatalf("policy on the ledger = %+v, want the file's", p)
	}
	var orgs []greenmint.Admission
	if err := greenmint.EvaluateJSON(ctx, w.Ledger, reader, greenmint.QueryListOrganizations, struct{}{}, &orgs); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, o := range orgs {
		got[o.MSPID] = strings.Join(rolesOf(o.Roles), ",")
	}
	want := map[string]string{"SolHashMSP": "buyer,miner", "NorthOracleMSP": "oracle", "SouthOracleMSP": "oracle", "EastOracleMSP": "oracle", "VerifyCoMSP": "auditor", "OffsetBuyerMSP": "buyer"}
	for msp, roles := range want {
		if got[msp] != roles {
			t.Errorf("%s admitted to %q, want %q", msp, got[msp], roles)
		}
	}
	var oracles []greenmint.OracleRegistration
	if err := greenmint.EvaluateJSON(ctx, w.Ledger, reader, greenmint.QueryListOracles, struct{}{}, &oracles); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, o := range oracles {
		ids = append(ids, o.ID+"@"+o.MSPID)
	}
	sort.Strings(ids)
	if strings.Join(ids, " ") != "oracle-east@EastOracleMSP oracle-north@NorthOracleMSP oracle-south@SouthOracleMSP" {
		t.Fatalf("oracles on the ledger = %v", ids)
	}
	sub, err := w.Submitter(nil, "SouthOracleMSP:oracle")
	if err != nil {
		t.Fatal(err)
	}
	if sub.OracleID != "oracle-south" || len(sub.Peers) != 1 {
		t.Fatalf("submitter %s with %d co-signers, want oracle-south with 1 (threshold 2)", sub.OracleID, len(sub.Peers))
	}
	if _, err := w.Submitter(nil, "SolHashMSP:operations"); greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
		t.Fatalf("a miner as the submitting oracle = %v, want not_found", err)
	}
	w.Close()

	w, err = workspace.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if w.File().RegistryMSP() != "IberRegistryMSP" || len(w.File().Oracles) != 3 {
		t.Fatalf("reopened with %+v", w.File())
	}
}

func rolesOf(rs []greenmint.Role) []string {
	var out []string
	for _, r := range rs {
		out = append(out, string(r))
	}
	sort.Strings(out)
	return out
}

// What cannot be opened or created is refused with a reason and a code.
func TestRefusals(t *testing.T) {
	dir := t.TempDir()
	bad := consortium.Demo()
	bad.Policy.Threshold = 5
	tests := []struct {
		name string
		do   func() error
		code string
		want string
	}{
		{"open a missing workspace", func() error { _, err := workspace.Open(workspace.Config{Dir: filepath.Join(dir, "none")}); return err }, greenmint.ENOTFOUND, "greenmint init"},
		{"unknown ledger", func() error {
			_, err := workspace.Open(workspace.Config{Dir: dir, Ledger: "quantum"})
			return err
		}, greenmint.EINVALID, "embedded or fabric"},
		{"create on Fabric", func() error {
			_, err := workspace.Create(workspace.Config{Dir: filepath.Join(dir, "f"), Ledger: workspace.Fabric}, consortium.Demo())
			return err
		}, greenmint.EINVALID, "greenmint fabric up"},
		{"bad consortium file", func() error {
			_, err := workspace.Create(workspace.Config{Dir: filepath.Join(dir, "b")}, bad)
			return err
		}, greenmint.EINVALID, "threshold"},
		{"a used directory", func() error {
			w, err := workspace.Create(workspace.Config{Dir: filepath.Join(dir, "u")}, consortium.Demo())
			if err != nil {
				return err
			}
			w.Close()
			_, err = workspace.Create(workspace.Config{Dir: filepath.Join(dir, "u")}, consortium.Demo())
			return err
		}, greenmint.ECONFLICT, "not empty"},
		{"no settings", func() error { _, err := workspace.Config{Dir: dir}.Settings(); return err }, greenmint.ENOTFOUND, "greenmint init"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			if greenmint.ErrorCode(err) != tc.code || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %s with %q", err, tc.code, tc.want)
			}
		})
	}
}
