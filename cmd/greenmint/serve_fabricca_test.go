package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/fabricca/fabricatest"
	"github.com/greenmint/greenmint/identity"
	"github.com/greenmint/greenmint/internal/store"
	"github.com/greenmint/greenmint/workspace"
)

// TestServeWithFabricCA: greenmint serve --ca fabric-ca --ca-config FILE
// on the embedded default, with MinerMSP's Fabric CA serving MinerMSP's
// own CA key (docker-compose.yml's setup): the seeded miner's ledger
// identity is a certificate the Fabric CA signed, carrying its role, and
// the miner registers a site over HTTP with it; the seeded buyer's
// organisation is not in the file and keeps the workspace's own CA.
func TestServeWithFabricCA(t *testing.T) {
	if !fabricatest.Available() {
		t.Skip(fabricatest.SkipMessage)
	}
	clearServeEnv(t)
	t.Setenv(envName("ca"), "")
	t.Setenv(envName("ca-config"), "")
	dir := t.TempDir()
	w, err := workspace.Create(workspace.Config{Dir: dir}, consortium.Demo())
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	orgCA := filepath.Join(dir, "organizations", consortium.MinerMSP, "ca")
	srv := fabricatest.StartTB(t, "ca-miner", filepath.Join(orgCA, "ca.pem"), filepath.Join(orgCA, "priv_sk"))
	t.Setenv("GREENMINT_TEST_CA_SECRET", fabricatest.Secret)
	cfg, _ := json.Marshal(map[string]any{"organizations": []map[string]string{{
		"msp_id": consortium.MinerMSP, "url": srv.URL, "ca_name": srv.CAName,
		"tls_root_cert": "organizations/MinerMSP/ca/ca.pem", // relative to the file
		"registrar":     fabricatest.Registrar, "registrar_secret_env": "GREENMINT_TEST_CA_SECRET",
	}}})
	cfgPath := filepath.Join(dir, "fabric-ca.json")
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		t.Fatal(err)
	}

	s := startServe(t, nil, "--dir", dir, "--no-simulator", "--ca", "fabric-ca", "--ca-config", cfgPath)
	if !strings.Contains(s.errOut.String(), "users' ledger identities come from Fabric CA") {
		t.Errorf("serve did not log that the identities come from Fabric CA:\n%s", s.errOut.String())
	}
	var miner, buyer workspace.SeedLogin
	for _, l := range seededLogins(t, dir) {
		switch {
		case l.Org == consortium.MinerMSP && l.Role == greenmint.RoleMiner:
			miner = l
		case l.Org == consortium.BuyerMSP:
			buyer = l
		}
	}
	if miner.Login == "" || buyer.Login == "" {
		t.Fatal("no seeded MinerMSP miner or BuyerMSP user")
	}
	token := s.login(miner)
	body := `{"site_id": "SITE0950", "name": "Fabric CA site", "country": "ES", "grid_region": "ES",
		"latitude_microdeg": 37050000, "longitude_microdeg": -2390000, "capacity_w": 2000000,
		"fleet": {"hashrate_ths": 40000, "efficiency_mj_per_th": 17500}}`
	req, _ := http.NewRequest(http.MethodPost, s.url+"/v1/sites", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "site-SITE0950")
	res, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		t.Errorf("POST /v1/sites as the Fabric CA miner = %d %s", res.StatusCode, raw)
	}
	if code := s.stop(); code != 0 {
		t.Fatalf("serve exited %d:\n%s", code, s.errOut.String())
	}

	db, err := store.Open(filepath.Join(dir, defaultDB))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	signed := srv.Log()
	for _, tc := range []struct {
		login      workspace.SeedLogin
		fromFabric bool
	}{{miner, true}, {buyer, false}} {
		u, err := db.UserByLogin(context.Background(), tc.login.Login)
		if err != nil {
			t.Fatal(err)
		}
		row, err := db.LedgerIdentity(context.Background(), u.ID)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := identity.ParseCertPEM(row.Certificate)
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Contains(signed, "signed certificate with serial number "+cert.SerialNumber.String()+"\n")
		if got != tc.fromFabric {
			t.Errorf("%s (%s): the Fabric CA signed its certificate: %v, want %v", tc.login.Login, tc.login.Org, got, tc.fromFabric)
		}
		if role, _ := identity.RoleOf(cert); role != tc.login.Role {
			t.Errorf("%s: role attribute %q, want %q", tc.login.Login, role, tc.login.Role)
		}
	}
}

// TestServeCASettings: --ca and --ca-config that serve refuses (exit 2)
// before making anything.
func TestServeCASettings(t *testing.T) {
	clearServeEnv(t)
	t.Setenv(envName("ca"), "")
	t.Setenv(envName("ca-config"), "")
	bad := filepath.Join(t.TempDir(), "fabric-ca.json")
	if err := os.WriteFile(bad, []byte(`{"organizations": [{"msp_id": "MinerMSP", "secret": "inline"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"an unknown CA kind", []string{"--ca", "vault"}, "consortium or fabric-ca"},
		{"Fabric CA without its file", []string{"--ca", "fabric-ca"}, "needs --ca-config"},
		{"a file for the consortium's CAs", []string{"--ca-config", bad}, "--ca-config is for --ca fabric-ca"},
		{"a missing file", []string{"--ca", "fabric-ca", "--ca-config", bad + ".none"}, "--ca-config"},
		{"a file with an unknown field", []string{"--ca", "fabric-ca", "--ca-config", bad}, "unknown field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			code, _, errOut := runExit(t, append([]string{"serve", "--dir", dir, "--listen", "127.0.0.1:0"}, tc.args...)...)
			if code != 2 || !strings.Contains(errOut, tc.want) || !strings.HasPrefix(errOut, "greenmint: invalid: ") {
				t.Errorf("exit %d, %q; want 2 and %q", code, errOut, tc.want)
			}
			if strings.Contains(errOut, "inline") {
				t.Errorf("the file's secret was printed: %s", errOut)
			}
			if _, err := os.Stat(dir); err == nil {
				t.Errorf("a failed start made %s", dir)
			}
		})
	}
}
