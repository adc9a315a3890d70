package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `init --consortium FILE` builds the workspace of that consortium, not
// the demo's: its registry approves, its miner registers, and its oracles
// are the ones on the ledger; a file that breaks a rule is refused before
// anything is written.
func TestInitWithConsortiumFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ws")
	example := filepath.Join("..", "..", "docs", "consortium", "example.json")
	out, err := run(t, "init", "--dir", dir, "--consortium", example, "--json")
	if err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	var got struct {
		Registry string `json:"registry"`
		Oracles  []struct {
			OracleID string `json:"oracle_id"`
		} `json:"oracles"`
		Policy struct {
			Threshold int64 `json:"threshold"`
		} `json:"policy"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.Registry != "IberRegistryMSP" || len(got.Oracles) != 3 || got.Policy.Threshold != 2 {
		t.Fatalf("init output %s (%v)", out, err)
	}
	reg := filepath.Join(dir, "site.json")
	if err := os.WriteFile(reg, []byte(`{"sites":[{"site_id":"SITE0007","name":"Tabernas","country":"ES","grid_region":"ES","capacity_w":4000000}],"meters":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, "registration", "apply", "--dir", dir, "--file", reg, "--as", "SolHashMSP:operations", "--approve-as", "IberRegistryMSP:registrar"); err != nil {
		t.Fatalf("register as the file's miner, approved by its registry: %v\n%s", err, out)
	}
	if out, err := run(t, "registration", "apply", "--dir", dir, "--file", reg, "--as", "MinerMSP:miner"); err == nil || !strings.Contains(err.Error(), "MinerMSP") {
		t.Fatalf("register as the demo's miner in another consortium = %v\n%s", err, out)
	}

	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"organizations":[{"msp_id":"OnlyMSP","roles":["miner"],"users":[]}],"oracles":[],"policy":{"threshold":1}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	badDir := filepath.Join(t.TempDir(), "bad")
	if out, err := run(t, "init", "--dir", badDir, "--consortium", bad); err == nil || !strings.Contains(err.Error(), "registry role") {
		t.Fatalf("init with a consortium without registry = %v\n%s", err, out)
	}
	if _, err := os.Stat(badDir); !os.IsNotExist(err) {
		t.Fatalf("a refused init left %s behind (%v)", badDir, err)
	}
}
