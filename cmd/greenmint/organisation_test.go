package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greenmint/greenmint"
)

// The registry takes a role back from an organisation and gives it again
// from the command line; what the contract refuses exits with its code and
// changes nothing.
func TestOrganisationAdmitRevokeList(t *testing.T) {
	ws := filepath.Join(t.TempDir(), "ws")
	if code, out, errOut := runExit(t, "init", "--dir", ws); code != 0 {
		t.Fatalf("init: %d %s %s", code, out, errOut)
	}
	list := func() map[string]greenmint.Admission {
		t.Helper()
		code, out, errOut := runExit(t, "organisation", "list", "--dir", ws, "--as", "BuyerMSP:buyer", "--json")
		var all []greenmint.Admission
		if code != 0 || json.Unmarshal([]byte(out), &all) != nil {
			t.Fatalf("organisation list: %d %s %s", code, out, errOut)
		}
		byMSP := map[string]greenmint.Admission{}
		for _, a := range all {
			byMSP[a.MSPID] = a
		}
		return byMSP
	}
	if a := list()["AuditorMSP"]; len(a.Roles) != 1 || a.Roles[0] != greenmint.RoleAuditor {
		t.Fatalf("after init AuditorMSP = %+v, want the auditor role", a)
	}
	if code, _, errOut := runExit(t, "organisation", "revoke", "--dir", ws, "--msp", "AuditorMSP", "--role", "auditor", "--reason", "licence withdrawn"); code != 0 {
		t.Fatalf("revoke: %d %s", code, errOut)
	}
	a := list()["AuditorMSP"]
	if len(a.Roles) != 0 || len(a.Revocations) != 1 || a.Revocations[0].Reason != "licence withdrawn" {
		t.Fatalf("after revoke AuditorMSP = %+v, want no role and the revocation with its reason", a)
	}
	for _, bad := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"--msp", "AuditorMSP", "--role", "registry"}, 2, "registry role is fixed"},
		{[]string{"--msp", "AuditorMSP", "--role", "auditor", "--as", "MinerMSP:miner"}, 5, "forbidden"},
		{[]string{"--msp", "AuditorMSP"}, 2, "role"},
		{[]string{"--role", "auditor"}, 2, "msp"},
	} {
		code, _, errOut := runExit(t, append([]string{"organisation", "admit", "--dir", ws}, bad.args...)...)
		if code != bad.code || !strings.Contains(errOut, bad.says) {
			t.Errorf("organisation admit %v: exit %d %s, want %d saying %q", bad.args, code, errOut, bad.code, bad.says)
		}
	}
	if a := list()["AuditorMSP"]; len(a.Roles) != 0 {
		t.Fatalf("refused admissions changed AuditorMSP: %+v", a)
	}
	if code, _, errOut := runExit(t, "organisation", "admit", "--dir", ws, "--msp", "AuditorMSP", "--role", "auditor"); code != 0 {
		t.Fatalf("admit: %d %s", code, errOut)
	}
	if a := list()["AuditorMSP"]; len(a.Roles) != 1 || a.Roles[0] != greenmint.RoleAuditor {
		t.Fatalf("after admit AuditorMSP = %+v, want the auditor role again", a)
	}
}
