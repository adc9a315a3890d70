package chaincode

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/greenmint/greenmint"
)

// amendSite replaces a pending site's registration: its owner only, checked
// as RegisterSite checks it. An amendment that changes nothing writes
// nothing. The site's key history keeps every earlier version.
func (t *txn) amendSite(r *greenmint.AmendSiteRequest) (any, error) {
	if _, err := t.policy(); err != nil {
		return nil, err
	}
	if err := t.requireRole(greenmint.RoleMiner); err != nil {
		return nil, err
	}
	var s greenmint.Site
	if err := t.mustGet(&s, "site", kindSite, r.SiteID); err != nil {
		return nil, err
	}
	if s.Owner != t.caller.MSPID {
		return nil, greenmint.Errorf(greenmint.EFORBIDDEN, "site %s belongs to %s; only its owner may amend it", s.ID, s.Owner)
	}
	if s.Status != greenmint.StatusPending {
		return nil, greenmint.Errorf(greenmint.ECONFLICT, "site %s is %s; only a pending site can be amended (a correction of an approved site is a new site: the registry suspends this one and the miner registers the corrected site under a new ID)", s.ID, s.Status)
	}
	req := (*greenmint.RegisterSiteRequest)(r)
	if err := t.checkSite(req); err != nil {
		return nil, err
	}
	before := s
	setSite(&s, req)
	if s == before {
		return s, nil
	}
	s.UpdatedAt = t.stamp()
	return s, t.put(s, kindSite, s.ID)
}

// amendMeter replaces a pending meter's registration: its owner only,
// checked as RegisterMeter checks it; the meter may move to another site of
// its owner. An amendment that changes nothing writes nothing. The meter's
// key history keeps every earlier version.
func (t *txn) amendMeter(r *greenmint.AmendMeterRequest) (any, error) {
	if _, err := t.policy(); err != nil {
		return nil, err
	}
	if err := t.requireRole(greenmint.RoleMiner); err != nil {
		return nil, err
	}
	var m greenmint.Meter
	if err := t.mustGet(&m, "meter", kindMeter, r.MeterID); err != nil {
		return nil, err
	}
	if m.Owner != t.caller.MSPID {
		return nil, greenmint.Errorf(greenmint.EFORBIDDEN, "meter %s belongs to %s; only its owner may amend it", m.ID, m.Owner)
	}
	if m.Status != greenmint.StatusPending {
		return nil, greenmint.Errorf(greenmint.ECONFLICT, "meter %s is %s; only a pending meter can be amended (a correction of an approved meter is a new meter: the registry suspends this one and the miner registers the corrected meter under a new ID)", m.ID, m.Status)
	}
	req := (*greenmint.RegisterMeterRequest)(r)
	if err := t.checkMeter(req); err != nil {
		return nil, err
	}
	before, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("chaincode: encode meter: %w", err)
	}
	oldSite := m.SiteID
	setMeter(&m, req)
	after, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("chaincode: encode meter: %w", err)
	}
	if bytes.Equal(before, after) {
		return m, nil
	}
	if m.SiteID != oldSite {
		if err := t.del(kindSiteMeter, oldSite, m.ID); err != nil {
			return nil, err
		}
		if err := t.put("", kindSiteMeter, m.SiteID, m.ID); err != nil {
			return nil, err
		}
	}
	m.UpdatedAt = t.stamp()
	return m, t.put(m, kindMeter, m.ID)
}

func (t *txn) siteHistory(a archive, q *greenmint.IDQuery) (any, error) {
	if err := t.mustGet(nil, "site", kindSite, q.ID); err != nil {
		return nil, err
	}
	return history(a, kindSite, q.ID)
}

func (t *txn) meterHistory(a archive, q *greenmint.IDQuery) (any, error) {
	if err := t.mustGet(nil, "meter", kindMeter, q.ID); err != nil {
		return nil, err
	}
	return history(a, kindMeter, q.ID)
}
