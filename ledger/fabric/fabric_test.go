package fabric_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/chaincode"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/demo"
	"github.com/greenmint/greenmint/fabricnet"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/ledger/fabric"
	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
)

// network is the Fabric network the tests run on: the one GREENMINT_FABRIC_DIR
// names (make test-fabric starts it), or one this test binary starts when
// FABRIC_BIN is set, serving the contract in-process. Without either the
// tests skip and say why.
var (
	network  *fabricnet.Network
	skipWhy  string
	deployed atomic.Int64
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	ctx := context.Background()
	if dir := os.Getenv("GREENMINT_FABRIC_DIR"); dir != "" {
		n, err := fabricnet.Load(dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		network = n
		return m.Run()
	}
	bin := os.Getenv("FABRIC_BIN")
	if bin == "" {
		skipWhy = "FABRIC_BIN is not set: point it at the bin directory of a Fabric v3.1 release (peer, orderer, configtxgen, osnadmin) to run the Fabric tests"
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "greenmint-fabric-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	n, err := fabricnet.Up(ctx, fabricnet.Options{FabricBin: bin, FabricCfg: os.Getenv("FABRIC_CFG_PATH"), Dir: filepath.Join(dir, "net"), BasePort: 37050, Log: os.Stderr})
	defer fabricnet.Down(filepath.Join(dir, "net"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "fabric network:", err)
		return 1
	}
	cc, err := chaincode.New(chaincode.Config{RegistryMSP: fabricnet.RegistryMSP})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv := &shim.ChaincodeServer{CCID: n.PackageID, Address: n.ChaincodeAddress, CC: cc, TLSProps: shim.TLSProperties{Disabled: true}}
	go func() { _ = srv.Start() }()
	if err := n.WaitServing(ctx, "greenmint"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	network = n
	return m.Run()
}

func requireFabric(tb testing.TB) {
	tb.Helper()
	if network == nil {
		tb.Skip(skipWhy)
	}
}

// freshEnv deploys a new chaincode name (a fresh namespace of world state,
// served by the same chaincode) and returns the demo identities on it.
func freshEnv(tb testing.TB) *greenminttest.Env {
	tb.Helper()
	requireFabric(tb)
	ctx := context.Background()
	name := fmt.Sprintf("gm%d-%d", os.Getpid(), deployed.Add(1))
	network.SetLog(io.Discard)
	if err := network.Deploy(ctx, name); err != nil {
		tb.Fatal(err)
	}
	if err := network.WaitServing(ctx, name); err != nil {
		tb.Fatal(err)
	}
	c, err := consortium.Load(network.OrgsDir())
	if err != nil {
		tb.Fatal(err)
	}
	conn := network.Connection(name)
	events, err := c.Identity(conn.EventsMSPID, conn.EventsUser)
	if err != nil {
		tb.Fatal(err)
	}
	l, err := fabric.Open(conn, events)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	e, err := greenminttest.NewEnv(l, c)
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

func TestFabricLedgerConformance(t *testing.T) {
	requireFabric(t)
	greenminttest.RunLedgerConformance(t, func(t *testing.T) *greenminttest.Env { return freshEnv(t) })
}

// TestFabricScenario runs the demo's story on Fabric, then attacks access
// control and double counting; every refusal must carry the same code as
// on the embedded ledger.
func TestFabricScenario(t *testing.T) {
	e := freshEnv(t)
	ctx := context.Background()
	if err := demo.Run(ctx, e.Workspace, io.Discard); err != nil {
		t.Fatal(err)
	}
	// The demo bootstrapped the ledger; this keeps what is there and gives
	// the fixture the dataset it published.
	if err := e.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	site, err := e.RegisterSite(ctx, e.Miner, "SITE0100")
	if err != nil {
		t.Fatal(err)
	}
	week := greenminttest.Period{Start: greenminttest.DemoWeek.Start, Hours: 48}
	sa, err := e.Attest(site, greenmint.EAC, week, greenminttest.OracleAID, greenminttest.OracleBID)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Mint(ctx, sa)
	if err != nil {
		t.Fatal(err)
	}
	overlap, _ := e.Attest(site, greenmint.CO2E, greenminttest.Period{Start: week.Start.Add(24 * 3600e9), Hours: 48}, greenminttest.OracleAID, greenminttest.OracleBID)
	oneSig, _ := e.Attest(site, greenmint.EAC, greenminttest.Period{Start: week.Start.Add((30*24 + 10) * 3600e9), Hours: 2}, greenminttest.OracleAID)
	tests := []struct {
		name string
		call func() error
		code string
	}{
		{"overlapping site-hours (R1)", func() error { _, err := e.Mint(ctx, overlap); return err }, greenmint.ECONFLICT},
		{"one oracle signature (R5)", func() error { _, err := e.Mint(ctx, oneSig); return err }, greenmint.EFORBIDDEN},
		{"meter on another organisation's site", func() error {
			_, err := greenmint.SubmitJSON(ctx, e.Ledger, e.Miner2, greenmint.TxRegisterMeter, greenmint.RegisterMeterRequest{MeterID: "X", SiteID: site.ID, Kind: greenmint.MeterConsumption, CapacityW: 1, IntervalMinutes: 60, PublicKey: make([]byte, 32)}, nil)
			return err
		}, greenmint.EFORBIDDEN},
		{"approval by a miner", func() error {
			_, err := greenmint.SubmitJSON(ctx, e.Ledger, e.Miner, greenmint.TxApproveSite, greenmint.StatusRequest{ID: site.ID}, nil)
			return err
		}, greenmint.EFORBIDDEN},
		{"transfer beyond the holding", func() error {
			_, err := greenmint.SubmitJSON(ctx, e.Ledger, e.Miner, greenmint.TxTransfer, greenmint.TransferRequest{BatchID: res.BatchID, To: e.Buyer.MSPID, Quantity: res.Quantity + 1}, nil)
			return err
		}, greenmint.ECONFLICT},
		{"malformed request", func() error { _, err := e.Ledger.Submit(ctx, e.Miner, greenmint.TxTransfer, "{"); return err }, greenmint.EINVALID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if got := greenmint.ErrorCode(err); got != tc.code {
				t.Fatalf("code = %q (%v), want %q", got, err, tc.code)
			}
		})
	}
	var b greenmint.Batch
	if err := greenmint.EvaluateJSON(ctx, e.Ledger, e.Auditor, greenmint.QueryGetBatch, greenmint.IDQuery{ID: res.BatchID}, &b); err != nil {
		t.Fatal(err)
	}
	if err := greenmint.CheckBatchSupply(&b); err != nil || b.Issued != res.Quantity {
		t.Fatalf("batch after the attacks = %+v (%v)", b, err)
	}
}

func TestConnectionFile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, body string
		code       string
	}{
		{"valid", `{"peer_endpoint":"127.0.0.1:7051","tls_root_cert":"ca.pem","channel":"c","chaincode":"cc","identities":"orgs"}`, ""},
		{"missing endpoint", `{"tls_root_cert":"ca.pem","channel":"c","chaincode":"cc"}`, greenmint.EINVALID},
		{"unknown field", `{"peer_endpoint":"x","tls_root_cert":"ca.pem","channel":"c","chaincode":"cc","pasword":"x"}`, greenmint.EINVALID},
		{"malformed", `{"peer_endpoint":`, greenmint.EINVALID},
		{"negative lag wait", `{"peer_endpoint":"x","tls_root_cert":"ca.pem","channel":"c","chaincode":"cc","lag_wait_seconds":-1}`, greenmint.EINVALID},
		{"negative conflict retry", `{"peer_endpoint":"x","tls_root_cert":"ca.pem","channel":"c","chaincode":"cc","conflict_retry":-1}`, greenmint.EINVALID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name+".json")
			if err := os.WriteFile(p, []byte(tc.body), 0o644); err != nil {
				t.Fatal(err)
			}
			c, err := fabric.LoadConnection(p)
			if got := greenmint.ErrorCode(err); got != tc.code {
				t.Fatalf("LoadConnection = %v, want code %q", err, tc.code)
			}
			if err == nil && (c.TLSRootCert != filepath.Join(dir, "ca.pem") || c.ConflictRetry != greenmint.DefaultRetryPolicy().Attempts-1 || c.LagWaitSeconds != 10) {
				t.Fatalf("relative paths and defaults not applied: %+v", c)
			}
		})
	}
	if _, err := fabric.LoadConnection(filepath.Join(dir, "absent.json")); greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
		t.Fatalf("missing file = %v", err)
	}
	if _, err := fabric.Open(fabric.Connection{PeerEndpoint: "x:1", TLSRootCert: filepath.Join(dir, "none.pem"), Channel: "c", Chaincode: "cc"}, nil); greenmint.ErrorCode(err) != greenmint.EINVALID {
		t.Fatalf("missing TLS root = %v", err)
	}
}

