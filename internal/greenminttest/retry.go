package greenminttest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/greenmint/greenmint"
)

// conflictsRetried holds an adapter to the shared retry policy
// (greenmint.RetryPolicy): concurrent transfers out of one holding, which
// the contract accepts in any order, conflict with each other at commit
// (MVCC); each ends committed, or, only when the policy's attempts ran
// out, with a retryable conflict that says so. An adapter that answers
// such a conflict without retrying, or passes on a retryable error that
// is not marked exhausted, fails.
func conflictsRetried(t *testing.T, newEnv StartEnv) {
	ctx := context.Background()
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
	const n, each = 12, 1000
	if res.Quantity < n*each {
		t.Fatalf("minted %d units, need %d", res.Quantity, n*each)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = greenmint.SubmitJSON(ctx, e.Ledger, e.Miner, greenmint.TxTransfer, greenmint.TransferRequest{BatchID: res.BatchID, To: e.Buyer.MSPID, Quantity: each}, nil)
		}()
	}
	wg.Wait()
	var ok, exhausted int64
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, greenmint.ErrRetriesExhausted):
			if greenmint.ErrorCode(err) != greenmint.ECONFLICT || !greenmint.IsRetryable(err) || !strings.Contains(err.Error(), "gave up after") {
				t.Errorf("exhausted retry = %v (retryable %v), want a retryable conflict that says it gave up", err, greenmint.IsRetryable(err))
			}
			exhausted++
		default:
			t.Errorf("concurrent transfer = %v (retryable %v), want it committed, the conflict retried by the adapter", err, greenmint.IsRetryable(err))
		}
	}
	var page greenmint.HoldingsPage
	if err := greenmint.EvaluateJSON(ctx, e.Ledger, e.Buyer, greenmint.QueryHoldingsByOwner, greenmint.PageQuery{Owner: e.Buyer.MSPID}, &page); err != nil {
		t.Fatal(err)
	}
	if ok == 0 || len(page.Holdings) != 1 || page.Holdings[0].Tradable != ok*each {
		t.Fatalf("%d transfers committed (%d gave up) but the buyer holds %+v", ok, exhausted, page.Holdings)
	}
	t.Logf("%d of %d concurrent transfers committed, %d gave up after the policy's attempts", ok, n, exhausted)
}
