package fabric_test

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/ledger/fabric"
	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

// benchClients is the number of concurrent clients of the Fabric load runs.
const benchClients = 48

func report(b *testing.B, name string, v float64, unit string) {
	b.ReportMetric(v, "BENCH:"+name+":"+unit)
}

// putOnly is the trivial chaincode the contract is compared with: one
// PutState per transaction, nothing else.
type putOnly struct{}

func (putOnly) Init(shim.ChaincodeStubInterface) *peer.Response { return shim.Success(nil) }
func (putOnly) Invoke(stub shim.ChaincodeStubInterface) *peer.Response {
	_, args := stub.GetFunctionAndParameters()
	if len(args) != 2 {
		return shim.Error("invalid: put key value")
	}
	if err := stub.PutState(args[0], []byte(args[1])); err != nil {
		return shim.Error(err.Error())
	}
	return shim.Success(nil)
}

// load runs clients concurrently, each calling op perClient times, and
// returns committed transactions per second.
func load(b *testing.B, clients, perClient int, op func(client, i int) error) float64 {
	var wg sync.WaitGroup
	var failed atomic.Int64
	var firstErr atomic.Value
	start := time.Now()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perClient; i++ {
				if err := op(c, i); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			}
		}()
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d operations failed, first: %v", f, firstErr.Load())
	}
	return float64(clients*perClient) / time.Since(start).Seconds()
}

// BenchmarkFabric measures, on the native two-organisation network (both
// peers endorse every transaction, one raft orderer, 20 ms batches):
// committed transfers per second with 48 clients (each moving units of its
// own batch from the miner to the buyer), the same load on a put-only
// chaincode (each client its own key), the p50 latency of one client's submits, and the
// latency of a 744-hour mint; and, in the same run, the embedded ledger's
// transfer throughput for the ratio.
func BenchmarkFabric(b *testing.B) {
	requireFabric(b)
	if len(network.Peers) == 0 {
		b.Skip("no network")
	}
	ctx := context.Background()
	e := freshEnv(b)
	if err := e.Bootstrap(ctx); err != nil {
		b.Fatal(err)
	}
	site, err := e.RegisterSite(ctx, e.Miner, "SITE0001")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := greenmint.SubmitJSON(ctx, e.Ledger, e.Buyer, greenmint.TxOpenAccount, greenmint.OpenAccountRequest{}, nil); err != nil {
		b.Fatal(err)
	}
	// One batch per client (noon of successive days), so that the clients'
	// transfers, all from the miner to the buyer, never touch the same key.
	batches := make([]string, benchClients)
	for i := range batches {
		noon := greenminttest.Period{Start: time.Date(2023, 5, 1, 12, 0, 0, 0, time.UTC).AddDate(0, 0, i), Hours: 1}
		sa, err := e.Attest(site, greenmint.EAC, noon, greenminttest.OracleAID, greenminttest.OracleBID)
		if err != nil {
			b.Fatal(err)
		}
		res, err := e.Mint(ctx, sa)
		if err != nil {
			b.Fatal(err)
		}
		batches[i] = res.BatchID
	}
	transfer := func(cl int) error {
		_, err := greenmint.SubmitJSON(ctx, e.Ledger, e.Miner, greenmint.TxTransfer, greenmint.TransferRequest{BatchID: batches[cl], To: e.Buyer.MSPID, Quantity: 1}, nil)
		return err
	}

	// The trivial chaincode, served from this process.
	putAddr := fmt.Sprintf("127.0.0.1:%d", port(network.ChaincodeAddress)+10)
	putID, err := network.InstallCCaaS(ctx, "putonly_1", putAddr)
	if err != nil {
		b.Fatal(err)
	}
	go func() {
		_ = (&shim.ChaincodeServer{CCID: putID, Address: putAddr, CC: putOnly{}, TLSProps: shim.TLSProperties{Disabled: true}}).Start()
	}()
	putName := fmt.Sprintf("putonly%d", deployed.Add(1))
	if err := network.DeployPackage(ctx, putName, putID); err != nil {
		b.Fatal(err)
	}
	put, err := fabric.Open(network.Connection(putName), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer put.Close()
	for i := 0; ; i++ {
		if _, err := put.Submit(ctx, e.Miner, "put", "warmup", "x"); err == nil {
			break
		} else if i > 100 {
			b.Fatalf("put-only chaincode does not serve: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	const perClient = 40
	b.ResetTimer()
	transferTPS := load(b, benchClients, perClient, func(cl, i int) error { return transfer(cl) })
	putTPS := load(b, benchClients, perClient, func(cl, i int) error {
		_, err := put.Submit(ctx, e.Miner, "put", fmt.Sprintf("k%03d", cl), fmt.Sprintf("v%d", i))
		return err
	})
	var lat []time.Duration
	for i := 0; i < 60; i++ {
		t0 := time.Now()
		if err := transfer(0); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	var mints []time.Duration
	for i := 0; i < 3; i++ {
		s, err := e.RegisterSite(ctx, e.Miner, fmt.Sprintf("SITE%04d", 100+i))
		if err != nil {
			b.Fatal(err)
		}
		sa, err := e.Attest(s, greenmint.CO2E, greenminttest.Period{Start: time.Date(2023, 7, 1, 0, 0, 0, 0, time.UTC), Hours: 744}, greenminttest.OracleAID, greenminttest.OracleBID)
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		if _, err := e.Mint(ctx, sa); err != nil {
			b.Fatal(err)
		}
		mints = append(mints, time.Since(t0))
	}
	sort.Slice(mints, func(i, j int) bool { return mints[i] < mints[j] })
	b.StopTimer()

	embeddedTPS := embeddedTransferTPS(b)
	report(b, "fabric_transfer_tps", transferTPS, "tx/s")
	report(b, "fabric_putonly_tps", putTPS, "tx/s")
	report(b, "fabric_transfer_vs_putonly_pct", 100*transferTPS/putTPS, "%")
	report(b, "fabric_submit_p50_ms", float64(lat[len(lat)/2].Microseconds())/1000, "ms")
	report(b, "fabric_mint_744h_ms", float64(mints[len(mints)/2].Microseconds())/1000, "ms")
	report(b, "embedded_transfer_tps_same_run", embeddedTPS, "tx/s")
	report(b, "embedded_vs_fabric_transfer_ratio", embeddedTPS/transferTPS, "x")
}

// embeddedTransferTPS runs the embedded ledger's transfer load (128
// clients, the load of BenchmarkEmbeddedTransfer) in the same process, for
// the ratio.
func embeddedTransferTPS(b *testing.B) float64 {
	const clients, perClient = 128, 100
	n := greenminttest.NewTransferNet(b, clients)
	elapsed, failed := n.Run(perClient)
	if failed > 0 {
		b.Fatalf("%d embedded transfers failed", failed)
	}
	return float64(clients*perClient) / elapsed.Seconds()
}

func port(addr string) int {
	_, p, _ := strings.Cut(addr, ":")
	v, _ := strconv.Atoi(p)
	return v
}
