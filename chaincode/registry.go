package chaincode

import (
	"crypto/ed25519"

	"github.com/greenmint/greenmint"
)

func checkPolicy(r *greenmint.PolicyRequest) error {
	if r.Threshold < 1 || r.Threshold > 100 {
		return greenmint.Errorf(greenmint.EINVALID, "threshold must be 1 to 100, got %d", r.Threshold)
	}
	if r.ToleranceBP < 0 || r.ToleranceBP > 10_000 {
		return greenmint.Errorf(greenmint.EINVALID, "tolerance_bp must be 0 to 10000, got %d", r.ToleranceBP)
	}
	if r.ReservationTTLSeconds != 0 {
		return greenmint.CheckReservationTTL(r.ReservationTTLSeconds)
	}
	return nil
}

// reservationTTLSeconds is the reservation period a policy request sets:
// its own, or else current (the default when current is 0).
func reservationTTLSeconds(r *greenmint.PolicyRequest, current int64) int64 {
	switch {
	case r.ReservationTTLSeconds != 0:
		return r.ReservationTTLSeconds
	case current != 0:
		return current
	}
	return greenmint.DefaultReservationTTLSeconds
}

// bootstrap records registryMSP, fixed by the contract's deployment, as the
// registry and sets the first policy. Only a registry identity of that
// organisation may call it, never "the first caller"; it runs once.
func (t *txn) bootstrap(r *greenmint.PolicyRequest, registryMSP string) (any, error) {
	if registryMSP == "" {
		return nil, greenmint.Errorf(greenmint.EFORBIDDEN, "this contract was deployed without a registry organisation (chaincode.Config.RegistryMSP, GREENMINT_REGISTRY_MSP for `greenmint chaincode`): nobody may bootstrap it")
	}
	if t.caller.Role != greenmint.RoleRegistry || t.caller.MSPID != registryMSP {
		return nil, greenmint.Errorf(greenmint.EFORBIDDEN, "only a registry identity of %s, the registry this contract was deployed with, may bootstrap the ledger (caller: role %q of %s)", registryMSP, t.caller.Role, t.caller.MSPID)
	}
	if ok, err := t.get(nil, kindPolicy); err != nil {
		return nil, err
	} else if ok {
		return nil, greenmint.Errorf(greenmint.ECONFLICT, "the ledger is already bootstrapped")
	}
	if err := checkPolicy(r); err != nil {
		return nil, err
	}
	p := greenmint.Policy{RegistryMSP: registryMSP, Threshold: r.Threshold, ToleranceBP: r.ToleranceBP, ReservationTTLSeconds: reservationTTLSeconds(r, 0), UpdatedAt: t.stamp()}
	return p, t.put(p, kindPolicy)
}

func (t *txn) setPolicy(r *greenmint.PolicyRequest) (any, error) {
	p, err := t.requireRegistry()
	if err != nil {
		return nil, err
	}
	if err := checkPolicy(r); err != nil {
		return nil, err
	}
	p.Threshold, p.ToleranceBP, p.UpdatedAt = r.Threshold, r.ToleranceBP, t.stamp()
	p.ReservationTTLSeconds = reservationTTLSeconds(r, p.ReservationTTLSeconds)
	return p, t.put(p, kindPolicy)
}

func (t *txn) registerOracle(r *greenmint.RegisterOracleRequest) (any, error) {
	if _, err := t.requireRegistry(); err != nil {
		return nil, err
	}
	if err := checkID("oracle_id", r.OracleID, objIDPattern); err != nil {
		return nil, err
	}
	if err := checkID("msp_id", r.MSPID, mspPattern); err != nil {
		return nil, err
	}
	if len(r.PublicKey) != ed25519.PublicKeySize {
		return nil, greenmint.Errorf(greenmint.EINVALID, "public_key must be a %d-byte Ed25519 key, got %d bytes", ed25519.PublicKeySize, len(r.PublicKey))
	}
	if err := t.requireAdmitted(r.MSPID, greenmint.RoleOracle); err != nil {
		return nil, err
	}
	if ok, err := t.get(nil, kindOracle, r.OracleID); err != nil {
		return nil, err
	} else if ok {
		return nil, greenmint.Errorf(greenmint.ECONFLICT, "oracle %s is already registered", r.OracleID)
	}
	o := greenmint.OracleRegistration{ID: r.OracleID, MSPID: r.MSPID, PublicKey: r.PublicKey, Status: greenmint.OracleActive, RegisteredAt: t.stamp(), UpdatedAt: t.stamp()}
	return o, t.put(o, kindOracle, o.ID)
}

