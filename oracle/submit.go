package oracle

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/greenmint/greenmint"
)

// attestationStore keeps signed attestations until they are minted.
// *store.DB implements it.
type attestationStore interface {
	SaveAttestation(ctx context.Context, id string, sa *greenmint.SignedAttestation, now time.Time) error
	MarkMinted(ctx context.Context, id, batchID string, now time.Time) error
	MarkRefused(ctx context.Context, id, reason string, now time.Time) error
}

// Cosigner is a peer oracle asked to co-sign: it rebuilds the attestation
// from its own readings and signs only if its bytes are the same.
// HTTPCosigner (package api) and LocalCosigner implement it.
type Cosigner interface {
	Cosign(ctx context.Context, req AttestRequest, a *greenmint.Attestation) (greenmint.OracleSignature, error)
}

// ErrAttestationDiffers is the cause of a co-signer's refusal when its own
// rebuild of the attestation gives other bytes than the request's.
var ErrAttestationDiffers = errors.New("the attestation rebuilt from this oracle's readings differs")

// MaxCosignClockSkew is how far ahead of a co-signing oracle's clock a
// requester's attested_at may be.
const MaxCosignClockSkew = 5 * time.Minute

// LocalCosigner co-signs with an Attester and key of its own: what a peer
// oracle's co-sign endpoint runs.
type LocalCosigner struct {
	Attester *Attester
	OracleID string
	Key      ed25519.PrivateKey
}

// Cosign rebuilds the attestation with the requester's time and signs it
// if the canonical bytes match; otherwise it refuses with ECONFLICT and says
// where the data differ.
func (lc *LocalCosigner) Cosign(ctx context.Context, req AttestRequest, a *greenmint.Attestation) (greenmint.OracleSignature, error) {
	at, err := greenmint.ParseTime(a.AttestedAt)
	if err != nil {
		return greenmint.OracleSignature{}, err
	}
	// R12 by this oracle's own clock: the requester chose attested_at, and
	// on Fabric nothing bounds a proposal's timestamp, so a co-signature
	// must not vouch for hours that have not ended or a time ahead of now.
	if now := lc.Attester.now(); at.After(now.Add(MaxCosignClockSkew)) || req.To.After(now) {
		return greenmint.OracleSignature{}, greenmint.Errorf(greenmint.EINVALID,
			"attested_at %s or the period's end %s is ahead of this oracle's clock (%s); nothing is certified ahead of time (R12)",
			a.AttestedAt, greenmint.FormatTime(req.To), greenmint.FormatTime(now))
	}
	req.AttestedAt = at
	mine, _, err := lc.Attester.Build(ctx, req)
	if err != nil {
		return greenmint.OracleSignature{}, fmt.Errorf("oracle.Cosign: %w", err)
	}
	theirs, err := a.Canonical()
	if err != nil {
		return greenmint.OracleSignature{}, err
	}
	ours, err := mine.Canonical()
	if err != nil {
		return greenmint.OracleSignature{}, err
	}
	if !bytes.Equal(ours, theirs) {
		return greenmint.OracleSignature{}, greenmint.E(greenmint.ECONFLICT, "oracle.Cosign", ErrAttestationDiffers,
			"oracle %s's data differ: it computes totals %+v, readings root %.16s…; the request has %+v, %.16s…",
			lc.OracleID, mine.Totals, mine.ReadingsRoot, a.Totals, a.ReadingsRoot)
	}
	return greenmint.SignAttestation(mine, lc.OracleID, lc.Key)
}

// Submitter builds, co-signs, keeps and submits attestations. A crash at
// any point never mints twice and never loses a complete attestation: the
// signed attestation is stored before it is submitted, the submission's
// idempotency key is the attestation's ID, and Resume submits whatever is
// stored but not yet minted.
type Submitter struct {
	Attester *Attester
	Store    attestationStore
	Ledger   greenmint.Ledger
	ID       *greenmint.Identity // the oracle's ledger identity (role oracle)
	OracleID string
	Key      ed25519.PrivateKey
	Peers    []Cosigner
	Now      func() time.Time
	// CosignTimeout bounds each peer's co-signing, whatever the Cosigner
	// does itself; zero means DefaultCosignTimeout. The peers are asked at
	// the same time.
	CosignTimeout time.Duration
	// LedgerTimeout bounds each ledger call (a submission until it is
	// committed); zero means DefaultLedgerTimeout. A submission that times
	// out stays stored as signed, for Resume.
	LedgerTimeout time.Duration
	// beforeSubmit, when set, runs between storing and submitting (tests
	// use it to crash there).
	beforeSubmit func() error
}

// Attest builds the attestation for req, signs it, gathers the peers'
// signatures, stores it and submits it for minting.
func (s *Submitter) Attest(ctx context.Context, req AttestRequest) (*greenmint.MintResult, error) {
	a, _, err := s.Attester.Build(ctx, req)
	if err != nil {
		return nil, err
	}
	// What the contract would refuse on its face (no complete hour, no
	// units) is not signed, stored or sent to peers.
	if err := greenmint.CheckAttestation(a); err != nil {
		return nil, fmt.Errorf("oracle.Attest: site %s %s–%s: %w", req.SiteID, greenmint.FormatTime(req.From), greenmint.FormatTime(req.To), err)
	}
	own, err := greenmint.SignAttestation(a, s.OracleID, s.Key)
	if err != nil {
		return nil, err
	}
	sigs, err := s.cosign(ctx, req, a)
	if err != nil {
		return nil, fmt.Errorf("oracle.Attest: co-signing: %w", err)
	}
	sa := &greenmint.SignedAttestation{Attestation: *a, Signatures: append([]greenmint.OracleSignature{own}, sigs...)}
	id, err := a.ID()
	if err != nil {
		return nil, err
	}
	if err := s.Store.SaveAttestation(ctx, id, sa, s.now()); err != nil {
		return nil, err
	}
	if s.beforeSubmit != nil {
		if err := s.beforeSubmit(); err != nil {
			return nil, err
		}
	}
	return s.submit(ctx, id, sa)
}

