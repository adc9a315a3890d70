package chaincode

import (
	"time"

	"github.com/greenmint/greenmint"
)

// batchAndHolding reads a batch and the holding of owner in it.
func (t *txn) batchAndHolding(batchID, owner string) (*greenmint.Batch, *greenmint.Holding, error) {
	var b greenmint.Batch
	if err := t.mustGet(&b, "batch", kindBatch, batchID); err != nil {
		return nil, nil, err
	}
	var h greenmint.Holding
	ok, err := t.get(&h, kindHolding, owner, batchID)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, nil, greenmint.Errorf(greenmint.ENOTFOUND, "%s holds nothing of batch %s", owner, batchID)
	}
	return &b, &h, nil
}

// holdingOrNew reads a holding, or starts an empty one.
func (t *txn) holdingOrNew(batchID, owner string) (*greenmint.Holding, bool, error) {
	h := greenmint.Holding{BatchID: batchID, Owner: owner}
	ok, err := t.get(&h, kindHolding, owner, batchID)
	return &h, ok, err
}

func (t *txn) putHolding(h *greenmint.Holding, isNew bool) error {
	if err := t.put(h, kindHolding, h.Owner, h.BatchID); err != nil {
		return err
	}
	if isNew {
		return t.put("", kindHolder, h.BatchID, h.Owner)
	}
	return nil
}

// transfer reads as little as it can, for throughput: the caller's holding
// stands for its account (holdings are only ever made for organisations
// with one), and the receiver's account is read only when it holds nothing
// of the batch yet.
func (t *txn) transfer(r *greenmint.TransferRequest) (any, error) {
	if err := t.requireRole(greenmint.RoleMiner, greenmint.RoleBuyer); err != nil {
		return nil, err
	}
	if err := checkID("to", r.To, mspPattern); err != nil {
		return nil, err
	}
	if err := greenmint.CheckQuantity(r.Quantity); err != nil {
		return nil, err
	}
	b, from, err := t.batchAndHolding(r.BatchID, t.caller.MSPID)
	if err != nil {
		return nil, err
	}
	to, exists, err := t.holdingOrNew(r.BatchID, r.To)
	if err != nil {
		return nil, err
	}
	if !exists {
		if err := t.requireAccount(r.To); err != nil {
			return nil, err
		}
	}
	if err := greenmint.Transfer(b, from, to, r.Quantity); err != nil {
		return nil, err
	}
	if err := t.putHolding(from, false); err != nil {
		return nil, err
	}
	if err := t.putHolding(to, !exists); err != nil {
		return nil, err
	}
	// The sender learns its own holding, never the receiver's (R11: an
	// organisation's holdings are its own, the registry's and auditors').
	return *from, nil
}

func (t *txn) listForSale(r *greenmint.ListRequest) (any, error) {
	if err := t.requireHolder(); err != nil {
		return nil, err
	}
	if err := greenmint.CheckQuantity(r.Quantity); err != nil {
		return nil, err
	}
	if r.PriceMinor < 0 {
		return nil, greenmint.Errorf(greenmint.EINVALID, "price_minor must not be negative, got %d", r.PriceMinor)
	}
	if err := checkID("currency", r.Currency, currency); err != nil {
		return nil, err
	}
	b, h, err := t.batchAndHolding(r.BatchID, t.caller.MSPID)
	if err != nil {
		return nil, err
	}
	if err := greenmint.Escrow(b, h, r.Quantity); err != nil {
		return nil, err
	}
	l := greenmint.Listing{
		ID: t.shortID("LST"), BatchID: b.ID, Seller: t.caller.MSPID, Quantity: r.Quantity,
		PriceMinor: r.PriceMinor, Currency: r.Currency, Status: greenmint.ListingOpen, CreatedAt: t.stamp(), UpdatedAt: t.stamp(),
	}
	for _, err := range []error{
		t.put(b, kindBatch, b.ID),
		t.putHolding(h, false),
		t.put(l, kindListing, l.ID),
		t.put("", kindBatchListing, b.ID, l.ID),
	} {
		if err != nil {
			return nil, err
		}
	}
	return l, nil
}

