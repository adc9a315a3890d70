package greenmint

import "time"

// The rules that move units between the states of a batch. Each checks its
// inputs first and changes nothing when it fails, then updates the batch and
// holdings so that R3 (issued = tradable + escrowed + retired + cancelled)
// still holds, which it re-checks.
//
// R12 Nothing is certified ahead of time: CheckAttestation refuses an
// attestation attested before its period ended, and CheckAttestationTime
// refuses one attested after the transaction's timestamp.
//
// R13 While an auditor's flag on a batch is open, none of its units changes
// owner: CheckMovable refuses Transfer, Escrow (listing), Reserve and Settle
// (the sale), and Retire. Undoing a listing (Unescrow, Release) stays open, as
// do the registry's cancellations and withdrawal, which move nothing to
// another owner; a withdrawn batch under an open flag is not reissued.

// CheckBatchSupply enforces R3 on a batch.
func CheckBatchSupply(b *Batch) error {
	if b.Issued < 0 || b.Tradable < 0 || b.Escrowed < 0 || b.Retired < 0 || b.Cancelled < 0 {
		return Errorf(EINTERNAL, "batch %s has a negative quantity", b.ID)
	}
	s, err := SumQty(b.Tradable, b.Escrowed, b.Retired, b.Cancelled)
	if err != nil {
		return err
	}
	if s != b.Issued {
		return Errorf(EINTERNAL, "batch %s: issued %d ≠ tradable %d + escrowed %d + retired %d + cancelled %d (R3)",
			b.ID, b.Issued, b.Tradable, b.Escrowed, b.Retired, b.Cancelled)
	}
	return nil
}

// CheckQuantity rejects a quantity that is not a positive integer.
func CheckQuantity(q int64) error {
	if q <= 0 {
		return Errorf(EINVALID, "quantity must be positive, got %d", q)
	}
	return nil
}

// CheckMovable refuses to move units of a batch that is withdrawn or under
// an open flag (R13).
func CheckMovable(b *Batch) error {
	if b.Status != BatchActive {
		return Errorf(ECONFLICT, "batch %s is %s", b.ID, b.Status)
	}
	if b.OpenFlags > 0 {
		return Errorf(ECONFLICT, "batch %s is frozen by an open auditor flag", b.ID)
	}
	return nil
}

func takeTradable(h *Holding, q int64) error {
	if err := CheckQuantity(q); err != nil {
		return err
	}
	if h.Tradable < q {
		return Errorf(ECONFLICT, "holding of %s in %s has %d tradable units, %d requested", h.Owner, h.BatchID, h.Tradable, q)
	}
	return nil
}

// Transfer moves q tradable units from one holding to another of the same
// batch.
func Transfer(b *Batch, from, to *Holding, q int64) error {
	if err := CheckMovable(b); err != nil {
		return err
	}
	if err := takeTradable(from, q); err != nil {
		return err
	}
	if from.Owner == to.Owner {
		return Errorf(EINVALID, "cannot transfer to the same owner")
	}
	nt, err := AddQty(to.Tradable, q)
	if err != nil {
		return err
	}
	from.Tradable -= q
	to.Tradable = nt
	return nil
}

// Escrow moves q tradable units of a holding into escrow for a listing.
func Escrow(b *Batch, h *Holding, q int64) error {
	if err := CheckMovable(b); err != nil {
		return err
	}
	if err := takeTradable(h, q); err != nil {
		return err
	}
	h.Tradable -= q
	h.Escrowed += q
	b.Tradable -= q
	b.Escrowed += q
	return CheckBatchSupply(b)
}

// Unescrow returns q escrowed units to the seller's tradable balance.
func Unescrow(b *Batch, h *Holding, q int64) error {
	if err := CheckQuantity(q); err != nil {
		return err
	}
	if h.Escrowed < q || b.Escrowed < q {
		return Errorf(EINTERNAL, "escrow of %s in %s holds less than %d", h.Owner, h.BatchID, q)
	}
	h.Escrowed -= q
	h.Tradable += q
	b.Escrowed -= q
	b.Tradable += q
	return CheckBatchSupply(b)
}

// Settle moves q escrowed units of the seller to the buyer's tradable
// balance when the seller confirms payment: not while the batch is frozen
// (R13).
func Settle(b *Batch, seller, buyer *Holding, q int64) error {
	if err := CheckMovable(b); err != nil {
		return err
	}
	if err := CheckQuantity(q); err != nil {
		return err
	}
	if seller.Escrowed < q || b.Escrowed < q {
		return Errorf(EINTERNAL, "escrow of %s in %s holds less than %d", seller.Owner, seller.BatchID, q)
	}
	nt, err := AddQty(buyer.Tradable, q)
	if err != nil {
		return err
	}
	seller.Escrowed -= q
	buyer.Tradable = nt
	b.Escrowed -= q
	b.Tradable += q
	return CheckBatchSupply(b)
}

// Retire retires q tradable units of a holding: irreversibly (R4).
func Retire(b *Batch, h *Holding, q int64) error {
	if err := CheckMovable(b); err != nil {
		return err
	}
	if err := takeTradable(h, q); err != nil {
		return err
	}
	h.Tradable -= q
	b.Tradable -= q
	b.Retired += q
	return CheckBatchSupply(b)
}

