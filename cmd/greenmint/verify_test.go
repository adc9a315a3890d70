package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/bundle"
	"github.com/greenmint/greenmint/internal/greenminttest"
)

// TestVerify runs `greenmint verify` on a bundle built from a real embedded
// network: it passes, pinned to the ledger's head and the consortium's
// roots; a tampered bundle, a wrong head or a wrong root fails with exit 4
// naming the check.
func TestVerify(t *testing.T) {
	ctx := context.Background()
	n := greenminttest.NewNetwork(t)
	readings, err := n.Site.Readings(greenminttest.DemoWeek)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.DB.SaveReadings(ctx, readings, nil, greenminttest.DemoWeek.End()); err != nil {
		t.Fatal(err)
	}
	sa, err := n.Attest(n.Site, greenmint.CO2E, greenminttest.DemoWeek, greenminttest.OracleAID, greenminttest.OracleBID)
	if err != nil {
		t.Fatal(err)
	}
	res, err := n.Mint(ctx, sa)
	if err != nil {
		t.Fatal(err)
	}
	b, err := bundle.BuildBatch(ctx, n.Ledger, nil, n.Auditor, res.BatchID, bundle.Options{Readings: n.DB})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := bundle.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "bundle.json")
	if err := os.WriteFile(good, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	tampered := filepath.Join(dir, "tampered.json")
	hour := `"matched_wh": ` + jsonInt(sa.Attestation.Hours[12].MatchedWh)
	if !strings.Contains(string(raw), hour) {
		t.Fatalf("the bundle does not spell %s", hour)
	}
	if err := os.WriteFile(tampered, []byte(strings.Replace(string(raw), hour, `"matched_wh": `+jsonInt(sa.Attestation.Hours[12].MatchedWh+1), 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	orgs := filepath.Join(n.Dir, "net", "organizations")
	otherOrgs := filepath.Join(greenminttest.NewNetwork(t).Dir, "net", "organizations")

	for _, tc := range []struct {
		name    string
		args    []string
		code    int
		out     []string // in standard output
		errText []string // in standard error
	}{
		{"passes", []string{"verify", good}, 0,
			[]string{"PASS  ledger: header chain", "NOTE  ledger: trust anchor", "PASS  batch " + res.BatchID + ": quantity: CO2E: floor(", "PASS  batch " + res.BatchID + ": readings: 336 readings", "verified: batch " + res.BatchID}, nil},
		{"pinned", []string{"verify", good, "--head", b.Ledger.Head.Hash, "--msp-dir", orgs}, 0,
			[]string{"PASS  ledger: trust anchor: the bundle's head is the trusted head", "PASS  ledger: MSP roots: every organisation's root certificates are the trusted ones"}, nil},
		{"tampered", []string{"verify", tampered}, 4,
			[]string{"FAIL  batch " + res.BatchID + ": R2: hour " + sa.Attestation.Hours[12].Start, "NOT verified"},
			[]string{"conflict: batch " + res.BatchID + " does not verify", "oracle signatures (R5)"}},
		{"another head", []string{"verify", good, "--head", strings.Repeat("0", 64)}, 4,
			[]string{"FAIL  ledger: trust anchor"}, []string{"ledger: trust anchor"}},
		{"other roots", []string{"verify", good, "--msp-dir", otherOrgs}, 4,
			[]string{"FAIL  ledger: MSP roots: AuditorMSP's root certificate"}, []string{"ledger: MSP roots"}},
		{"no file", []string{"verify", filepath.Join(dir, "none.json")}, 3, nil, []string{"not_found"}},
		{"not a bundle", []string{"verify", orgs + "/../ledger/blocks"}, 2, nil, []string{"invalid"}},
		{"no argument", []string{"verify"}, 2, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runExit(t, tc.args...)
			if code != tc.code {
				t.Fatalf("greenmint %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(tc.args, " "), code, tc.code, out, errOut)
			}
			for _, w := range tc.out {
				if !strings.Contains(out, w) {
					t.Errorf("greenmint %s: standard output lacks %q:\n%s", strings.Join(tc.args, " "), w, out)
				}
			}
			for _, w := range tc.errText {
				if !strings.Contains(errOut, w) {
					t.Errorf("greenmint %s: standard error lacks %q:\n%s", strings.Join(tc.args, " "), w, errOut)
				}
			}
		})
	}

	// --json: the report, one document.
	code, out, _ := runExit(t, "verify", good, "--json")
	var rep bundle.Report
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || !rep.OK() || rep.Subject.ID != res.BatchID || len(rep.Checks) < 20 {
		t.Errorf("greenmint verify --json: exit %d, report %+v", code, rep)
	}
}

func jsonInt(v int64) string {
	b, _ := json.Marshal(v)
	return string(b)
}
