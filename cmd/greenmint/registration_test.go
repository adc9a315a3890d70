package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `registration apply` can be run again: identical entries are reported
// unchanged and skipped, a run that failed half-way (a meter whose site
// is not in the file) is finished by a rerun of the corrected file, a
// pending entry left unapproved is approved by a rerun with --approve-as,
// and a difference is reported field by field with exit 4, changing
// nothing, unless --amend replaces a pending entry.
func TestRegistrationApplyIsRerunnable(t *testing.T) {
	ws := filepath.Join(t.TempDir(), "ws")
	if code, out, errOut := runExit(t, "init", "--dir", ws); code != 0 {
		t.Fatalf("init: %d %s %s", code, out, errOut)
	}
	key := func(name string) string {
		var k struct {
			PublicKey string `json:"public_key"`
		}
		_, out, _ := runExit(t, "meter", "keygen", "--out", filepath.Join(ws, name), "--json")
		if err := json.Unmarshal([]byte(out), &k); err != nil {
			t.Fatal(err)
		}
		return k.PublicKey
	}
	cons, pv := key("cons.key"), key("pv.key")
	site := `{"site_id":"SITE0007","name":"Tabernas","country":"ES","grid_region":"ES","capacity_w":4000000}`
	meters := func(pvSite string, pvCapacity int) string {
		return fmt.Sprintf(`{"meter_id":"S7-CONS","site_id":"SITE0007","kind":"consumption","capacity_w":4000000,"interval_minutes":60,"public_key":%q},
			{"meter_id":"S7-PV","site_id":%q,"kind":"generation","technology":"solar_pv_utility","capacity_w":%d,"interval_minutes":60,"public_key":%q}`, cons, pvSite, pvCapacity, pv)
	}
	file := filepath.Join(ws, "reg.json")
	apply := func(body string, args ...string) (int, []entryResult, string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := runExit(t, append([]string{"registration", "apply", "--dir", ws, "--file", file, "--json"}, args...)...)
		var res struct{ Entries []entryResult }
		if out != "" {
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatalf("apply printed %q: %v", out, err)
			}
		}
		return code, res.Entries, errOut
	}
	outcomes := func(es []entryResult) string {
		var s []string
		for _, e := range es {
			s = append(s, e.ID+":"+e.Outcome+":"+e.Status)
		}
		return strings.Join(s, " ")
	}
	approve := []string{"--approve-as", "RegistryMSP:registrar"}

	// Half-way: the site registers and is approved, then the PV meter names
	// a site that does not exist.
	code, _, errOut := apply(`{"sites":[`+site+`],"meters":[`+meters("SITE9999", 5000000)+`]}`, approve...)
	if code == 0 || !strings.Contains(errOut, "S7-PV") {
		t.Fatalf("a file with a bad meter: exit %d, %s", code, errOut)
	}
	// The corrected file finishes the job; what was done is unchanged.
	good := `{"sites":[` + site + `],"meters":[` + meters("SITE0007", 5000000) + `]}`
	code, es, errOut := apply(good, approve...)
	if code != 0 || outcomes(es) != "SITE0007:unchanged:approved S7-CONS:unchanged:approved S7-PV:registered:approved" {
		t.Fatalf("rerun after a failure: exit %d %s %s", code, outcomes(es), errOut)
	}
	// Once more: everything unchanged, nothing written.
	code, es, _ = apply(good, approve...)
	if code != 0 || outcomes(es) != "SITE0007:unchanged:approved S7-CONS:unchanged:approved S7-PV:unchanged:approved" {
		t.Fatalf("third run: exit %d %s", code, outcomes(es))
	}

	// A second site, registered but not approved, then approved by a rerun.
	site8 := `{"site_id":"SITE0008","name":"Níjar","country":"ES","grid_region":"ES","capacity_w":2000000}`
	if code, es, errOut := apply(`{"sites":[` + site8 + `],"meters":[]}`); code != 0 || outcomes(es) != "SITE0008:registered:pending" {
		t.Fatalf("unapproved: %d %s %s", code, outcomes(es), errOut)
	}
	if code, es, errOut := apply(`{"sites":[`+site8+`],"meters":[]}`, approve...); code != 0 || outcomes(es) != "SITE0008:unchanged:approved" || !es[0].Approved {
		t.Fatalf("approved by a rerun: %d %s %s", code, outcomes(es), errOut)
	}

	// A difference: reported field by field, exit 4, nothing changed.
	code, es, errOut = apply(`{"sites":[`+strings.Replace(site, `"capacity_w":4000000`, `"capacity_w":4500000`, 1)+`],"meters":[`+meters("SITE0007", 6000000)+`]}`, approve...)
	if code != 4 || !strings.Contains(errOut, "site SITE0007, meter S7-PV differ") {
		t.Fatalf("differences: exit %d, %s", code, errOut)
	}
	if outcomes(es) != "SITE0007:differs:approved S7-CONS:unchanged:approved S7-PV:differs:approved" ||
		len(es[0].Differences) != 1 || es[0].Differences[0] != (difference{Field: "capacity_w", File: "4500000", Ledger: "4000000"}) ||
		len(es[2].Differences) != 1 || es[2].Differences[0] != (difference{Field: "capacity_w", File: "6000000", Ledger: "5000000"}) {
		t.Fatalf("differences reported: %+v", es)
	}
	// Without --json, each difference is a line.
	if code, out, _ := runExit(t, "registration", "apply", "--dir", ws, "--file", file); code != 4 || !strings.Contains(out, `capacity_w: file "6000000", ledger "5000000"`) {
		t.Fatalf("human report: %d\n%s", code, out)
	}
	// --amend replaces a pending entry, never an approved one.
	site9 := `{"site_id":"SITE0009","name":"Old","country":"ES","grid_region":"ES","capacity_w":1000000}`
	if code, _, errOut := apply(`{"sites":[` + site9 + `],"meters":[]}`); code != 0 {
		t.Fatalf("SITE0009: %d %s", code, errOut)
	}
	renamed := strings.Replace(site9, `"Old"`, `"New"`, 1)
	if code, es, errOut := apply(`{"sites":[`+renamed+`],"meters":[]}`, "--amend"); code != 0 || outcomes(es) != "SITE0009:amended:pending" {
		t.Fatalf("--amend of a pending site: %d %s %s", code, outcomes(es), errOut)
	}
	if code, es, _ := apply(`{"sites":[` + renamed + `],"meters":[]}`); code != 0 || outcomes(es) != "SITE0009:unchanged:pending" {
		t.Fatalf("after --amend: %d %s", code, outcomes(es))
	}
	if code, es, _ := apply(`{"sites":[`+strings.Replace(site, "Tabernas", "Other", 1)+`],"meters":[]}`, "--amend"); code != 4 || outcomes(es) != "SITE0007:differs:approved" {
		t.Fatalf("--amend of an approved site: %d %s", code, outcomes(es))
	}
}

