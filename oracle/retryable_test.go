package oracle_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/internal/store"
	"github.com/greenmint/greenmint/oracle"
	"github.com/greenmint/greenmint/refdata"
)

// conflictedMints is the real ledger, except that every Mint answers what
// a ledger adapter answers when its retry policy ran out on MVCC conflicts:
// a retryable conflict, made by the real policy.
type conflictedMints struct{ greenmint.Ledger }

func (c conflictedMints) Submit(ctx context.Context, id *greenmint.Identity, function string, args ...string) (*greenmint.TxResult, error) {
	if function != greenmint.TxMint {
		return c.Ledger.Submit(ctx, id, function, args...)
	}
	p := greenmint.RetryPolicy{Attempts: 2, Sleep: func(context.Context, time.Duration) error { return nil }}
	return nil, p.Do(ctx, "embedded.Submit", func(int) error {
		return &greenmint.Error{Code: greenmint.ECONFLICT, Message: "transaction t invalidated at commit: MVCC_READ_CONFLICT", Retryable: true}
	})
}

// A retryable conflict is transient: the attestation is not marked
// refused, and the next run mints it. Before, any conflict that was not
// "minted already" was recorded as a refusal for good, and the signed
// attestation's hours were never minted.
func TestSubmitterRetryableConflictIsTransient(t *testing.T) {
	ctx := context.Background()
	n, sub := attestingOracle(t, 24, func(l greenmint.Ledger) greenmint.Ledger { return conflictedMints{l} })
	l, db := n.Ledger, n.DB
	req := oracle.AttestRequest{SiteID: n.Site.ID, Instrument: greenmint.EAC, From: greenminttest.DemoWeek.Start, To: greenminttest.DemoWeek.Start.Add(24 * time.Hour),
		Dataset: greenmint.DatasetPin{ID: refdata.DefaultDatasetID, Version: refdata.DefaultDatasetVersion}, AttestedAt: greenminttest.DemoWeek.Start.Add(25 * time.Hour)}

	_, err := sub.Attest(ctx, req)
	var refused *oracle.Refused
	if err == nil || errors.As(err, &refused) || !greenmint.IsRetryable(err) || !errors.Is(err, greenmint.ErrRetriesExhausted) ||
		!strings.Contains(err.Error(), "gave up after 2 attempts") {
		t.Fatalf("Attest with exhausted conflicts = %v, want the retryable conflict, not a refusal", err)
	}
	if recs, err := db.Attestations(ctx, store.AttestationRefused); err != nil || len(recs) != 0 {
		t.Fatalf("refused attestations = %+v %v, want none", recs, err)
	}
	signed, err := db.SignedAttestations(ctx, n.Site.ID)
	if err != nil || len(signed) != 1 {
		t.Fatalf("stored signed attestations = %d %v, want 1 left to submit", len(signed), err)
	}

	sub.Ledger = l // the conflict has passed
	id, err := signed[0].Attestation.ID()
	if err != nil {
		t.Fatal(err)
	}
	minted, refusedAll, err := sub.Resume(ctx, []oracle.PendingAttestation{{ID: id, Signed: signed[0]}})
	if err != nil || len(refusedAll) != 0 || len(minted) != 1 {
		t.Fatalf("Resume = %+v, %+v, %v; want the attestation minted", minted, refusedAll, err)
	}
}
