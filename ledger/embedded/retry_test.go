package embedded_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/ledger/embedded"
	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

// racer is the kv chaincode with one more function, "racy key": it reads
// the counter key, then (while its own transaction is still being
// endorsed) has another transaction increment it and commit, then writes
// its read value plus one. Its transaction is invalidated at commit by an
// MVCC read conflict, every time while races > 0.
type racer struct {
	kv
	ledger *embedded.Ledger
	id     *greenmint.Identity
	races  atomic.Int64 // how many more attempts meet a competing write
	runs   atomic.Int64 // how many times "racy" ran
}

func (r *racer) Invoke(stub shim.ChaincodeStubInterface) *peer.Response {
	fn, args := stub.GetFunctionAndParameters()
	if fn != "racy" {
		return r.kv.Invoke(stub)
	}
	r.runs.Add(1)
	v, _ := stub.GetState(args[0])
	n, _ := strconv.Atoi(string(v))
	if r.races.Add(-1) >= 0 {
		if _, err := r.ledger.Submit(context.Background(), r.id, "incr", args[0]); err != nil {
			return shim.Error("internal: the competing write failed: " + err.Error())
		}
	}
	if err := stub.PutState(args[0], []byte(strconv.Itoa(n+1))); err != nil {
		return shim.Error(err.Error())
	}
	return shim.Success(nil)
}

// TestSubmitRetriesConflicts holds the embedded adapter to the shared retry
// policy: a write invalidated by an MVCC conflict is proposed again, up to
// the policy's attempts, with a pause between; one that conflicts every
// time ends with a retryable conflict that says the retries ran out.
func TestSubmitRetriesConflicts(t *testing.T) {
	var pauses atomic.Int64
	policy := greenmint.DefaultRetryPolicy()
	policy.Attempts = 3
	policy.Sleep = func(ctx context.Context, d time.Duration) error { pauses.Add(1); return ctx.Err() }
	r := &racer{}
	n := newKVWith(t, r, embedded.Options{Retry: policy})
	r.ledger, r.id = n.ledger, n.alice
	ctx := context.Background()

	t.Run("passes on a later attempt", func(t *testing.T) {
		r.races.Store(2)
		r.runs.Store(0)
		pauses.Store(0)
		if _, err := n.ledger.Submit(ctx, n.alice, "racy", "a"); err != nil {
			t.Fatalf("racy write with 2 races and 3 attempts = %v, want success", err)
		}
		if r.runs.Load() != 3 || pauses.Load() != 2 {
			t.Fatalf("%d runs and %d pauses, want 3 and 2", r.runs.Load(), pauses.Load())
		}
		if got := n.eval(t, "get", "a"); got != "3" { // two competing increments, then ours
			t.Fatalf("counter = %s, want 3", got)
		}
	})
	t.Run("exhausted", func(t *testing.T) {
		r.races.Store(1 << 20)
		r.runs.Store(0)
		_, err := n.ledger.Submit(ctx, n.alice, "racy", "b")
		if r.runs.Load() != 3 {
			t.Fatalf("%d runs, want 3", r.runs.Load())
		}
		if greenmint.ErrorCode(err) != greenmint.ECONFLICT || !greenmint.IsRetryable(err) || !errors.Is(err, greenmint.ErrRetriesExhausted) ||
			!strings.Contains(err.Error(), "gave up after 3 attempts") || !strings.Contains(err.Error(), embedded.TxMVCCReadConflict) {
			t.Fatalf("always-conflicting write = %v, want a retryable conflict saying it gave up after 3 attempts of MVCC conflicts", err)
		}
	})
	t.Run("a refusal is not retried", func(t *testing.T) {
		r.runs.Store(0)
		_, err := n.ledger.Submit(ctx, n.alice, "racy") // no key: the chaincode panics, an internal error
		if err == nil || greenmint.IsRetryable(err) || r.runs.Load() != 1 {
			t.Fatalf("failing write = %v after %d runs, want a non-retryable error after 1", err, r.runs.Load())
		}
	})
}