// Cancel cancels q tradable units of a holding (a registry action). Cancelled
// units never move again (R4).
func Cancel(b *Batch, h *Holding, q int64) error {
	if err := takeTradable(h, q); err != nil {
		return err
	}
	h.Tradable -= q
	b.Tradable -= q
	b.Cancelled += q
	return CheckBatchSupply(b)
}

// CancelEscrowed cancels q escrowed units of a holding, as when a batch is
// withdrawn while listed.
func CancelEscrowed(b *Batch, h *Holding, q int64) error {
	if err := CheckQuantity(q); err != nil {
		return err
	}
	if h.Escrowed < q || b.Escrowed < q {
		return Errorf(EINTERNAL, "escrow of %s in %s holds less than %d", h.Owner, h.BatchID, q)
	}
	h.Escrowed -= q
	b.Escrowed -= q
	b.Cancelled += q
	return CheckBatchSupply(b)
}

// Bounds and default of the reservation period (Policy.ReservationTTLSeconds).
// The default covers a bank transfer started before a weekend.
const (
	DefaultReservationTTLSeconds = 72 * 60 * 60
	MinReservationTTLSeconds     = 60
	MaxReservationTTLSeconds     = 30 * 24 * 60 * 60
)

// CheckReservationTTL refuses a reservation period outside its bounds.
func CheckReservationTTL(seconds int64) error {
	if seconds < MinReservationTTLSeconds || seconds > MaxReservationTTLSeconds {
		return Errorf(EINVALID, "reservation_ttl_seconds must be %d to %d, got %d", int64(MinReservationTTLSeconds), int64(MaxReservationTTLSeconds), seconds)
	}
	return nil
}

// ReservationTTL returns how long a reservation holds under the policy: the
// default for a policy written before the period was configurable.
func (p *Policy) ReservationTTL() time.Duration {
	s := p.ReservationTTLSeconds
	if s == 0 {
		s = DefaultReservationTTLSeconds
	}
	return time.Duration(s) * time.Second
}

// reservedUntil returns when a reservation of l lapses: its reserved_until,
// or, for a reservation made before reservations expired, one period after
// it was made. An unreadable time counts as lapsed.
func reservedUntil(l *Listing, ttl time.Duration) time.Time {
	if t, err := ParseTime(l.ReservedUntil); err == nil {
		return t
	}
	if t, err := ParseTime(l.UpdatedAt); err == nil {
		return t.Add(ttl)
	}
	return time.Time{}
}

// LapseReservation brings a listing to its state at now: a reservation
// whose time has come (now ≥ reserved_until) has lapsed, so the listing is
// open again and its buyer held back for one more period after the lapse. It
// reports whether the reservation lapsed, and when.
func LapseReservation(l *Listing, now time.Time, ttl time.Duration) (bool, time.Time) {
	if l.Status != ListingReserved {
		return false, time.Time{}
	}
	until := reservedUntil(l, ttl)
	if now.Before(until) {
		return false, time.Time{}
	}
	l.HeldBack, l.HeldBackUntil = l.Buyer, FormatTime(until.Add(ttl))
	l.Status, l.Buyer, l.ReservedUntil = ListingOpen, "", ""
	return true, until
}

// Reserve reserves an open listing of batch b for buyer at now, for one
// reservation period ttl. The seller cannot reserve its own listing
// (EFORBIDDEN); a listing that is not open, a frozen or withdrawn batch
// (R13), and a buyer held back after its last reservation of the listing
// ended without a sale are ECONFLICT.
func Reserve(b *Batch, l *Listing, buyer string, now time.Time, ttl time.Duration) error {
	if l.Seller == buyer {
		return Errorf(EFORBIDDEN, "a seller cannot reserve its own listing")
	}
	LapseReservation(l, now, ttl)
	if l.Status != ListingOpen {
		return Errorf(ECONFLICT, "listing %s is %s, not open", l.ID, l.Status)
	}
	if err := CheckMovable(b); err != nil {
		return err
	}
	if l.HeldBack == buyer {
		if until, err := ParseTime(l.HeldBackUntil); err != nil || now.Before(until) {
			return Errorf(ECONFLICT, "%s's last reservation of listing %s ended without a sale; it may reserve it again from %s", buyer, l.ID, l.HeldBackUntil)
		}
	}
	l.Status, l.Buyer, l.ReservedUntil, l.UpdatedAt = ListingReserved, buyer, FormatTime(now.Add(ttl)), FormatTime(now)
	l.HeldBack, l.HeldBackUntil = "", ""
	return nil
}

// Release ends a listing's live reservation at now, at the request of its
// buyer or its seller (otherwise EFORBIDDEN): the listing is open again and
// the buyer held back for one period. A listing not reserved, or whose
// reservation has lapsed, is ECONFLICT.
func Release(l *Listing, caller string, now time.Time, ttl time.Duration) error {
	if lapsed, at := LapseReservation(l, now, ttl); lapsed {
		return Errorf(ECONFLICT, "the reservation of listing %s lapsed at %s; it is open again", l.ID, FormatTime(at))
	}
	if l.Status != ListingReserved {
		return Errorf(ECONFLICT, "listing %s is %s, not reserved", l.ID, l.Status)
	}
	if caller != l.Buyer && caller != l.Seller {
		return Errorf(EFORBIDDEN, "only the buyer or the seller may release a reservation")
	}
	l.HeldBack, l.HeldBackUntil = l.Buyer, FormatTime(now.Add(ttl))
	l.Status, l.Buyer, l.ReservedUntil, l.UpdatedAt = ListingOpen, "", "", FormatTime(now)
	return nil
}
