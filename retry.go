package greenmint

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// ErrRetriesExhausted is in the chain of the error a RetryPolicy returns
// when its last attempt failed with a retryable error: the request may
// still pass later, but the policy gave up.
var ErrRetriesExhausted = errors.New("retries exhausted")

// RetryPolicy is how a ledger adapter resubmits a write that failed with a
// retryable error (IsRetryable: the ledger invalidated it at commit after
// an MVCC or phantom read conflict, so it changed nothing). Every contract
// write checks all its rules again when it runs again, and an idempotency
// key keeps its meaning, so resubmitting is safe. ledger/embedded and
// ledger/fabric both use DefaultRetryPolicy.
//
// The pauses are random (full jitter) so that writers that conflicted
// once do not meet again; the contract never retries, so this randomness
// never reaches the ledger's state.
type RetryPolicy struct {
	// Attempts is how many times the write is tried, the first one
	// included; below 1 counts as 1.
	Attempts int
	// Base is the longest pause before the second attempt; it doubles
	// with every further attempt, up to Max.
	Base time.Duration
	// Max bounds every pause.
	Max time.Duration
	// Sleep waits d or until ctx ends (then it returns ctx's error).
	// Default: a timer. Tests set it to count or skip the pauses.
	Sleep func(ctx context.Context, d time.Duration) error
}

// DefaultRetryPolicy is the retry policy of both ledger adapters: eight
// attempts, random pauses of up to 10 ms, 20 ms, 40 ms … 500 ms between
// them (at most 1.1 s of pauses in all).
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{Attempts: 8, Base: 10 * time.Millisecond, Max: 500 * time.Millisecond}
}

// Do calls try, with the attempt's number from 0, until it succeeds or
// fails with an error that is not retryable, which Do returns as it is.
// When the last attempt fails with a retryable error, Do returns an error
// with that error's code, Op op and "gave up after N attempts", that is
// still retryable and has both ErrRetriesExhausted and the last error in
// its chain. When ctx ends during a pause, Do returns EUNAVAILABLE with
// ctx's error and the last error in its chain.
func (p RetryPolicy) Do(ctx context.Context, op string, try func(attempt int) error) error {
	attempts := max(p.Attempts, 1)
	for attempt := 0; ; attempt++ {
		err := try(attempt)
		if err == nil || !IsRetryable(err) {
			return err
		}
		if attempt+1 >= attempts {
			return E("", op, fmt.Errorf("%w: gave up after %d attempts: %w", ErrRetriesExhausted, attempts, err), "")
		}
		if serr := p.sleep(ctx, p.pause(attempt)); serr != nil {
			return E(EUNAVAILABLE, op, fmt.Errorf("stopped retrying: %w; the last attempt: %w", serr, err), "")
		}
	}
}

// pause is the random wait after the given attempt failed: up to Base
// doubled attempt times, at most Max.
func (p RetryPolicy) pause(attempt int) time.Duration {
	d := p.Base << min(attempt, 20)
	if p.Max > 0 && (d > p.Max || d <= 0) {
		d = p.Max
	}
	if d <= 0 {
		return 0
	}
	return rand.N(d) + 1
}

func (p RetryPolicy) sleep(ctx context.Context, d time.Duration) error {
	if p.Sleep != nil {
		return p.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