func (t *txn) listing(id string) (*greenmint.Listing, error) {
	var l greenmint.Listing
	if err := t.mustGet(&l, "listing", kindListing, id); err != nil {
		return nil, err
	}
	return &l, nil
}

// reservationTTL returns the policy's reservation period.
func (t *txn) reservationTTL() (time.Duration, error) {
	p, err := t.policy()
	if err != nil {
		return 0, err
	}
	return p.ReservationTTL(), nil
}

// reserveListing reserves an open listing (or one whose reservation lapsed)
// for the caller until the policy's reservation period has passed, measured
// in transaction time; not while the listed batch is frozen (R13).
func (t *txn) reserveListing(r *greenmint.ListingRequest) (any, error) {
	if err := t.requireHolder(); err != nil {
		return nil, err
	}
	l, err := t.listing(r.ListingID)
	if err != nil {
		return nil, err
	}
	ttl, err := t.reservationTTL()
	if err != nil {
		return nil, err
	}
	var b greenmint.Batch
	if err := t.mustGet(&b, "batch", kindBatch, l.BatchID); err != nil {
		return nil, err
	}
	if err := greenmint.Reserve(&b, l, t.caller.MSPID, t.now, ttl); err != nil {
		return nil, err
	}
	return l, t.put(l, kindListing, l.ID)
}

func (t *txn) releaseReservation(r *greenmint.ListingRequest) (any, error) {
	if err := t.requireHolder(); err != nil {
		return nil, err
	}
	l, err := t.listing(r.ListingID)
	if err != nil {
		return nil, err
	}
	ttl, err := t.reservationTTL()
	if err != nil {
		return nil, err
	}
	if err := greenmint.Release(l, t.caller.MSPID, t.now, ttl); err != nil {
		return nil, err
	}
	return l, t.put(l, kindListing, l.ID)
}

// sellersListing reads a listing for an action only its seller may take
// in the given status, with the listed batch and the seller's holding.
func (t *txn) sellersListing(id string, status greenmint.ListingStatus, action string) (*greenmint.Listing, *greenmint.Batch, *greenmint.Holding, error) {
	if err := t.requireHolder(); err != nil {
		return nil, nil, nil, err
	}
	l, err := t.listing(id)
	if err != nil {
		return nil, nil, nil, err
	}
	if t.caller.MSPID != l.Seller {
		return nil, nil, nil, greenmint.Errorf(greenmint.EFORBIDDEN, "only the seller may %s", action)
	}
	ttl, err := t.reservationTTL()
	if err != nil {
		return nil, nil, nil, err
	}
	if lapsed, at := greenmint.LapseReservation(l, t.now, ttl); lapsed && status == greenmint.ListingReserved {
		return nil, nil, nil, greenmint.Errorf(greenmint.ECONFLICT, "the reservation of listing %s lapsed at %s; it is open again, so the seller cannot %s", l.ID, greenmint.FormatTime(at), action)
	}
	if l.Status != status {
		return nil, nil, nil, greenmint.Errorf(greenmint.ECONFLICT, "listing %s is %s; only a listing that is %s can %s", l.ID, l.Status, status, action)
	}
	b, h, err := t.batchAndHolding(l.BatchID, l.Seller)
	if err != nil {
		return nil, nil, nil, err
	}
	return l, b, h, nil
}

func (t *txn) confirmPayment(r *greenmint.ListingRequest) (any, error) {
	l, b, seller, err := t.sellersListing(r.ListingID, greenmint.ListingReserved, "confirm payment")
	if err != nil {
		return nil, err
	}
	buyer, exists, err := t.holdingOrNew(l.BatchID, l.Buyer)
	if err != nil {
		return nil, err
	}
	if err := greenmint.Settle(b, seller, buyer, l.Quantity); err != nil {
		return nil, err
	}
	l.Status, l.UpdatedAt = greenmint.ListingSold, t.stamp()
	for _, err := range []error{
		t.put(b, kindBatch, b.ID),
		t.putHolding(seller, false),
		t.putHolding(buyer, !exists),
		t.put(l, kindListing, l.ID),
	} {
		if err != nil {
			return nil, err
		}
	}
	return l, nil
}

