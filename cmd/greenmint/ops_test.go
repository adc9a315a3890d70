package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/refdata"
	"github.com/greenmint/greenmint/workspace"
)

// TestOperatorFlow runs the operator CLI as an operator would: a workspace,
// two meter keys, a site and its meters registered and approved from a
// file, a day of readings written unsigned, signed with the meter tool,
// imported (with a forged row), attested and co-signed, the batch shown and
// a reading's inclusion proof checked against the ledger.
func TestOperatorFlow(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ws")
	operatorFlow(t, dir, nil, func(run func(...string) string) { run("init", "--dir", dir) })
}

// TestOperatorFlowOnFabric runs the same commands with --ledger fabric on
// the network make test-fabric started (GREENMINT_FABRIC_DIR).
func TestOperatorFlowOnFabric(t *testing.T) {
	net := os.Getenv("GREENMINT_FABRIC_DIR")
	if net == "" {
		t.Skip("GREENMINT_FABRIC_DIR is not set: make test-fabric runs this on a Fabric network")
	}
	dir := t.TempDir()
	ledger := []string{"--ledger", "fabric", "--connection", filepath.Join(net, "connection.json")}
	operatorFlow(t, dir, ledger, func(run func(...string) string) {
		run(append([]string{"demo"}, ledger...)...) // bootstraps the ledger if it is not yet
	})
}

func operatorFlow(t *testing.T, dir string, ledger []string, setup func(func(...string) string)) {
	mustRun := func(args ...string) string {
		t.Helper()
		args = withLedger(t, args, ledger)
		out, err := run(t, args...)
		if err != nil {
			t.Fatalf("greenmint %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	setup(mustRun)
	keys := map[string]string{}
	for _, m := range []string{"cons", "pv"} {
		var k struct {
			PublicKey string `json:"public_key"`
		}
		out := mustRun("meter", "keygen", "--out", filepath.Join(dir, m+".key"), "--json")
		if err := json.Unmarshal([]byte(out), &k); err != nil {
			t.Fatalf("keygen output %q: %v", out, err)
		}
		keys[m] = k.PublicKey
	}
	reg := fmt.Sprintf(`{"sites":[{"site_id":"SITE0007","name":"Tabernas","country":"ES","grid_region":"ES","capacity_w":4000000}],
 "meters":[{"meter_id":"S7-CONS","site_id":"SITE0007","kind":"consumption","capacity_w":4000000,"interval_minutes":60,"public_key":%q},
           {"meter_id":"S7-PV","site_id":"SITE0007","kind":"generation","technology":"solar_pv_utility","capacity_w":5000000,"interval_minutes":60,"public_key":%q}]}`, keys["cons"], keys["pv"])
	regFile := filepath.Join(dir, "register.json")
	if err := os.WriteFile(regFile, []byte(reg), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun("registration", "apply", "--dir", dir, "--file", regFile, "--approve-as", "RegistryMSP:registrar")

	pv, err := refdata.AlmeriaPV()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2023, 6, 1, 0, 0, 0, 0, time.UTC)
	var idx int
	for idx = range pv {
		if pv[idx].Start.Equal(start) {
			break
		}
	}
	var cons, gen strings.Builder
	cons.WriteString("meter_id,seq,start,end,energy_wh,register_wh,signature\n")
	gen.WriteString("meter_id,seq,start,end,energy_wh,register_wh,signature\n")
	var creg, greg, matched int64
	for h := 0; h < 24; h++ {
		t0 := start.Add(time.Duration(h) * time.Hour)
		g := 5_000_000 * pv[idx+h].PPM / 1_000_000
		creg += 3_000_000
		greg += g
		matched += min(g, 3_000_000)
		fmt.Fprintf(&cons, "S7-CONS,%d,%s,%s,%d,%d,\n", h+1, t0.Format(time.RFC3339), t0.Add(time.Hour).Format(time.RFC3339), 3_000_000, creg)
		fmt.Fprintf(&gen, "S7-PV,%d,%s,%s,%d,%d,\n", h+1, t0.Format(time.RFC3339), t0.Add(time.Hour).Format(time.RFC3339), g, greg)
	}
	for m, body := range map[string]string{"cons": cons.String(), "pv": gen.String()} {
		raw := filepath.Join(dir, m+".csv")
		if err := os.WriteFile(raw, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		mustRun("meter", "sign", "--key", filepath.Join(dir, m+".key"), "--in", raw, "--out", filepath.Join(dir, m+".signed.csv"))
	}
	// A forged row: the signed consumption file with one energy changed.
	signed, _ := os.ReadFile(filepath.Join(dir, "cons.signed.csv"))
	forged := strings.Replace(string(signed), "S7-CONS,24,2023-06-01T23:00:00Z,2023-06-02T00:00:00Z,3000000", "S7-CONS,24,2023-06-01T23:00:00Z,2023-06-02T00:00:00Z,2999999", 1)
	if forged == string(signed) {
		t.Fatal("forging changed nothing")
	}
	if err := os.WriteFile(filepath.Join(dir, "cons.signed.csv"), []byte(forged), 0o644); err != nil {
		t.Fatal(err)
	}
	out := mustRun("readings", "import", "--dir", dir, "--file", filepath.Join(dir, "cons.signed.csv"))
	if !strings.Contains(out, "23 accepted, 0 duplicate, 1 rejected") || !strings.Contains(out, "bad_signature") {
		t.Fatalf("import output:\n%s", out)
	}
	mustRun("readings", "import", "--dir", dir, "--file", filepath.Join(dir, "pv.signed.csv"))

	var res struct {
		BatchID       string   `json:"batch_id"`
		AttestationID string   `json:"attestation_id"`
		Quantity      int64    `json:"quantity"`
		Gaps          []string `json:"gaps"`
	}
	out = mustRun("attestation", "create", "--dir", dir, "--site", "SITE0007", "--from", "2023-06-01T00:00:00Z", "--to", "2023-06-02T00:00:00Z", "--instrument", "EAC", "--json")
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("attest output %q: %v", out, err)
	}
	// Hour 23:00 lost its consumption reading: a gap; PV is 0 then anyway.
	if res.BatchID != "EAC-ES-SITE0007-20230601-0001" || res.Quantity != matched || strings.Join(res.Gaps, ",") != "2023-06-01T23:00:00Z" {
		t.Fatalf("minted %+v, want %d Wh and the gap at 23:00", res, matched)
	}
	if out := mustRun("batch", "show", "--dir", dir, "--id", res.BatchID); !strings.Contains(out, fmt.Sprintf("issued %d", matched)) ||
		!strings.Contains(out, fmt.Sprintf("23 hours (1 left out for missing readings), consumption %d Wh", 23*3_000_000)) || !strings.Contains(out, fmt.Sprintf("matched %d Wh", matched)) {
		t.Fatalf("batch show prints no totals: %s", out)
	}
	var shown attestationView
	out = mustRun("attestation", "show", "--dir", dir, "--batch", res.BatchID, "--json")
	if err := json.Unmarshal([]byte(out), &shown); err != nil {
		t.Fatalf("attestation show --json: %v\n%s", err, out)
	}
	a := shown.Attestation
	if shown.ID != res.AttestationID || shown.Source != "ledger" || shown.Status != "minted" || shown.BatchID != res.BatchID || len(a.Hours) != 23 ||
		strings.Join(a.Gaps, ",") != "2023-06-01T23:00:00Z" || a.Totals.MatchedWh != matched || a.Totals.ConsumptionWh != 23*3_000_000 || len(shown.Signatures) != 2 || a.Factors.GridRegion != "ES" {
		t.Fatalf("attestation show --json = %+v", shown)
	}
	out = mustRun("attestation", "show", "--dir", dir, "--id", res.AttestationID)
	for _, want := range []string{"status       minted: batch " + res.BatchID, "gaps         1 hour(s) left out for missing readings: 2023-06-01T23:00:00Z",
		fmt.Sprintf("matched %d Wh", matched), "signatures   oracle-a ", "oracle-b ", "2023-06-01T12:00:00Z", "S7-PV solar_pv_utility", "grid region ES: intermittent"} {
		if !strings.Contains(out, want) {
			t.Fatalf("attestation show lacks %q:\n%s", want, out)
		}
	}
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"--id", "0000"}, "not_found"},
		{[]string{"--id", res.AttestationID, "--batch", res.BatchID}, "invalid"},
		{nil, "invalid"},
	} {
		if _, err := run(t, append(append([]string{"attestation", "show", "--dir", dir}, bad.args...), ledger...)...); greenmint.ErrorCode(err) != bad.want {
			t.Errorf("attestation show %v = %v, want %s", bad.args, err, bad.want)
		}
	}
	if out := mustRun("batch", "proof", "--dir", dir, "--batch", res.BatchID, "--meter", "S7-PV", "--seq", "13"); !strings.Contains(out, "(verified)") {
		t.Fatalf("proof: %s", out)
	}
	if _, err := run(t, append([]string{"attestation", "create", "--dir", dir, "--site", "SITE0007", "--from", "2023-06-01T00:00:00Z", "--to", "2023-06-02T00:00:00Z"}, ledger...)...); err == nil {
		t.Fatal("attesting the same hours again minted")
	}
}

