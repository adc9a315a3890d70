package chaincode

import (
	"fmt"
	"math/big"

	"github.com/greenmint/greenmint"
)

// genHour is how much of a generation meter's hour attestations have taken
// (R1, supply side).
type genHour struct {
	GeneratedWh int64 `json:"generated_wh"`
	AllocatedWh int64 `json:"allocated_wh"`
}

// hourLimit returns capacity × 1 h × (1 + tolerance) in Wh.
func hourLimit(capacityW, toleranceBP int64) (int64, error) {
	v := new(big.Int).Mul(big.NewInt(capacityW), big.NewInt(10_000+toleranceBP))
	v.Quo(v, big.NewInt(10_000))
	if !v.IsInt64() {
		return 0, greenmint.ErrOverflow
	}
	return v.Int64(), nil
}

func (t *txn) mint(r *greenmint.MintRequest) (any, error) {
	if err := t.requireRole(greenmint.RoleOracle); err != nil {
		return nil, err
	}
	return t.mintAttestation(&r.Attestation, nil)
}

// mintAttestation verifies a signed attestation against the ledger and mints
// its batch to the site's owner. replaces is the withdrawn batch a
// reissue corrects, or nil.
func (t *txn) mintAttestation(sa *greenmint.SignedAttestation, replaces *greenmint.Batch) (*greenmint.MintResult, error) {
	a := &sa.Attestation
	if err := greenmint.CheckAttestation(a); err != nil {
		return nil, err
	}
	if err := greenmint.CheckAttestationTime(a, t.now); err != nil {
		return nil, err
	}
	pol, err := t.policy()
	if err != nil {
		return nil, err
	}
	if err := greenmint.VerifyAttestationSignatures(a, sa.Signatures, t.oracleKey, pol.Threshold); err != nil {
		return nil, err
	}
	attID, err := a.ID()
	if err != nil {
		return nil, err
	}
	var prior greenmint.AttestationRecord
	if ok, err := t.get(&prior, kindAttestation, attID); err != nil {
		return nil, err
	} else if ok {
		return nil, greenmint.Errorf(greenmint.ECONFLICT, "attestation %s already minted batch %s (R5)", attID, prior.BatchID)
	}

	var site greenmint.Site
	if err := t.mustGet(&site, "site", kindSite, a.SiteID); err != nil {
		return nil, err
	}
	if site.Status != greenmint.StatusApproved {
		return nil, greenmint.Errorf(greenmint.EFORBIDDEN, "site %s is %s, not approved", site.ID, site.Status)
	}
	if err := t.checkFactors(a, &site); err != nil {
		return nil, err
	}

	siteLimit, err := hourLimit(site.CapacityW, pol.ToleranceBP)
	if err != nil {
		return nil, err
	}
	var meterCap int64
	for _, id := range a.ConsumptionMeters {
		m, err := t.approvedMeter(id, &site, greenmint.MeterConsumption)
		if err != nil {
			return nil, err
		}
		if meterCap, err = greenmint.AddQty(meterCap, m.CapacityW); err != nil {
			return nil, err
		}
	}
	consLimit, err := hourLimit(meterCap, pol.ToleranceBP)
	if err != nil {
		return nil, err
	}
	consLimit = min(consLimit, siteLimit)

	batchID := fmt.Sprintf("%s-%s-%s-%s-%04d", a.Instrument, site.Country, site.ID, a.PeriodStart[0:4]+a.PeriodStart[5:7]+a.PeriodStart[8:10], site.BatchCount+1)
	meters := map[string]*greenmint.Meter{}
	for _, h := range a.Hours {
		if h.ConsumptionWh > consLimit {
			return nil, greenmint.Errorf(greenmint.EINVALID, "hour %s: consumption %d Wh exceeds the meters' physical bound of %d Wh", h.Start, h.ConsumptionWh, consLimit)
		}
		var taken string
		if ok, err := t.get(&taken, kindSiteHour, site.ID, h.Start); err != nil {
			return nil, err
		} else if ok {
			return nil, greenmint.Errorf(greenmint.ECONFLICT, "site %s hour %s already backs batch %s (R1)", site.ID, h.Start, taken)
		}
		if err := t.put(batchID, kindSiteHour, site.ID, h.Start); err != nil {
			return nil, err
		}
		for _, al := range h.Allocations {
			m, ok := meters[al.MeterID]
			if !ok {
				if m, err = t.approvedMeter(al.MeterID, &site, greenmint.MeterGeneration); err != nil {
					return nil, err
				}
				meters[al.MeterID] = m
			}
			if m.Technology != al.Technology {
				return nil, greenmint.Errorf(greenmint.EINVALID, "meter %s is %s, not %s", m.ID, m.Technology, al.Technology)
			}
			lim, err := hourLimit(m.CapacityW, pol.ToleranceBP)
			if err != nil {
				return nil, err
			}
			if al.GeneratedWh > lim {
				return nil, greenmint.Errorf(greenmint.EINVALID, "hour %s: meter %s generated %d Wh, beyond its physical bound of %d Wh", h.Start, m.ID, al.GeneratedWh, lim)
			}
			if al.MatchedWh == 0 {
				continue
			}
			var g genHour
			found, err := t.get(&g, kindGenHour, m.ID, h.Start)
			if err != nil {
				return nil, err
			}
			if found && g.GeneratedWh != al.GeneratedWh {
				return nil, greenmint.Errorf(greenmint.ECONFLICT, "meter %s hour %s: attested generation %d Wh differs from the %d Wh attested before", m.ID, h.Start, al.GeneratedWh, g.GeneratedWh)
			}
			g.GeneratedWh = al.GeneratedWh
			if g.AllocatedWh, err = greenmint.AddQty(g.AllocatedWh, al.MatchedWh); err != nil {
				return nil, err
			}
			if g.AllocatedWh > g.GeneratedWh {
				return nil, greenmint.Errorf(greenmint.ECONFLICT, "meter %s hour %s: allocating %d Wh would take %d Wh of the %d Wh generated (R1)", m.ID, h.Start, al.MatchedWh, g.AllocatedWh, g.GeneratedWh)
			}
			if err := t.put(g, kindGenHour, m.ID, h.Start); err != nil {
				return nil, err
			}
		}
	}

	issued := a.Quantity
	b := greenmint.Batch{
		ID: batchID, Instrument: a.Instrument, SiteID: site.ID, Country: site.Country, Owner: site.Owner,
		PeriodStart: a.PeriodStart, PeriodEnd: a.PeriodEnd, AttestationID: attID, Dataset: a.Dataset,
		MatchedWh: a.Totals.MatchedWh, Status: greenmint.BatchActive, MintTxID: t.txID, MintedAt: t.stamp(),
	}
	if replaces != nil {
		// Everything retired under the attestation's predecessors stays
		// retired (R4): what the batch it replaces retired, and what that
		// batch carried from the ones before it.
		carried, err := greenmint.AddQty(replaces.Retired, replaces.CarriedRetired)
		if err != nil {
			return nil, err
		}
		if issued, err = greenmint.SubQty(a.Quantity, carried); err != nil {
			return nil, err
		}
		if issued <= 0 {
			return nil, greenmint.Errorf(greenmint.ECONFLICT, "the corrected quantity %d does not exceed the %d units already retired from %s and the batches it replaced", a.Quantity, carried, replaces.ID)
		}
		b.Replaces, b.CarriedRetired = replaces.ID, carried
	}
	b.Issued, b.Tradable = issued, issued
	if err := greenmint.CheckBatchSupply(&b); err != nil {
		return nil, err
	}
	site.BatchCount++
	site.UpdatedAt = t.stamp()
	h := greenmint.Holding{BatchID: b.ID, Owner: site.Owner, Tradable: issued}
	rec := greenmint.AttestationRecord{ID: attID, BatchID: b.ID, TxID: t.txID, Attestation: *sa}
	for _, err := range []error{
		t.put(site, kindSite, site.ID),
		t.put(b, kindBatch, b.ID),
		t.put(h, kindHolding, h.Owner, b.ID),
		t.put("", kindHolder, b.ID, h.Owner),
		t.put("", kindSiteBatch, site.ID, b.PeriodStart, b.ID),
		t.put(rec, kindAttestation, attID),
	} {
		if err != nil {
			return nil, err
		}
	}
	return &greenmint.MintResult{BatchID: b.ID, AttestationID: attID, Quantity: issued}, nil
}