// Another organisation's pending site with the same ID and fields is not
// "unchanged": applying the file as a second miner is forbidden, and the
// registry's --approve-as never approves the other miner's entry. Before,
// it was reported unchanged and approved (found in review).
func TestRegistrationApplyIsNotAnotherOrganisations(t *testing.T) {
	ws := filepath.Join(t.TempDir(), "ws")
	if code, out, errOut := runExit(t, "init", "--dir", ws); code != 0 {
		t.Fatalf("init: %d %s %s", code, out, errOut)
	}
	file := filepath.Join(ws, "reg.json")
	if err := os.WriteFile(file, []byte(`{"sites":[{"site_id":"SITE0008","name":"Tabernas","country":"ES","grid_region":"ES","capacity_w":4000000}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runExit(t, "registration", "apply", "--dir", ws, "--file", file); code != 0 {
		t.Fatalf("first miner: exit %d %s", code, errOut)
	}
	code, _, errOut := runExit(t, "registration", "apply", "--dir", ws, "--file", file, "--as", "Miner2MSP:miner", "--approve-as", "RegistryMSP:registrar", "--json")
	if code != 5 || !strings.Contains(errOut, "forbidden") || !strings.Contains(errOut, "registered by MinerMSP") {
		t.Fatalf("second miner applying the first's site: exit %d %s, want forbidden (5)", code, errOut)
	}
	_, out, _ := runExit(t, "registration", "apply", "--dir", ws, "--file", file, "--json")
	if !strings.Contains(strings.Join(strings.Fields(out), ""), `"status":"pending"`) {
		t.Fatalf("the site is no longer pending after the refused apply: %s", out)
	}
}