// An attestation the ledger does not hold (signed, not yet submitted) is
// shown from the oracle's database, with its status.
func TestAttestationShowFromTheOracle(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "ws")
	if out, err := run(t, "init", "--dir", dir); err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	w, err := workspace.Open(workspace.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	e, err := greenminttest.NewEnv(w.Ledger, w.Consortium)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	site, err := e.RegisterSite(ctx, e.Miner, "SITE0042")
	if err != nil {
		t.Fatal(err)
	}
	sa, err := e.Attest(site, greenmint.EAC, greenminttest.Period{Start: greenminttest.DemoWeek.Start, Hours: 24}, greenminttest.OracleAID, greenminttest.OracleBID)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := sa.Attestation.ID()
	db, err := w.Config.OpenStore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	err = db.SaveAttestation(ctx, id, sa, time.Now())
	db.Close()
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "attestation", "show", "--dir", dir, "--id", id, "--json")
	var v attestationView
	if err != nil || json.Unmarshal([]byte(out), &v) != nil {
		t.Fatalf("attestation show: %v\n%s", err, out)
	}
	if v.Source != "oracle" || v.Status != "signed" || v.BatchID != "" || len(v.Attestation.Hours) != 24 || v.Attestation.Totals != sa.Attestation.Totals || len(v.Signatures) != 2 {
		t.Fatalf("attestation show of a stored attestation = %+v", v)
	}
}
