// Package greenminttest holds what several packages' tests share: the
// conformance suite that every adapter of the greenmint.Ledger port must
// pass: ledger/embedded in every test run, ledger/fabric
// (TestFabricLedgerConformance) whenever FABRIC_BIN or GREENMINT_FABRIC_DIR
// gives its tests a Fabric network, as `make test-fabric` does. It also
// holds the demo consortium's identities on a ledger (Env) with virtual
// sites and reference attestations, a bootstrapped network (Network,
// TransferNet) and the oracle's databases (StoreDBs).
package greenminttest

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/consortium"
)

// StartEnv starts a fresh ledger running the Greenmint contract with the
// demo consortium's identities, not yet bootstrapped.
type StartEnv func(t *testing.T) *Env

// RunLedgerConformance runs the Ledger conformance suite against the
// adapter that newEnv starts.
func RunLedgerConformance(t *testing.T, newEnv StartEnv) {
	ctx := context.Background()

	t.Run("SubmitThenEvaluate", func(t *testing.T) {
		e := newEnv(t)
		res, err := greenmint.SubmitJSON(ctx, e.Ledger, e.Registry, greenmint.TxBootstrap, greenmint.PolicyRequest{Threshold: 2, ToleranceBP: 100}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.TxID == "" || res.BlockNumber == 0 {
			t.Fatalf("Submit result = %+v, want a tx ID and a block number", res)
		}
		var p greenmint.Policy
		if err := greenmint.EvaluateJSON(ctx, e.Ledger, e.Buyer, greenmint.QueryGetPolicy, struct{}{}, &p); err != nil {
			t.Fatal(err)
		}
		if p.RegistryMSP != e.Registry.MSPID || p.Threshold != 2 || p.ToleranceBP != 100 {
			t.Fatalf("policy = %+v", p)
		}
	})

	t.Run("ErrorCodesSurvive", func(t *testing.T) {
		e := newEnv(t)
		if err := e.Bootstrap(ctx); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name string
			call func() error
			code string
		}{
			{"conflict", func() error {
				_, err := greenmint.SubmitJSON(ctx, e.Ledger, e.Registry, greenmint.TxBootstrap, greenmint.PolicyRequest{Threshold: 1}, nil)
				return err
			}, greenmint.ECONFLICT},
			{"not found", func() error {
				return greenmint.EvaluateJSON(ctx, e.Ledger, e.Buyer, greenmint.QueryGetBatch, greenmint.IDQuery{ID: "nope"}, new(greenmint.Batch))
			}, greenmint.ENOTFOUND},
			{"invalid", func() error {
				_, err := e.Ledger.Submit(ctx, e.Miner, greenmint.TxRegisterSite, "{not json")
				return err
			}, greenmint.EINVALID},
			{"forbidden", func() error {
				_, err := greenmint.SubmitJSON(ctx, e.Ledger, e.Buyer, greenmint.TxSetPolicy, greenmint.PolicyRequest{Threshold: 1}, nil)
				return err
			}, greenmint.EFORBIDDEN},
			{"unauthenticated", func() error {
				c, err := consortium.Create(filepath.Join(t.TempDir(), "other"), []consortium.Member{{MSPID: e.Buyer.MSPID, User: "x", Role: greenmint.RoleBuyer}})
				if err != nil {
					t.Fatal(err)
				}
				id, _ := c.Identity(e.Buyer.MSPID, "x")
				_, err = greenmint.SubmitJSON(ctx, e.Ledger, id, greenmint.TxOpenAccount, greenmint.OpenAccountRequest{}, nil)
				return err
			}, greenmint.EUNAUTHENTICATED},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				err := tc.call()
				if got := greenmint.ErrorCode(err); got != tc.code {
					t.Fatalf("code = %q (%v), want %q", got, err, tc.code)
				}
				var ge *greenmint.Error
				if !errors.As(err, &ge) || ge.Message == "" {
					t.Fatalf("error %v carries no message", err)
				}
			})
		}
	})

	t.Run("EvaluateCommitsNothing", func(t *testing.T) {
		e := newEnv(t)
		if err := e.Bootstrap(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Ledger.Evaluate(ctx, e.Miner, greenmint.TxOpenAccount, "{}"); err != nil {
			t.Fatal(err)
		}
		err := greenmint.EvaluateJSON(ctx, e.Ledger, e.Miner, greenmint.QueryGetAccount, greenmint.IDQuery{ID: e.Miner.MSPID}, new(greenmint.Account))
		if greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
			t.Fatalf("account after an evaluated OpenAccount: %v, want not_found", err)
		}
	})

	t.Run("EventsFromCheckpoint", func(t *testing.T) {
		e := newEnv(t)
		if err := e.Bootstrap(ctx); err != nil {
			t.Fatal(err)
		}
		var results []*greenmint.TxResult
		for _, id := range []*greenmint.Identity{e.Miner, e.Miner2, e.Buyer} {
			res, err := greenmint.SubmitJSON(ctx, e.Ledger, id, greenmint.TxOpenAccount, greenmint.OpenAccountRequest{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			results = append(results, res)
		}
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		ch, err := e.Ledger.Events(cctx, results[1].BlockNumber)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range results[1:] {
			ev, ok := <-ch
			if !ok {
				t.Fatal("event stream ended early")
			}
			if ev.TxID != want.TxID || ev.BlockNumber != want.BlockNumber || ev.Name != greenmint.TxOpenAccount {
				t.Fatalf("event = %s %s in block %d, want %s in block %d", ev.Name, ev.TxID, ev.BlockNumber, want.TxID, want.BlockNumber)
			}
		}
		live, err := greenmint.SubmitJSON(ctx, e.Ledger, e.Registry, greenmint.TxSetPolicy, greenmint.PolicyRequest{Threshold: 2, ToleranceBP: 0}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if ev := <-ch; ev.TxID != live.TxID || ev.Name != greenmint.TxSetPolicy {
			t.Fatalf("live event = %s %s, want SetPolicy %s", ev.Name, ev.TxID, live.TxID)
		}
	})

	t.Run("ConcurrentConflictsAreConflicts", func(t *testing.T) {
		e := newEnv(t)
		if err := e.Bootstrap(ctx); err != nil {
			t.Fatal(err)
		}
		site, err := e.RegisterSite(ctx, e.Miner, "SITE0001")
		if err != nil {
			t.Fatal(err)
		}
		sa, err := e.Attest(site, greenmint.EAC, Period{Start: DemoWeek.Start, Hours: 24}, OracleAID, OracleBID)
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.Mint(ctx, sa)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := greenmint.SubmitJSON(ctx, e.Ledger, e.Buyer, greenmint.TxOpenAccount, greenmint.OpenAccountRequest{}, nil); err != nil {
			t.Fatal(err)
		}
		const n = 16
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = greenmint.SubmitJSON(ctx, e.Ledger, e.Miner, greenmint.TxTransfer, greenmint.TransferRequest{BatchID: res.BatchID, To: e.Buyer.MSPID, Quantity: 1000}, nil)
			}()
		}
		wg.Wait()
		var ok int64
		for _, err := range errs {
			switch greenmint.ErrorCode(err) {
			case "":
				ok++
			case greenmint.ECONFLICT:
			default:
				t.Fatalf("concurrent transfer failed with %+v, want success or conflict", err)
			}
		}
		var page greenmint.HoldingsPage
		if err := greenmint.EvaluateJSON(ctx, e.Ledger, e.Buyer, greenmint.QueryHoldingsByOwner, greenmint.PageQuery{Owner: e.Buyer.MSPID}, &page); err != nil {
			t.Fatal(err)
		}
		if ok == 0 || len(page.Holdings) != 1 || page.Holdings[0].Tradable != ok*1000 {
			t.Fatalf("%d transfers succeeded but the buyer holds %+v", ok, page.Holdings)
		}
	})

	t.Run("ConflictsRetried", func(t *testing.T) { conflictsRetried(t, newEnv) })

	t.Run("CancelledContext", func(t *testing.T) {
		e := newEnv(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := e.Ledger.Submit(cctx, e.Registry, greenmint.TxBootstrap, `{"threshold":1}`)
		if greenmint.ErrorCode(err) != greenmint.EUNAVAILABLE {
			t.Fatalf("submit with a cancelled context = %v, want unavailable", err)
		}
	})
}