func (t *txn) cancelListing(r *greenmint.ListingRequest) (any, error) {
	l, b, h, err := t.sellersListing(r.ListingID, greenmint.ListingOpen, "cancel it")
	if err != nil {
		return nil, err
	}
	if err := greenmint.Unescrow(b, h, l.Quantity); err != nil {
		return nil, err
	}
	l.Status, l.UpdatedAt = greenmint.ListingCancelled, t.stamp()
	for _, err := range []error{t.put(b, kindBatch, b.ID), t.putHolding(h, false), t.put(l, kindListing, l.ID)} {
		if err != nil {
			return nil, err
		}
	}
	return l, nil
}

var purposes = map[string]bool{
	greenmint.PurposeScope2: true, greenmint.PurposeVoluntary: true,
	greenmint.PurposeCompliance: true, greenmint.PurposeOther: true,
}

// maxRetireParts bounds the parts of one retirement request.
const maxRetireParts = 100

func (t *txn) retire(r *greenmint.RetireRequest) (any, error) {
	if err := t.requireHolder(); err != nil {
		return nil, err
	}
	if len(r.Parts) == 0 || len(r.Parts) > maxRetireParts {
		return nil, greenmint.Errorf(greenmint.EINVALID, "a retirement has 1 to %d parts, got %d", maxRetireParts, len(r.Parts))
	}
	if err := checkText("beneficiary", r.Beneficiary, true, 200); err != nil {
		return nil, err
	}
	if err := checkID("jurisdiction", r.Jurisdiction, jurisdiction); err != nil {
		return nil, err
	}
	if !purposes[r.Purpose] {
		return nil, greenmint.Errorf(greenmint.EINVALID, "purpose %q is not scope2-market-based, voluntary-offset, compliance or other", r.Purpose)
	}
	if year := int64(t.now.Year()); r.ReportingYear < 2000 || r.ReportingYear > year+1 {
		return nil, greenmint.Errorf(greenmint.EINVALID, "reporting_year %d is outside 2000 to %d", r.ReportingYear, year+1)
	}
	if err := checkText("reason", r.Reason, false, 1000); err != nil {
		return nil, err
	}
	st := greenmint.RetirementStatement{
		ID: t.shortID("RET"), Owner: t.caller.MSPID, Beneficiary: r.Beneficiary, Jurisdiction: r.Jurisdiction,
		Purpose: r.Purpose, ReportingYear: r.ReportingYear, Reason: r.Reason, TxID: t.txID, RetiredAt: t.stamp(),
	}
	seen := map[string]bool{}
	for _, p := range r.Parts {
		if seen[p.BatchID] {
			return nil, greenmint.Errorf(greenmint.EINVALID, "batch %s appears twice; retire it in one part", p.BatchID)
		}
		seen[p.BatchID] = true
		if err := greenmint.CheckQuantity(p.Quantity); err != nil {
			return nil, err
		}
		b, h, err := t.batchAndHolding(p.BatchID, t.caller.MSPID)
		if err != nil {
			return nil, err
		}
		if err := greenmint.Retire(b, h, p.Quantity); err != nil {
			return nil, err
		}
		if err := t.put(b, kindBatch, b.ID); err != nil {
			return nil, err
		}
		if err := t.putHolding(h, false); err != nil {
			return nil, err
		}
		st.Parts = append(st.Parts, greenmint.RetirementPart{BatchID: b.ID, Instrument: b.Instrument, Quantity: p.Quantity})
	}
	return st, t.put(st, kindRetirement, st.ID)
}

func (t *txn) cancelUnits(r *greenmint.CancelUnitsRequest) (any, error) {
	if _, err := t.requireRegistry(); err != nil {
		return nil, err
	}
	if err := checkText("reason", r.Reason, true, 1000); err != nil {
		return nil, err
	}
	if err := greenmint.CheckQuantity(r.Quantity); err != nil {
		return nil, err
	}
	b, h, err := t.batchAndHolding(r.BatchID, r.Owner)
	if err != nil {
		return nil, err
	}
	if err := greenmint.Cancel(b, h, r.Quantity); err != nil {
		return nil, err
	}
	c := greenmint.Cancellation{BatchID: b.ID, Owner: h.Owner, Quantity: r.Quantity, Reason: r.Reason, TxID: t.txID, At: t.stamp()}
	for _, err := range []error{t.put(b, kindBatch, b.ID), t.putHolding(h, false), t.put(c, kindCancellation, b.ID, t.txID)} {
		if err != nil {
			return nil, err
		}
	}
	return c, nil
}

