package greenmint

import "regexp"

// Amendments. A miner corrects what it registered of a site or meter while
// the entry is pending: AmendSite and AmendMeter take the whole entry again,
// as registered (the ID names it and cannot change), check it as
// registration checks it and replace the entry; the ledger keeps every
// earlier version in the key's history (QuerySiteHistory,
// QueryMeterHistory). An approved or suspended entry is never amended: the
// readings, attestations and batches behind it were checked against what
// was approved, so a correction then is a new entry under a new ID, with
// the old one suspended by the registry.

// AmendSiteRequest replaces a pending site's registration (AmendSite):
// every field as in RegisterSiteRequest, SiteID naming the site.
type AmendSiteRequest RegisterSiteRequest

// AmendMeterRequest replaces a pending meter's registration (AmendMeter):
// every field as in RegisterMeterRequest, MeterID naming the meter; SiteID
// may name another site of the same owner.
type AmendMeterRequest RegisterMeterRequest

// MaxGridRegionLen bounds a grid region code's length.
const MaxGridRegionLen = 32

// gridRegionPattern is the form of a grid region code: upper-case letters
// and digits in groups joined by "-", as ISO 3166-1 alpha-2 (ES), ISO
// 3166-2 (ES-CN) and grid-zone codes (US-CAL-CISO, DK-DK1) are written.
var gridRegionPattern = regexp.MustCompile(`^[A-Z0-9]+(-[A-Z0-9]+)*$`)

// IsGridRegion reports whether region is written as a grid region code:
// upper-case letters and digits in groups joined by "-", at most
// MaxGridRegionLen characters (ES, ES-CN, US-CAL-CISO; never a country's
// name such as Spain). A site's grid_region and the regions of an
// emission-factor dataset are such codes; whether a published dataset has
// the region is the contract's check (RegisterSite, AmendSite).
func IsGridRegion(region string) bool {
	return len(region) <= MaxGridRegionLen && gridRegionPattern.MatchString(region)
}
