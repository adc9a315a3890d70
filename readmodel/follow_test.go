package readmodel_test

import (
	"context"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/readmodel"
)

// background runs fn until the test's end or its stop, and returns the
// stop, which waits for fn.
func background(t *testing.T, fn func(context.Context) error) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	var err error
	stopped := false
	stop = func() error {
		if !stopped {
			cancel()
			err, stopped = <-done, true
		}
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// Two replicas on one database: the leader runs the projector, the
// follower follows. The follower's Checkpoint, Changed and WaitTx see the
// leader's new events (a projector that neither runs nor follows stays
// behind: what the gateway would cache stale answers by). When the leader
// goes, the follower runs the projector from where the leader left it:
// every ledger event recorded once, in order.
func TestFollowerSeesLeadersEvents(t *testing.T) {
	n := greenminttest.NewNetwork(t)
	f := runFlow(t, n)
	// The flow's flag freezes the batch; dismissed, its units move again.
	last, err := greenmint.SubmitJSON(context.Background(), n.Ledger, n.Registry, greenmint.TxResolveFlag,
		greenmint.ResolveFlagRequest{BatchID: f.BatchID, FlagID: f.Flag, Outcome: greenmint.FlagDismissed, Resolution: "meter data checked"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.Last = last
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			leader, err := readmodel.New(ctx, n.Ledger, db)
			if err != nil {
				t.Fatal(err)
			}
			follower, err := readmodel.New(ctx, n.Ledger, db)
			if err != nil {
				t.Fatal(err)
			}
			idle, err := readmodel.New(ctx, n.Ledger, db)
			if err != nil {
				t.Fatal(err)
			}
			stopLeader := background(t, leader.Run)
			stopFollower := background(t, follower.Follow)
			if err := follower.WaitTx(ctx, f.Last.TxID); err != nil {
				t.Fatalf("the follower's WaitTx(the flow's last) = %v", err)
			}
			if err := leader.WaitTx(ctx, f.Last.TxID); err != nil {
				t.Fatal(err)
			}

			// A new event: the follower is told and sees it.
			changed := follower.Changed()
			before := follower.Checkpoint()
			res, err := greenmint.SubmitJSON(ctx, n.Ledger, n.Buyer, greenmint.TxTransfer, greenmint.TransferRequest{BatchID: f.BatchID, To: n.Miner.MSPID, Quantity: 1}, nil)
			if err != nil {
				t.Fatal(err)
			}
			wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
			start := time.Now()
			err = follower.WaitTx(wctx, res.TxID)
			wcancel()
			if err != nil {
				t.Fatalf("the follower's WaitTx(a new transaction) = %v", err)
			}
			t.Logf("the follower saw the new event %s after it committed", time.Since(start))
			select {
			case <-changed:
			default:
				t.Fatal("the follower's Changed channel is not closed after the leader applied an event")
			}
			if err := leader.WaitTx(ctx, res.TxID); err != nil {
				t.Fatal(err)
			}
			if got, want := follower.Checkpoint(), leader.Checkpoint(); got != want || got == before || got.TxID != res.TxID {
				t.Fatalf("the follower's checkpoint = %+v, want the leader's %+v (before: %+v)", got, want, before)
			}
			if got := idle.Checkpoint(); got == leader.Checkpoint() {
				t.Fatalf("a projector that neither runs nor follows has the leader's checkpoint %+v", got)
			}

			// The leader goes; the follower takes over and runs.
			if err := stopLeader(); err != nil {
				t.Fatalf("the leader's Run = %v", err)
			}
			if err := stopFollower(); err != nil {
				t.Fatalf("Follow = %v", err)
			}
			res2, err := greenmint.SubmitJSON(ctx, n.Ledger, n.Buyer, greenmint.TxTransfer, greenmint.TransferRequest{BatchID: f.BatchID, To: n.Miner.MSPID, Quantity: 1}, nil)
			if err != nil {
				t.Fatal(err)
			}
			background(t, follower.Run)
			if err := follower.WaitTx(ctx, res2.TxID); err != nil {
				t.Fatalf("the new leader's WaitTx = %v", err)
			}
			if got := leader.Checkpoint(); got.TxID != res.TxID {
				t.Fatalf("the stopped leader's checkpoint = %+v, want its last %s", got, res.TxID)
			}
			checkEvents(t, n, db, res2.TxID)
			if diffs := mustReconcile(t, follower, n, res2.TxID); len(diffs) != 0 {
				t.Fatalf("Reconcile after the handover = %v", diffs)
			}
		})
	}
}
