package chaincode_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/ledger/embedded"
)

// world is a fresh embedded network, bootstrapped, with one approved site.
type world struct {
	*greenminttest.Env
	ledger *embedded.Ledger
	c      *consortium.Consortium
	site   *greenminttest.Site
	// committedOnError is set when a call that failed still added a block.
	committedOnError bool
}

func newWorld(tb testing.TB) *world {
	tb.Helper()
	l, c, err := greenminttest.CreateEmbedded(tb.TempDir(), embedded.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	env, err := greenminttest.NewEnv(l, c)
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	if err := env.Bootstrap(ctx); err != nil {
		tb.Fatal(err)
	}
	site, err := env.RegisterSite(ctx, env.Miner, "SITE0042")
	if err != nil {
		tb.Fatal(err)
	}
	return &world{Env: env, ledger: l, c: c, site: site}
}

// call submits fn with req as id and decodes the result into resp.
func (w *world) call(id *greenmint.Identity, fn string, req, resp any) error {
	before := w.ledger.Height()
	_, err := greenmint.SubmitJSON(context.Background(), w.Ledger, id, fn, req, resp)
	if err != nil && w.ledger.Height() != before {
		w.committedOnError = true
	}
	return err
}

func (w *world) mustCall(tb testing.TB, id *greenmint.Identity, fn string, req, resp any) {
	tb.Helper()
	if err := w.call(id, fn, req, resp); err != nil {
		tb.Fatalf("%s: %v", fn, err)
	}
}

func (w *world) query(tb testing.TB, id *greenmint.Identity, fn string, req, resp any) {
	tb.Helper()
	if err := greenmint.EvaluateJSON(context.Background(), w.Ledger, id, fn, req, resp); err != nil {
		tb.Fatalf("%s: %v", fn, err)
	}
}

// mintWeek attests and mints the demo week for the world's site.
func (w *world) mintWeek(tb testing.TB, inst greenmint.Instrument) *greenmint.MintResult {
	tb.Helper()
	sa, err := w.Attest(w.site, inst, greenminttest.DemoWeek, greenminttest.OracleAID, greenminttest.OracleBID)
	if err != nil {
		tb.Fatal(err)
	}
	res, err := w.Mint(context.Background(), sa)
	if err != nil {
		tb.Fatalf("Mint: %v", err)
	}
	return res
}

func (w *world) batch(tb testing.TB, id string) greenmint.Batch {
	tb.Helper()
	var b greenmint.Batch
	w.query(tb, w.Auditor, greenmint.QueryGetBatch, greenmint.IDQuery{ID: id}, &b)
	return b
}

func (w *world) holding(tb testing.TB, batchID, owner string) greenmint.Holding {
	tb.Helper()
	var page greenmint.HoldingsPage
	w.query(tb, w.Auditor, greenmint.QueryHoldingsByOwner, greenmint.PageQuery{Owner: owner, PageSize: 1000}, &page)
	for _, h := range page.Holdings {
		if h.BatchID == batchID {
			return h
		}
	}
	return greenmint.Holding{BatchID: batchID, Owner: owner}
}

// checkR3 checks R3 on a batch and that its holdings add up to its
// tradable and escrowed units.
func (w *world) checkR3(tb testing.TB, batchID string) greenmint.Batch {
	tb.Helper()
	b := w.batch(tb, batchID)
	if err := greenmint.CheckBatchSupply(&b); err != nil {
		tb.Fatalf("R3: %v", err)
	}
	var page greenmint.HoldingsPage
	w.query(tb, w.Auditor, greenmint.QueryBatchHolders, greenmint.PageQuery{BatchID: batchID, PageSize: 1000}, &page)
	var tradable, escrowed int64
	for _, h := range page.Holdings {
		tradable += h.Tradable
		escrowed += h.Escrowed
	}
	if tradable != b.Tradable || escrowed != b.Escrowed {
		tb.Fatalf("holdings of %s add up to tradable %d escrowed %d, batch says %d and %d", batchID, tradable, escrowed, b.Tradable, b.Escrowed)
	}
	return b
}

func wantCode(tb testing.TB, err error, code string) {
	tb.Helper()
	if got := greenmint.ErrorCode(err); got != code {
		tb.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}

func mustJSON(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}
