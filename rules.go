package greenmint

// The rules that move units between the states of a batch. Each checks its
// inputs first and changes nothing when it fails, then updates the batch and
// holdings so that R3 (issued = tradable + escrowed + retired + cancelled)
// still holds, which it re-checks.

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
// an open flag.
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
// balance when the seller confirms payment.
func Settle(b *Batch, seller, buyer *Holding, q int64) error {
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