func (t *txn) revokeOracle(r *greenmint.RevokeOracleRequest) (any, error) {
	if _, err := t.requireRegistry(); err != nil {
		return nil, err
	}
	var o greenmint.OracleRegistration
	if err := t.mustGet(&o, "oracle", kindOracle, r.OracleID); err != nil {
		return nil, err
	}
	if err := checkText("reason", r.Reason, true, 1000); err != nil {
		return nil, err
	}
	if o.Status == greenmint.OracleRevoked {
		return nil, greenmint.Errorf(greenmint.ECONFLICT, "oracle %s is already revoked", o.ID)
	}
	o.Status, o.UpdatedAt = greenmint.OracleRevoked, t.stamp()
	return o, t.put(o, kindOracle, o.ID)
}

func (t *txn) publishDataset(r *greenmint.PublishDatasetRequest) (any, error) {
	if _, err := t.requireRegistry(); err != nil {
		return nil, err
	}
	d := r.Dataset
	if err := checkID("dataset id", d.ID, objIDPattern); err != nil {
		return nil, err
	}
	if err := checkID("dataset version", d.Version, objIDPattern); err != nil {
		return nil, err
	}
	if err := checkText("source", d.Source, true, 1000); err != nil {
		return nil, err
	}
	if err := checkText("license", d.License, true, 200); err != nil {
		return nil, err
	}
	if len(d.GridFactors) == 0 || len(d.LifecycleFactors) == 0 {
		return nil, greenmint.Errorf(greenmint.EINVALID, "a dataset needs grid factors and lifecycle factors")
	}
	for i, g := range d.GridFactors {
		if g.Firm < 0 || g.Intermittent < 0 {
			return nil, greenmint.Errorf(greenmint.EINVALID, "grid factor %d: negative factor", i)
		}
		if !greenmint.IsGridRegion(g.Region) {
			return nil, greenmint.Errorf(greenmint.EINVALID, "grid factor %d: region %q is not a grid region code (%s)", i, g.Region, gridRegionForm)
		}
		if i > 0 && d.GridFactors[i-1].Region >= g.Region {
			return nil, greenmint.Errorf(greenmint.EINVALID, "grid factors must be sorted and unique by region")
		}
	}
	for i, l := range d.LifecycleFactors {
		if l.Technology == "" || l.Factor < 0 {
			return nil, greenmint.Errorf(greenmint.EINVALID, "lifecycle factor %d: empty technology or negative factor", i)
		}
		if i > 0 && d.LifecycleFactors[i-1].Technology >= l.Technology {
			return nil, greenmint.Errorf(greenmint.EINVALID, "lifecycle factors must be sorted and unique by technology")
		}
	}
	for i, a := range d.AverageIntensity {
		if !greenmint.IsGridRegion(a.Region) || a.Factor < 0 || (i > 0 && d.AverageIntensity[i-1].Region >= a.Region) {
			return nil, greenmint.Errorf(greenmint.EINVALID, "average intensity %d: regions must be grid region codes (%s), sorted and unique, factors non-negative", i, gridRegionForm)
		}
	}
	for i, h := range d.HourlyFactors {
		if _, err := greenmint.ParseHour(h.Hour); err != nil || !greenmint.IsGridRegion(h.Region) || h.Factor < 0 {
			return nil, greenmint.Errorf(greenmint.EINVALID, "hourly factor %d: a region (a grid region code: %s), an hour (RFC 3339 UTC) and a non-negative factor are required", i, gridRegionForm)
		}
		if i > 0 {
			p := d.HourlyFactors[i-1]
			if p.Region > h.Region || (p.Region == h.Region && p.Hour >= h.Hour) {
				return nil, greenmint.Errorf(greenmint.EINVALID, "hourly factors must be sorted and unique by region and hour")
			}
		}
	}
	sum, err := greenmint.DatasetSHA256(d)
	if err != nil {
		return nil, err
	}
	if sum != r.SHA256 {
		return nil, greenmint.Errorf(greenmint.EINVALID, "sha256 %s does not match the dataset's content (%s)", r.SHA256, sum)
	}
	if ok, err := t.get(nil, kindDataset, d.ID, d.Version); err != nil {
		return nil, err
	} else if ok {
		return nil, greenmint.Errorf(greenmint.ECONFLICT, "dataset %s version %s is already published", d.ID, d.Version)
	}
	if err := t.indexRegions(&d); err != nil {
		return nil, err
	}
	ds := greenmint.Dataset{DatasetContent: d, SHA256: sum, PublishedAt: t.stamp()}
	return greenmint.DatasetPin{ID: d.ID, Version: d.Version, SHA256: sum}, t.put(ds, kindDataset, d.ID, d.Version)
}

