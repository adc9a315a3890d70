package embedded_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/ledger/embedded"
	"github.com/hyperledger/fabric-chaincode-go/v2/pkg/cid"
	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

// kv is a small chaincode that exercises the stub directly, so these tests
// pin down the ledger's own semantics; the real contract runs on the same
// ledger in package chaincode's tests.
type kv struct{}

func (kv) Init(shim.ChaincodeStubInterface) *peer.Response { return shim.Success(nil) }

func (kv) Invoke(stub shim.ChaincodeStubInterface) *peer.Response {
	fn, args := stub.GetFunctionAndParameters()
	switch fn {
	case "put": // put key value
		if err := stub.PutState(args[0], []byte(args[1])); err != nil {
			return shim.Error("invalid: " + err.Error())
		}
		_ = stub.SetEvent("put", []byte(args[0]))
		return shim.Success(nil)
	case "get":
		v, err := stub.GetState(args[0])
		if err != nil {
			return shim.Error(err.Error())
		}
		return shim.Success(v)
	case "del":
		if err := stub.DelState(args[0]); err != nil {
			return shim.Error(err.Error())
		}
		return shim.Success(nil)
	case "incr": // read-modify-write of a counter
		v, _ := stub.GetState(args[0])
		n, _ := strconv.Atoi(string(v))
		if err := stub.PutState(args[0], []byte(strconv.Itoa(n+1))); err != nil {
			return shim.Error(err.Error())
		}
		return shim.Success([]byte(strconv.Itoa(n + 1)))
	case "own": // reads its own write: Fabric returns the committed value
		if err := stub.PutState(args[0], []byte("new")); err != nil {
			return shim.Error(err.Error())
		}
		v, _ := stub.GetState(args[0])
		return shim.Success(v)
	case "cput": // composite put: type attr value
		k, err := stub.CreateCompositeKey(args[0], []string{args[1]})
		if err != nil {
			return shim.Error("invalid: " + err.Error())
		}
		if err := stub.PutState(k, []byte(args[2])); err != nil {
			return shim.Error(err.Error())
		}
		return shim.Success(nil)
	case "count": // counts keys of a composite type, then writes the count
		it, err := stub.GetStateByPartialCompositeKey(args[0], nil)
		if err != nil {
			return shim.Error(err.Error())
		}
		n := 0
		for it.HasNext() {
			if _, err := it.Next(); err != nil {
				return shim.Error(err.Error())
			}
			n++
		}
		it.Close()
		if err := stub.PutState("count-"+args[0], []byte(strconv.Itoa(n))); err != nil {
			return shim.Error(err.Error())
		}
		return shim.Success([]byte(strconv.Itoa(n)))
	case "page": // type pagesize bookmark → {"keys":[...],"bookmark":""}
		size, _ := strconv.Atoi(args[1])
		it, meta, err := stub.GetStateByPartialCompositeKeyWithPagination(args[0], nil, int32(size), args[2])
		if err != nil {
			return shim.Error("invalid: " + err.Error())
		}
		var out struct {
			Keys     []string `json:"keys"`
			Bookmark string   `json:"bookmark"`
		}
		for it.HasNext() {
			r, _ := it.Next()
			_, attrs, _ := stub.SplitCompositeKey(r.Key)
			out.Keys = append(out.Keys, attrs[0])
		}
		out.Bookmark = meta.Bookmark
		b, _ := json.Marshal(out)
		return shim.Success(b)
	case "pagewrite":
		if _, _, err := stub.GetStateByPartialCompositeKeyWithPagination(args[0], nil, 10, ""); err != nil {
			return shim.Error(err.Error())
		}
		if err := stub.PutState("after-page", []byte("x")); err != nil {
			return shim.Error(err.Error())
		}
		return shim.Success(nil)
	case "history":
		it, err := stub.GetHistoryForKey(args[0])
		if err != nil {
			return shim.Error(err.Error())
		}
		var vals []string
		for it.HasNext() {
			m, _ := it.Next()
			if m.IsDelete {
				vals = append(vals, "<deleted>")
			} else {
				vals = append(vals, string(m.Value))
			}
		}
		b, _ := json.Marshal(vals)
		return shim.Success(b)
	case "whoami":
		msp, err := cid.GetMSPID(stub)
		if err != nil {
			return shim.Error(err.Error())
		}
		role, _, _ := cid.GetAttributeValue(stub, greenmint.RoleAttribute)
		return shim.Success([]byte(msp + "/" + role))
	}
	return shim.Error("invalid: unknown function " + fn)
}

type kvNet struct {
	dir    string
	ledger *embedded.Ledger
	alice  *greenmint.Identity // miner
	bob    *greenmint.Identity // buyer
	c      *consortium.Consortium
}