// approvedMeter returns a meter that must be approved, of the given kind,
// and belong to the site (consumption) or to the site's owner (generation).
func (t *txn) approvedMeter(id string, site *greenmint.Site, kind greenmint.MeterKind) (*greenmint.Meter, error) {
	var m greenmint.Meter
	if err := t.mustGet(&m, "meter", kindMeter, id); err != nil {
		return nil, err
	}
	if m.Kind != kind {
		return nil, greenmint.Errorf(greenmint.EINVALID, "meter %s is a %s meter, not %s", id, m.Kind, kind)
	}
	if kind == greenmint.MeterConsumption && m.SiteID != site.ID {
		return nil, greenmint.Errorf(greenmint.EFORBIDDEN, "consumption meter %s is not at site %s", id, site.ID)
	}
	if m.Owner != site.Owner {
		return nil, greenmint.Errorf(greenmint.EFORBIDDEN, "meter %s belongs to %s, not to the site's owner %s", id, m.Owner, site.Owner)
	}
	if m.Status != greenmint.StatusApproved {
		return nil, greenmint.Errorf(greenmint.EFORBIDDEN, "meter %s is %s, not approved", id, m.Status)
	}
	return &m, nil
}

// checkFactors enforces R9: the pinned dataset is registered with that
// SHA-256, and the factors the attestation used are the dataset's for the
// site's grid region.
func (t *txn) checkFactors(a *greenmint.Attestation, site *greenmint.Site) error {
	var ds greenmint.Dataset
	ok, err := t.get(&ds, kindDataset, a.Dataset.ID, a.Dataset.Version)
	if err != nil {
		return err
	}
	if !ok {
		return greenmint.Errorf(greenmint.ENOTFOUND, "dataset %s version %s is not registered on the ledger (R9)", a.Dataset.ID, a.Dataset.Version)
	}
	if ds.SHA256 != a.Dataset.SHA256 {
		return greenmint.Errorf(greenmint.EINVALID, "dataset pin SHA-256 %s does not match the registered %s (R9)", a.Dataset.SHA256, ds.SHA256)
	}
	if a.Factors.GridRegion != site.GridRegion {
		return greenmint.Errorf(greenmint.EINVALID, "factors are for grid region %s, the site is in %s", a.Factors.GridRegion, site.GridRegion)
	}
	var grid *greenmint.GridFactor
	for i := range ds.GridFactors {
		if ds.GridFactors[i].Region == site.GridRegion {
			grid = &ds.GridFactors[i]
		}
	}
	if grid == nil {
		return greenmint.Errorf(greenmint.EINVALID, "dataset %s has no factor for grid region %s", ds.ID, site.GridRegion)
	}
	if grid.Firm != a.Factors.Firm || grid.Intermittent != a.Factors.Intermittent {
		return greenmint.Errorf(greenmint.EINVALID, "grid factors %d/%d differ from the dataset's %d/%d", a.Factors.Firm, a.Factors.Intermittent, grid.Firm, grid.Intermittent)
	}
	dsf := greenmint.Factors{Lifecycle: ds.LifecycleFactors}
	for _, l := range a.Factors.Lifecycle {
		if f, ok := dsf.LifecycleFor(l.Technology); !ok || f != l.Factor {
			return greenmint.Errorf(greenmint.EINVALID, "lifecycle factor for %s differs from the dataset's", l.Technology)
		}
	}
	hourly := greenmint.HasHourlySeries(ds.HourlyFactors, site.GridRegion)
	for _, h := range a.Hours {
		if !hourly {
			if h.GridFactor != nil {
				return greenmint.Errorf(greenmint.EINVALID, "hour %s carries an hourly grid factor, but the dataset has no hourly series for %s", h.Start, site.GridRegion)
			}
			continue
		}
		f, ok := greenmint.HourlyFactorFor(ds.HourlyFactors, site.GridRegion, h.Start)
		if !ok {
			return greenmint.Errorf(greenmint.EINVALID, "the dataset's hourly series for %s has no factor for %s", site.GridRegion, h.Start)
		}
		if h.GridFactor == nil || *h.GridFactor != f {
			return greenmint.Errorf(greenmint.EINVALID, "hour %s: hourly grid factor differs from the dataset's %d gCO2e/MWh (R9)", h.Start, f)
		}
	}
	return nil
}