func (t *txn) registerSite(r *greenmint.RegisterSiteRequest) (any, error) {
	if _, err := t.policy(); err != nil {
		return nil, err
	}
	if err := t.requireRole(greenmint.RoleMiner); err != nil {
		return nil, err
	}
	if _, err := t.ensureAccount(); err != nil {
		return nil, err
	}
	if err := t.checkSite(r); err != nil {
		return nil, err
	}
	if ok, err := t.get(nil, kindSite, r.SiteID); err != nil {
		return nil, err
	} else if ok {
		return nil, greenmint.Errorf(greenmint.ECONFLICT, "site %s is already registered", r.SiteID)
	}
	s := greenmint.Site{Owner: t.caller.MSPID, Status: greenmint.StatusPending, RegisteredAt: t.stamp(), UpdatedAt: t.stamp()}
	setSite(&s, r)
	return s, t.put(s, kindSite, s.ID)
}

// checkSite checks a site's registration as RegisterSite and AmendSite do:
// every field's form and bounds, and its grid region against the published
// datasets (checkGridRegion).
func (t *txn) checkSite(r *greenmint.RegisterSiteRequest) error {
	if err := checkID("site_id", r.SiteID, siteIDPattern); err != nil {
		return err
	}
	if err := checkText("name", r.Name, true, 200); err != nil {
		return err
	}
	if err := checkID("country", r.Country, countryPattern); err != nil {
		return err
	}
	if r.LatitudeMicro < -90_000_000 || r.LatitudeMicro > 90_000_000 || r.LongitudeMicro < -180_000_000 || r.LongitudeMicro > 180_000_000 {
		return greenmint.Errorf(greenmint.EINVALID, "location (%d, %d) µ° is off the globe", r.LatitudeMicro, r.LongitudeMicro)
	}
	if r.CapacityW <= 0 || r.CapacityW > maxCapacityW {
		return greenmint.Errorf(greenmint.EINVALID, "capacity_w must be 1 to %d, got %d", int64(maxCapacityW), r.CapacityW)
	}
	if r.Fleet.HashrateTHs < 0 || r.Fleet.EfficiencyMJ < 0 {
		return greenmint.Errorf(greenmint.EINVALID, "fleet figures must not be negative")
	}
	return t.checkGridRegion(r.GridRegion, r.Country)
}

// setSite copies what a miner registers of a site from r into s.
func setSite(s *greenmint.Site, r *greenmint.RegisterSiteRequest) {
	s.ID, s.Name, s.Country, s.GridRegion = r.SiteID, r.Name, r.Country, r.GridRegion
	s.LatitudeMicro, s.LongitudeMicro, s.CapacityW, s.Fleet = r.LatitudeMicro, r.LongitudeMicro, r.CapacityW, r.Fleet
}

// maxCapacityW bounds a site's or meter's capacity: 100 GW.
const maxCapacityW = 100_000_000_000

func (t *txn) registerMeter(r *greenmint.RegisterMeterRequest) (any, error) {
	if _, err := t.policy(); err != nil {
		return nil, err
	}
	if err := t.requireRole(greenmint.RoleMiner); err != nil {
		return nil, err
	}
	if err := greenmint.CheckMeterID(r.MeterID); err != nil {
		return nil, err
	}
	if err := t.checkMeter(r); err != nil {
		return nil, err
	}
	if ok, err := t.get(nil, kindMeter, r.MeterID); err != nil {
		return nil, err
	} else if ok {
		return nil, greenmint.Errorf(greenmint.ECONFLICT, "meter %s is already registered", r.MeterID)
	}
	m := greenmint.Meter{Owner: t.caller.MSPID, Status: greenmint.StatusPending, RegisteredAt: t.stamp(), UpdatedAt: t.stamp()}
	setMeter(&m, r)
	if err := t.put("", kindSiteMeter, m.SiteID, m.ID); err != nil {
		return nil, err
	}
	return m, t.put(m, kindMeter, m.ID)
}