// cosign asks every peer at once, each under its own deadline, and returns
// their signatures in the order of Peers, or the first peer's error.
func (s *Submitter) cosign(ctx context.Context, req AttestRequest, a *greenmint.Attestation) ([]greenmint.OracleSignature, error) {
	timeout := s.CosignTimeout
	if timeout <= 0 {
		timeout = DefaultCosignTimeout
	}
	sigs := make([]greenmint.OracleSignature, len(s.Peers))
	errs := make([]error, len(s.Peers))
	var wg sync.WaitGroup
	for i, p := range s.Peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			sig, err := p.Cosign(pctx, req, a)
			sigs[i], errs[i] = sig, timedOut(pctx, err, fmt.Sprintf("peer oracle %d of %d", i+1, len(s.Peers)), timeout)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return sigs, nil
}

// submit sends a stored attestation to the ledger under its idempotency
// key and records the batch. A refusal for good (invalid, forbidden, or a
// conflict other than being minted already that is not retryable) is
// recorded too, so that the attestation is not submitted again; any other
// error, a retryable conflict among them (greenmint.IsRetryable: the
// ledger's retries ran out), leaves it to Resume.
func (s *Submitter) submit(ctx context.Context, id string, sa *greenmint.SignedAttestation) (*greenmint.MintResult, error) {
	var res greenmint.MintResult
	l := withDeadline(s.Ledger, s.LedgerTimeout)
	req := greenmint.MintRequest{Idempotent: greenmint.Idempotent{IdempotencyKey: "attestation-" + id}, Attestation: *sa}
	if _, err := greenmint.SubmitJSON(ctx, l, s.ID, greenmint.TxMint, req, &res); err != nil {
		code := greenmint.ErrorCode(err)
		var rec greenmint.AttestationRecord
		switch {
		case code == greenmint.ECONFLICT && greenmint.EvaluateJSON(ctx, l, s.ID, greenmint.QueryGetAttestation, greenmint.IDQuery{ID: id}, &rec) == nil:
			// Minted already, by another oracle's submission of the same
			// attestation: its batch is ours.
			res = greenmint.MintResult{BatchID: rec.BatchID, AttestationID: id, Quantity: sa.Attestation.Quantity}
		case greenmint.IsRetryable(err):
			// A conflict at commit that the ledger's retries did not get
			// past (greenmint.ErrRetriesExhausted): nothing was minted and
			// nothing was refused; Resume or the next run submits it again.
			return nil, fmt.Errorf("oracle.submit: attestation %s: %w", id, err)
		case code == greenmint.ECONFLICT || code == greenmint.EINVALID || code == greenmint.EFORBIDDEN:
			if merr := s.Store.MarkRefused(ctx, id, err.Error(), s.now()); merr != nil {
				return nil, errors.Join(err, merr)
			}
			return nil, &Refused{ID: id, Err: err}
		default:
			return nil, err
		}
	}
	if err := s.Store.MarkMinted(ctx, id, res.BatchID, s.now()); err != nil {
		return nil, err
	}
	return &res, nil
}

// Refused is the error of an attestation the ledger refused for good; it is
// stored with status refused and not submitted again.
type Refused struct {
	ID  string
	Err error
}

// Error says which attestation the ledger refused and why.
func (r *Refused) Error() string {
	return fmt.Sprintf("attestation %s refused by the ledger: %v", r.ID, r.Err)
}

// Unwrap returns the ledger's error.
func (r *Refused) Unwrap() error { return r.Err }

// PendingAttestation is a stored, signed attestation not yet minted.
type PendingAttestation struct {
	ID     string
	Signed greenmint.SignedAttestation
}

// Resume submits every stored attestation that is not yet minted, as after
// a restart, and returns what was minted and what the ledger refused for
// good (marked refused, so that one refused attestation never blocks the
// next). It stops at the first other error (the ledger unreachable, say).
func (s *Submitter) Resume(ctx context.Context, pending []PendingAttestation) ([]greenmint.MintResult, []*Refused, error) {
	var minted []greenmint.MintResult
	var refused []*Refused
	for _, p := range pending {
		res, err := s.submit(ctx, p.ID, &p.Signed)
		var r *Refused
		switch {
		case errors.As(err, &r):
			refused = append(refused, r)
		case err != nil:
			return minted, refused, fmt.Errorf("oracle.Resume: %s: %w", p.ID, err)
		default:
			minted = append(minted, *res)
		}
	}
	return minted, refused, nil
}

func (s *Submitter) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// SetBeforeSubmit installs a hook that runs between storing a signed
// attestation and submitting it; an error stops there, as a crash would.
// For tests.
func (s *Submitter) SetBeforeSubmit(f func() error) { s.beforeSubmit = f }