func newKV(tb testing.TB) *kvNet {
	tb.Helper()
	return newKVWith(tb, kv{}, embedded.Options{})
}

// newKVWith is newKV with another chaincode and options.
func newKVWith(tb testing.TB, cc shim.Chaincode, opts embedded.Options) *kvNet {
	tb.Helper()
	dir := tb.TempDir()
	c, err := consortium.Create(filepath.Join(dir, "orgs"), []consortium.Member{
		{MSPID: "AliceMSP", User: "alice", Role: greenmint.RoleMiner},
		{MSPID: "BobMSP", User: "bob", Role: greenmint.RoleBuyer},
	})
	if err != nil {
		tb.Fatal(err)
	}
	orgs, err := c.Orgs()
	if err != nil {
		tb.Fatal(err)
	}
	cfg := embedded.ChannelConfig{ChannelID: "test", Chaincode: "kv"}
	for _, o := range orgs {
		cfg.Orgs = append(cfg.Orgs, embedded.OrgConfig{MSPID: o.MSPID, RootCertPEM: o.RootCertPEM})
	}
	ldir := filepath.Join(dir, "ledger")
	if err := embedded.Create(ldir, cfg); err != nil {
		tb.Fatal(err)
	}
	l, err := embedded.Open(ldir, cc, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	alice, _ := c.Identity("AliceMSP", "alice")
	bob, _ := c.Identity("BobMSP", "bob")
	return &kvNet{dir: ldir, ledger: l, alice: alice, bob: bob, c: c}
}

func (n *kvNet) submit(tb testing.TB, fn string, args ...string) *greenmint.TxResult {
	tb.Helper()
	res, err := n.ledger.Submit(context.Background(), n.alice, fn, args...)
	if err != nil {
		tb.Fatalf("%s %v: %v", fn, args, err)
	}
	return res
}

func (n *kvNet) eval(tb testing.TB, fn string, args ...string) string {
	tb.Helper()
	out, err := n.ledger.Evaluate(context.Background(), n.alice, fn, args...)
	if err != nil {
		tb.Fatalf("%s %v: %v", fn, args, err)
	}
	return string(out)
}

func TestCreatorAndRole(t *testing.T) {
	n := newKV(t)
	if got := n.eval(t, "whoami"); got != "AliceMSP/miner" {
		t.Fatalf("whoami = %q, want AliceMSP/miner", got)
	}
}

func TestReadsDoNotSeeOwnWrites(t *testing.T) {
	n := newKV(t)
	n.submit(t, "put", "k", "old")
	if got := n.submit(t, "own", "k"); string(got.Payload) != "old" {
		t.Fatalf("own write read back %q, want the committed %q", got.Payload, "old")
	}
	if got := n.eval(t, "get", "k"); got != "new" {
		t.Fatalf("after commit get = %q, want new", got)
	}
}

func TestMVCCConflict(t *testing.T) {
	n := newKV(t)
	ctx := context.Background()
	n.submit(t, "put", "ctr", "0")
	var txs []*embedded.Transaction
	for i := 0; i < 2; i++ {
		sp, err := embedded.NewSignedProposal(n.alice, "test", "kv", "incr", []string{"ctr"}, testNow())
		if err != nil {
			t.Fatal(err)
		}
		tx, err := n.ledger.Endorse(ctx, sp)
		if err != nil {
			t.Fatal(err)
		}
		txs = append(txs, tx)
	}
	if _, err := n.ledger.Commit(ctx, txs[0]); err != nil {
		t.Fatal(err)
	}
	_, err := n.ledger.Commit(ctx, txs[1])
	if greenmint.ErrorCode(err) != greenmint.ECONFLICT || !greenmint.IsRetryable(err) {
		t.Fatalf("second commit of a stale read = %v (retryable %v), want a retryable conflict", err, greenmint.IsRetryable(err))
	}
	if got := n.eval(t, "get", "ctr"); got != "1" {
		t.Fatalf("counter = %s, want 1", got)
	}
	stored, _, err := n.ledger.Transaction(txs[1].TxID)
	if err != nil || stored.Validation != embedded.TxMVCCReadConflict {
		t.Fatalf("stored invalid tx = %+v, %v", stored, err)
	}
	// Resubmitting the same transaction ID is refused.
	if _, err := n.ledger.Commit(ctx, txs[0]); greenmint.ErrorCode(err) != greenmint.ECONFLICT || greenmint.IsRetryable(err) {
		t.Fatalf("duplicate tx ID = %v, want a conflict that is not retryable", err)
	}
}

func TestPhantomRead(t *testing.T) {
	n := newKV(t)
	ctx := context.Background()
	n.submit(t, "cput", "item", "a", "1")
	sp, _ := embedded.NewSignedProposal(n.alice, "test", "kv", "count", []string{"item"}, testNow())
	tx, err := n.ledger.Endorse(ctx, sp)
	if err != nil {
		t.Fatal(err)
	}
	n.submit(t, "cput", "item", "b", "2") // a new key in the counted range
	if _, err := n.ledger.Commit(ctx, tx); greenmint.ErrorCode(err) != greenmint.ECONFLICT || !greenmint.IsRetryable(err) {
		t.Fatalf("commit after a phantom = %v, want a retryable conflict", err)
	}
	stored, _, _ := n.ledger.Transaction(tx.TxID)
	if stored.Validation != embedded.TxPhantomReadConflict {
		t.Fatalf("validation = %s", stored.Validation)
	}
}

func TestPaginationAndHistory(t *testing.T) {
	n := newKV(t)
	for i := 0; i < 7; i++ {
		n.submit(t, "cput", "h", fmt.Sprintf("k%02d", i), "v")
	}
	var keys []string
	bookmark := ""
	pages := 0
	for {
		var page struct {
			Keys     []string `json:"keys"`
			Bookmark string   `json:"bookmark"`
		}
		if err := json.Unmarshal([]byte(n.eval(t, "page", "h", "3", bookmark)), &page); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, page.Keys...)
		pages++
		if page.Bookmark == "" {
			break
		}
		bookmark = page.Bookmark
	}
	if len(keys) != 7 || pages != 3 || keys[6] != "k06" {
		t.Fatalf("pages = %d, keys = %v", pages, keys)
	}
	// Fabric allows paginated queries only in read-only transactions.
	if _, err := n.ledger.Submit(context.Background(), n.alice, "page", "h", "3", ""); err != nil {
		t.Fatalf("a paginated query that writes nothing may be submitted: %v", err)
	}
	if _, err := n.ledger.Submit(context.Background(), n.alice, "pagewrite", "h"); greenmint.ErrorCode(err) != greenmint.EINVALID {
		t.Fatalf("paginated query in a writing transaction = %v, want invalid", err)
	}
	n.submit(t, "put", "x", "1")
	n.submit(t, "put", "x", "2")
	n.submit(t, "del", "x")
	n.submit(t, "put", "x", "3")
	if got := n.eval(t, "history", "x"); got != `["1","2","\u003cdeleted\u003e","3"]` {
		t.Fatalf("history = %s", got)
	}
}

