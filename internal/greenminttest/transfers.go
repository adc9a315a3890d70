package greenminttest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/ledger/embedded"
)

// TransferNet is a network whose senders each hold units of one batch and
// whose receivers have accounts, so that clients never contend for a key.
type TransferNet struct {
	Ledger    *embedded.Ledger
	BatchID   string
	Senders   []*greenmint.Identity
	Receivers []*greenmint.Identity
	// Consortium holds every organisation's CA (senders' and receivers'
	// too), for tests that enroll more users.
	Consortium *consortium.Consortium
}

// NewTransferNet builds a TransferNet with the given number of clients.
func NewTransferNet(tb testing.TB, clients int) *TransferNet {
	tb.Helper()
	ctx := context.Background()
	members := append([]consortium.Member(nil), consortium.DemoMembers...)
	for i := 0; i < clients; i++ {
		members = append(members,
			consortium.Member{MSPID: fmt.Sprintf("Sender%03dMSP", i), User: "trader", Role: greenmint.RoleBuyer},
			consortium.Member{MSPID: fmt.Sprintf("Receiver%03dMSP", i), User: "trader", Role: greenmint.RoleBuyer})
	}
	l, c, err := CreateEmbeddedWith(tb.TempDir(), members, embedded.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	e, err := NewEnv(l, c)
	if err != nil {
		tb.Fatal(err)
	}
	if err := e.Bootstrap(ctx); err != nil {
		tb.Fatal(err)
	}
	site, err := e.RegisterSite(ctx, e.Miner, "SITE0001")
	if err != nil {
		tb.Fatal(err)
	}
	sa, err := e.Attest(site, greenmint.EAC, DemoWeek, OracleAID, OracleBID)
	if err != nil {
		tb.Fatal(err)
	}
	res, err := e.Mint(ctx, sa)
	if err != nil {
		tb.Fatal(err)
	}
	n := &TransferNet{Ledger: l, BatchID: res.BatchID, Consortium: c}
	for i := 0; i < clients; i++ {
		s, _ := c.Identity(fmt.Sprintf("Sender%03dMSP", i), "trader")
		r, _ := c.Identity(fmt.Sprintf("Receiver%03dMSP", i), "trader")
		for _, id := range []*greenmint.Identity{s, r} {
			if _, err := greenmint.SubmitJSON(ctx, l, id, greenmint.TxOpenAccount, greenmint.OpenAccountRequest{}, nil); err != nil {
				tb.Fatal(err)
			}
		}
		if _, err := greenmint.SubmitJSON(ctx, l, e.Miner, greenmint.TxTransfer, greenmint.TransferRequest{BatchID: res.BatchID, To: s.MSPID, Quantity: 100_000}, nil); err != nil {
			tb.Fatal(err)
		}
		n.Senders, n.Receivers = append(n.Senders, s), append(n.Receivers, r)
	}
	return n
}

// Run has every client transfer 1 unit to its receiver, perClient times,
// each waiting for its commit, and returns the wall time and failures.
func (n *TransferNet) Run(perClient int) (time.Duration, int64) {
	var wg sync.WaitGroup
	var failed atomic.Int64
	start := time.Now()
	for i := range n.Senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := greenmint.TransferRequest{BatchID: n.BatchID, To: n.Receivers[i].MSPID, Quantity: 1}
			for j := 0; j < perClient; j++ {
				if _, err := greenmint.SubmitJSON(context.Background(), n.Ledger, n.Senders[i], greenmint.TxTransfer, req, nil); err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start), failed.Load()
}