// withdrawBatch withdraws a batch after a correction: every unit not yet
// retired is cancelled (open and reserved listings too), and the batch's
// site-hours and supply allocations are released so that a corrected
// attestation can be reissued in its place. Retired units stay retired (R4).
func (t *txn) withdrawBatch(r *greenmint.WithdrawRequest) (any, error) {
	if _, err := t.requireRegistry(); err != nil {
		return nil, err
	}
	if err := checkText("reason", r.Reason, true, 1000); err != nil {
		return nil, err
	}
	var b greenmint.Batch
	if err := t.mustGet(&b, "batch", kindBatch, r.BatchID); err != nil {
		return nil, err
	}
	if b.Status != greenmint.BatchActive {
		return nil, greenmint.Errorf(greenmint.ECONFLICT, "batch %s is already %s", b.ID, b.Status)
	}
	listingKeys, _, err := t.scan(kindBatchListing, b.ID)
	if err != nil {
		return nil, err
	}
	for _, k := range listingKeys {
		l, err := t.listing(k[1])
		if err != nil {
			return nil, err
		}
		if l.Status != greenmint.ListingOpen && l.Status != greenmint.ListingReserved {
			continue
		}
		_, h, err := t.batchAndHolding(b.ID, l.Seller)
		if err != nil {
			return nil, err
		}
		if err := greenmint.CancelEscrowed(&b, h, l.Quantity); err != nil {
			return nil, err
		}
		l.Status, l.UpdatedAt = greenmint.ListingCancelled, t.stamp()
		if err := t.put(l, kindListing, l.ID); err != nil {
			return nil, err
		}
		if err := t.putHolding(h, false); err != nil {
			return nil, err
		}
	}
	holderKeys, _, err := t.scan(kindHolder, b.ID)
	if err != nil {
		return nil, err
	}
	for _, k := range holderKeys {
		_, h, err := t.batchAndHolding(b.ID, k[1])
		if err != nil {
			return nil, err
		}
		if h.Tradable == 0 {
			continue
		}
		q := h.Tradable
		if err := greenmint.Cancel(&b, h, q); err != nil {
			return nil, err
		}
		c := greenmint.Cancellation{BatchID: b.ID, Owner: h.Owner, Quantity: q, Reason: "withdrawn: " + r.Reason, TxID: t.txID, At: t.stamp()}
		if err := t.putHolding(h, false); err != nil {
			return nil, err
		}
		if err := t.put(c, kindCancellation, b.ID, t.txID+"-"+h.Owner); err != nil {
			return nil, err
		}
	}
	var rec greenmint.AttestationRecord
	if err := t.mustGet(&rec, "attestation", kindAttestation, b.AttestationID); err != nil {
		return nil, err
	}
	for _, hr := range rec.Attestation.Attestation.Hours {
		if err := t.del(kindSiteHour, b.SiteID, hr.Start); err != nil {
			return nil, err
		}
		for _, al := range hr.Allocations {
			if al.MatchedWh == 0 {
				continue
			}
			var g genHour
			if err := t.mustGet(&g, "generation hour", kindGenHour, al.MeterID, hr.Start); err != nil {
				return nil, err
			}
			g.AllocatedWh -= al.MatchedWh
			if g.AllocatedWh < 0 {
				return nil, greenmint.Errorf(greenmint.EINTERNAL, "meter %s hour %s: allocation would go negative", al.MeterID, hr.Start)
			}
			if err := t.put(g, kindGenHour, al.MeterID, hr.Start); err != nil {
				return nil, err
			}
		}
	}
	b.Status = greenmint.BatchWithdrawn
	if err := greenmint.CheckBatchSupply(&b); err != nil {
		return nil, err
	}
	return b, t.put(b, kindBatch, b.ID)
}

