package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestTwoOracleProcessesOnFabric runs oracle B as its own process
// (`greenmint oracle serve`) with its own database, feeds both oracles the
// same signed readings, and has oracle A attest with B co-signing over
// HTTP: the batch mints on the Fabric network make test-fabric started.
func TestTwoOracleProcessesOnFabric(t *testing.T) {
	net_ := os.Getenv("GREENMINT_FABRIC_DIR")
	if net_ == "" {
		t.Skip("GREENMINT_FABRIC_DIR is not set: make test-fabric runs this on a Fabric network")
	}
	ledger := []string{"--ledger", "fabric", "--connection", filepath.Join(net_, "connection.json")}
	mustRun := func(args ...string) string {
		t.Helper()
		out, err := run(t, withLedger(t, args, ledger)...)
		if err != nil {
			t.Fatalf("greenmint %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	bin := filepath.Join(t.TempDir(), "greenmint")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dirA, dirB := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	mustRun("demo") // bootstraps the ledger if it is not yet
	mustRun("init", "--dir", dirA)
	mustRun("init", "--dir", dirB)
	csvs := registerSiteWithReadings(t, mustRun, dirA, "SITE0321", "T2")

	// Oracle B issues a collector token (for the readings sent to it) and a
	// peer-oracle token (for oracle A's co-sign requests).
	issue := func(kind, subject string) string {
		t.Helper()
		var is struct {
			Token string `json:"token"`
		}
		out := mustRun("oracle", "token", "issue", "--dir", dirB, "--kind", kind, "--subject", subject, "--json")
		if err := json.Unmarshal([]byte(out), &is); err != nil || is.Token == "" {
			t.Fatalf("token issue: %q, %v", out, err)
		}
		return is.Token
	}
	token, peerToken := issue("collector", "collector-1"), issue("peer-oracle", "oracle-a")

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	b := exec.Command(bin, append([]string{"oracle", "serve", "--dir", dirB, "--as", "OracleBMSP:oracle", "--listen", addr}, ledger...)...)
	b.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	b.Stdout, b.Stderr = os.Stderr, os.Stderr
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = syscall.Kill(-b.Process.Pid, syscall.SIGTERM); _ = b.Wait() }()
	for _, f := range csvs {
		body, _ := os.ReadFile(f)
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/readings", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "text/csv")
		req.Header.Set("Authorization", "Bearer "+token)
		var resp *http.Response
		for i := 0; i < 50; i++ { // until B listens
			if resp, err = http.DefaultClient.Do(req); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
			req, _ = http.NewRequest(http.MethodPost, "http://"+addr+"/v1/readings", strings.NewReader(string(body)))
			req.Header.Set("Content-Type", "text/csv")
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("oracle B ingest: %v %v", resp, err)
		}
		resp.Body.Close()
		mustRun("readings", "import", "--dir", dirA, "--file", f)
	}
	out := mustRun("attestation", "create", "--dir", dirA, "--site", "SITE0321", "--from", "2023-06-01T00:00:00Z", "--to", "2023-06-02T00:00:00Z", "--instrument", "EAC",
		"--peer", "http://"+addr, "--peer-token", peerToken)
	if !strings.Contains(out, "minted batch EAC-ES-SITE0321-20230601-0001") {
		t.Fatalf("attest with oracle B over HTTP: %s", out)
	}
}

// registerSiteWithReadings registers a site with a consumption and a PV
// meter (fresh keys), writes a day of their readings and signs them with
// the meter tool; it returns the signed CSV files.
func registerSiteWithReadings(t *testing.T, mustRun func(...string) string, dir, site, prefix string) []string {
	t.Helper()
	keys := map[string]string{}
	for _, m := range []string{"cons", "pv"} {
		out := mustRun("meter", "keygen", "--out", filepath.Join(dir, m+".key"))
		keys[m] = strings.TrimSpace(strings.TrimPrefix(out, "public key (base64, for the registration file's public_key): "))
	}
	reg := fmt.Sprintf(`{"sites":[{"site_id":%q,"name":"n","country":"ES","grid_region":"ES","capacity_w":4000000}],
 "meters":[{"meter_id":"%s-CONS","site_id":%q,"kind":"consumption","capacity_w":4000000,"interval_minutes":60,"public_key":%q},
           {"meter_id":"%s-PV","site_id":%q,"kind":"generation","technology":"solar_pv_utility","capacity_w":5000000,"interval_minutes":60,"public_key":%q}]}`,
		site, prefix, site, keys["cons"], prefix, site, keys["pv"])
	regFile := filepath.Join(dir, "register.json")
	if err := os.WriteFile(regFile, []byte(reg), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun("registration", "apply", "--dir", dir, "--file", regFile, "--approve-as", "RegistryMSP:registrar")
	var files []string
	for _, m := range []struct{ name, meter string }{{"cons", prefix + "-CONS"}, {"pv", prefix + "-PV"}} {
		var b strings.Builder
		b.WriteString("meter_id,seq,start,end,energy_wh,register_wh,signature\n")
		var reg int64
		for h := 0; h < 24; h++ {
			t0 := time.Date(2023, 6, 1, h, 0, 0, 0, time.UTC)
			wh := int64(3_000_000)
			if m.name == "pv" {
				wh = int64(max(0, 12-abs(h-12))) * 200_000
			}
			reg += wh
			fmt.Fprintf(&b, "%s,%d,%s,%s,%d,%d,\n", m.meter, h+1, t0.Format(time.RFC3339), t0.Add(time.Hour).Format(time.RFC3339), wh, reg)
		}
		raw := filepath.Join(dir, m.name+".csv")
		if err := os.WriteFile(raw, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		signed := filepath.Join(dir, m.name+".signed.csv")
		mustRun("meter", "sign", "--key", filepath.Join(dir, m.name+".key"), "--in", raw, "--out", signed)
		files = append(files, signed)
	}
	return files
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
