package api_test

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/greenminttest"
)

// TestAPIDocExamples runs every ```sh block of docs/api.md, in order, in
// one bash script with -euo pipefail against a gateway with the seeded
// users and a minted batch: an example that fails (curl -f on a 4xx or
// 5xx, a jq filter on a missing field) fails the test.
func TestAPIDocExamples(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed to run docs/api.md's examples (.ci/run installs it): %v", tool, err)
		}
	}
	raw, err := os.ReadFile("../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(string(raw), -1)
	if len(blocks) < 5 {
		t.Fatalf("docs/api.md has %d sh examples, want the walk-through's", len(blocks))
	}
	e := newGatewayEnv(t, greenminttest.StoreDBs(t)["sqlite"], envOptions{})
	ctx := context.Background()
	sa, err := e.net.Attest(e.net.Site, greenmint.CO2E, greenminttest.DemoWeek, greenminttest.OracleAID, greenminttest.OracleBID)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.net.Mint(ctx, sa)
	if err != nil {
		t.Fatal(err)
	}
	var b greenmint.Batch
	if err := greenmint.EvaluateJSON(ctx, e.net.Ledger, e.net.Auditor, greenmint.QueryGetBatch, greenmint.IDQuery{ID: res.BatchID}, &b); err != nil {
		t.Fatal(err)
	}
	e.waitVisible(b.MintTxID)

	var script strings.Builder
	script.WriteString("set -euo pipefail\n")
	for _, blk := range blocks {
		// The walk-through starts by exporting the URL of `make run`; here
		// it is the test server's.
		script.WriteString(regexp.MustCompile(`(?m)^export GREENMINT_URL=.*$`).ReplaceAllString(blk[1], "export GREENMINT_URL="+e.srv.URL))
		script.WriteString("\n")
	}
	cmd := exec.Command("bash", "-c", script.String())
	cmd.Env = append(os.Environ(), "MINER_PASSWORD="+testPassword, "BUYER_PASSWORD="+testPassword)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("docs/api.md's examples failed: %v\n%s\nscript:\n%s", err, out, script.String())
	}
	for _, want := range []string{`"status": "ok"`, `"login": "miner"`, `"verified": true`} {
		if !strings.Contains(string(out), want) && !strings.Contains(strings.ReplaceAll(string(out), `":"`, `": "`), want) {
			t.Errorf("the examples' output lacks %s:\n%s", want, out)
		}
	}
}