func TestEventsResumeFromCheckpoint(t *testing.T) {
	n := newKV(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var blocks []uint64
	for i := 0; i < 5; i++ {
		blocks = append(blocks, n.submit(t, "put", fmt.Sprintf("e%d", i), "v").BlockNumber)
	}
	ch, err := n.ledger.Events(ctx, blocks[2])
	if err != nil {
		t.Fatal(err)
	}
	for i := 2; i < 5; i++ {
		ev := <-ch
		if string(ev.Payload) != fmt.Sprintf("e%d", i) || ev.BlockNumber != blocks[i] {
			t.Fatalf("event %d = %s in block %d", i, ev.Payload, ev.BlockNumber)
		}
	}
}

func TestRefusesBadProposals(t *testing.T) {
	n := newKV(t)
	ctx := context.Background()
	good, _ := embedded.NewSignedProposal(n.alice, "test", "kv", "put", []string{"k", "v"}, testNow())
	tests := []struct {
		name string
		sp   *embedded.SignedProposal
		code string
	}{
		{"no proposal", nil, greenmint.EUNAUTHENTICATED},
		{"unsigned", &embedded.SignedProposal{Proposal: good.Proposal}, greenmint.EUNAUTHENTICATED},
		{"signature of other bytes", &embedded.SignedProposal{Proposal: append([]byte(nil), good.Proposal...), Signature: func() []byte {
			other, _ := embedded.NewSignedProposal(n.alice, "test", "kv", "put", []string{"k", "w"}, testNow())
			return other.Signature
		}()}, greenmint.EUNAUTHENTICATED},
		{"garbage", &embedded.SignedProposal{Proposal: []byte("{"), Signature: good.Signature}, greenmint.EUNAUTHENTICATED},
		{"other channel", func() *embedded.SignedProposal {
			sp, _ := embedded.NewSignedProposal(n.alice, "elsewhere", "kv", "put", []string{"k", "v"}, testNow())
			return sp
		}(), greenmint.ENOTFOUND},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := n.ledger.Endorse(ctx, tc.sp)
			if got := greenmint.ErrorCode(err); got != tc.code {
				t.Fatalf("Endorse = %v, want %s", err, tc.code)
			}
		})
	}
}