func (t *txn) reissueBatch(r *greenmint.ReissueRequest) (any, error) {
	if _, err := t.requireRegistry(); err != nil {
		return nil, err
	}
	var old greenmint.Batch
	if err := t.mustGet(&old, "batch", kindBatch, r.WithdrawnBatchID); err != nil {
		return nil, err
	}
	if old.Status != greenmint.BatchWithdrawn {
		return nil, greenmint.Errorf(greenmint.ECONFLICT, "batch %s is %s; withdraw it before reissuing", old.ID, old.Status)
	}
	if old.ReplacedBy != "" {
		return nil, greenmint.Errorf(greenmint.ECONFLICT, "batch %s was already reissued as %s", old.ID, old.ReplacedBy)
	}
	if old.OpenFlags > 0 {
		return nil, greenmint.Errorf(greenmint.ECONFLICT, "batch %s is under an open auditor flag; resolve it before reissuing (R13)", old.ID)
	}
	a := &r.Attestation.Attestation
	if a.SiteID != old.SiteID || a.PeriodStart != old.PeriodStart || a.PeriodEnd != old.PeriodEnd {
		return nil, greenmint.Errorf(greenmint.EINVALID, "a reissue must cover the same site and period as %s", old.ID)
	}
	if a.Instrument != old.Instrument {
		return nil, greenmint.Errorf(greenmint.EINVALID, "a reissue keeps the instrument: %s was minted as %s, the attestation is for %s", old.ID, old.Instrument, a.Instrument)
	}
	res, err := t.mintAttestation(&r.Attestation, &old)
	if err != nil {
		return nil, err
	}
	old.ReplacedBy = res.BatchID
	return res, t.put(old, kindBatch, old.ID)
}

func (t *txn) flagBatch(r *greenmint.FlagRequest) (any, error) {
	if _, err := t.policy(); err != nil {
		return nil, err
	}
	if err := t.requireRole(greenmint.RoleAuditor); err != nil {
		return nil, err
	}
	if err := checkText("reason", r.Reason, true, 1000); err != nil {
		return nil, err
	}
	var b greenmint.Batch
	if err := t.mustGet(&b, "batch", kindBatch, r.BatchID); err != nil {
		return nil, err
	}
	if open, err := t.openFlagBy(b.ID, t.caller.MSPID); err != nil {
		return nil, err
	} else if open != "" {
		return nil, greenmint.Errorf(greenmint.ECONFLICT, "%s already has flag %s open on batch %s; an auditor organisation keeps at most one open flag per batch", t.caller.MSPID, open, b.ID)
	}
	f := greenmint.Flag{ID: t.shortID("FLG"), BatchID: b.ID, Auditor: t.caller.MSPID, Reason: r.Reason, Status: greenmint.FlagOpen, OpenedAt: t.stamp()}
	b.OpenFlags++
	if err := t.put(b, kindBatch, b.ID); err != nil {
		return nil, err
	}
	return f, t.put(f, kindFlag, b.ID, f.ID)
}

func (t *txn) resolveFlag(r *greenmint.ResolveFlagRequest) (any, error) {
	if _, err := t.requireRegistry(); err != nil {
		return nil, err
	}
	if r.Outcome != greenmint.FlagUpheld && r.Outcome != greenmint.FlagDismissed {
		return nil, greenmint.Errorf(greenmint.EINVALID, "outcome %q is neither upheld nor dismissed", r.Outcome)
	}
	if err := checkText("resolution", r.Resolution, true, 1000); err != nil {
		return nil, err
	}
	var f greenmint.Flag
	if err := t.mustGet(&f, "flag", kindFlag, r.BatchID, r.FlagID); err != nil {
		return nil, err
	}
	if f.Status != greenmint.FlagOpen {
		return nil, greenmint.Errorf(greenmint.ECONFLICT, "flag %s is already %s", f.ID, f.Status)
	}
	var b greenmint.Batch
	if err := t.mustGet(&b, "batch", kindBatch, f.BatchID); err != nil {
		return nil, err
	}
	f.Status, f.Resolution, f.ResolvedAt = r.Outcome, r.Resolution, t.stamp()
	b.OpenFlags--
	if err := t.put(b, kindBatch, b.ID); err != nil {
		return nil, err
	}
	return f, t.put(f, kindFlag, b.ID, f.ID)
}