// checkMeter checks a meter's registration as RegisterMeter and AmendMeter
// do: its site is the caller's, and every field's form and bounds.
func (t *txn) checkMeter(r *greenmint.RegisterMeterRequest) error {
	var s greenmint.Site
	if err := t.mustGet(&s, "site", kindSite, r.SiteID); err != nil {
		return err
	}
	if s.Owner != t.caller.MSPID {
		return greenmint.Errorf(greenmint.EFORBIDDEN, "site %s belongs to %s", s.ID, s.Owner)
	}
	switch r.Kind {
	case greenmint.MeterConsumption:
		if r.Technology != "" {
			return greenmint.Errorf(greenmint.EINVALID, "a consumption meter has no technology")
		}
	case greenmint.MeterGeneration:
		if _, ok := greenmint.IsIntermittent(r.Technology); !ok {
			return greenmint.Errorf(greenmint.EINVALID, "technology %q is not one of %v", r.Technology, greenmint.RenewableTechnologies())
		}
	default:
		return greenmint.Errorf(greenmint.EINVALID, "kind %q is neither consumption nor generation", r.Kind)
	}
	if r.CapacityW <= 0 || r.CapacityW > maxCapacityW {
		return greenmint.Errorf(greenmint.EINVALID, "capacity_w must be 1 to %d, got %d", int64(maxCapacityW), r.CapacityW)
	}
	switch r.IntervalMinutes {
	case 5, 15, 30, 60:
	default:
		return greenmint.Errorf(greenmint.EINVALID, "interval_minutes must be 5, 15, 30 or 60, got %d", r.IntervalMinutes)
	}
	if len(r.PublicKey) != ed25519.PublicKeySize {
		return greenmint.Errorf(greenmint.EINVALID, "public_key must be a %d-byte Ed25519 key, got %d bytes", ed25519.PublicKeySize, len(r.PublicKey))
	}
	return nil
}

// setMeter copies what a miner registers of a meter from r into m.
func setMeter(m *greenmint.Meter, r *greenmint.RegisterMeterRequest) {
	m.ID, m.SiteID, m.Kind, m.Technology = r.MeterID, r.SiteID, r.Kind, r.Technology
	m.CapacityW, m.IntervalMinutes, m.PublicKey = r.CapacityW, r.IntervalMinutes, r.PublicKey
}

func (t *txn) setSiteStatus(r *greenmint.StatusRequest, to greenmint.Status) (any, error) {
	if _, err := t.requireRegistry(); err != nil {
		return nil, err
	}
	var s greenmint.Site
	if err := t.mustGet(&s, "site", kindSite, r.ID); err != nil {
		return nil, err
	}
	if err := checkStatusChange(s.Status, to, r.Reason); err != nil {
		return nil, err
	}
	s.Status, s.UpdatedAt = to, t.stamp()
	return s, t.put(s, kindSite, s.ID)
}

func (t *txn) setMeterStatus(r *greenmint.StatusRequest, to greenmint.Status) (any, error) {
	if _, err := t.requireRegistry(); err != nil {
		return nil, err
	}
	var m greenmint.Meter
	if err := t.mustGet(&m, "meter", kindMeter, r.ID); err != nil {
		return nil, err
	}
	if err := checkStatusChange(m.Status, to, r.Reason); err != nil {
		return nil, err
	}
	m.Status, m.UpdatedAt = to, t.stamp()
	return m, t.put(m, kindMeter, m.ID)
}

func checkStatusChange(from, to greenmint.Status, reason string) error {
	if from == to {
		return greenmint.Errorf(greenmint.ECONFLICT, "already %s", to)
	}
	if to == greenmint.StatusSuspended {
		return checkText("reason", reason, true, 1000)
	}
	return checkText("reason", reason, false, 1000)
}
