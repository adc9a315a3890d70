package oracle

import (
	"context"
	"errors"
	"time"

	"github.com/greenmint/greenmint"
)

// Deadlines of the oracle's outgoing calls, where a field leaves them zero.
const (
	// DefaultLedgerTimeout bounds one ledger call (a query, or a submission
	// until it is committed).
	DefaultLedgerTimeout = time.Minute
	// DefaultCosignTimeout bounds one peer oracle's co-signing: the peer
	// rebuilds up to 31 days of hours (api.HTTPCosigner's own default).
	DefaultCosignTimeout = 2 * time.Minute
	// DefaultSiteTimeout bounds one site's scheduled attestation: build,
	// co-signing and submission.
	DefaultSiteTimeout = 5 * time.Minute
	// DefaultConcurrency is how many sites a Scheduler attests at once.
	DefaultConcurrency = 4
)

// deadlineLedger gives every query and submission its own deadline, so a
// ledger that stops answering fails the call instead of holding it forever.
// Events is a stream and keeps the caller's context.
type deadlineLedger struct {
	greenmint.Ledger
	timeout time.Duration
}

// withDeadline returns l with every call bounded by timeout (or
// DefaultLedgerTimeout when it is zero).
func withDeadline(l greenmint.Ledger, timeout time.Duration) greenmint.Ledger {
	if timeout <= 0 {
		timeout = DefaultLedgerTimeout
	}
	return deadlineLedger{Ledger: l, timeout: timeout}
}

// Submit implements greenmint.Ledger.
func (d deadlineLedger) Submit(ctx context.Context, id *greenmint.Identity, function string, args ...string) (*greenmint.TxResult, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	res, err := d.Ledger.Submit(ctx, id, function, args...)
	return res, timedOut(ctx, err, "ledger: "+function, d.timeout)
}

// Evaluate implements greenmint.Ledger.
func (d deadlineLedger) Evaluate(ctx context.Context, id *greenmint.Identity, function string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	res, err := d.Ledger.Evaluate(ctx, id, function, args...)
	return res, timedOut(ctx, err, "ledger: "+function, d.timeout)
}

// timedOut turns err into an EUNAVAILABLE error that says what gave no
// answer within timeout and unwraps to context.DeadlineExceeded, when ctx's
// deadline passed; otherwise it returns err as it is.
func timedOut(ctx context.Context, err error, what string, timeout time.Duration) error {
	if err == nil || !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return err
	}
	return &greenmint.Error{Code: greenmint.EUNAVAILABLE, Message: what + " gave no answer within " + timeout.String() + " (" + greenmint.ErrorMessage(err) + ")", Err: ctx.Err()}
}