// TestFabricEventsSurvivePeerRestart kills the gateway peer while a
// listener is subscribed: the listener reconnects by itself, resumes from
// its last block and delivers every later event exactly once.
func TestFabricEventsSurvivePeerRestart(t *testing.T) {
	e := freshEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := e.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	first, err := greenmint.SubmitJSON(ctx, e.Ledger, e.Miner, greenmint.TxOpenAccount, greenmint.OpenAccountRequest{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := e.Ledger.Events(ctx, first.BlockNumber)
	if err != nil {
		t.Fatal(err)
	}
	if ev := <-ch; ev.TxID != first.TxID {
		t.Fatalf("first event = %s, want %s", ev.TxID, first.TxID)
	}
	if err := network.RestartPeer(ctx, fabricnet.PeerOrgs[0]); err != nil {
		t.Fatal(err)
	}
	var later []string
	for _, id := range []*greenmint.Identity{e.Miner2, e.Buyer} {
		var res *greenmint.TxResult
		for i := 0; ; i++ { // the restarted gateway peer needs a moment to rejoin
			if res, err = greenmint.SubmitJSON(ctx, e.Ledger, id, greenmint.TxOpenAccount, greenmint.OpenAccountRequest{}, nil); err == nil {
				break
			}
			if i > 100 {
				t.Fatalf("no submit after the restart: %v", err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		later = append(later, res.TxID)
	}
	for _, want := range later {
		select {
		case ev := <-ch:
			if ev.TxID != want {
				t.Fatalf("event after the restart = %s (%s), want %s", ev.TxID, ev.Name, want)
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("no event for %s after the peer restarted", want)
		}
	}
}
