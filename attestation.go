package greenmint

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"
)

// AttestationVersion is the version of the attestation format this code
// builds and verifies.
const AttestationVersion = 1

// MaxAttestationHours bounds an attestation's period: 31 days of hours.
const MaxAttestationHours = 31 * 24

// Grid states recorded on an attested hour.
const (
	GridSurplus = "surplus" // a surplus or curtailment hour on the grid
	GridNormal  = "normal"
	GridUnknown = "unknown"
)

// Allocation is the part of one generation meter's hour that an attestation
// claims (R1).
type Allocation struct {
	MeterID     string `json:"meter_id"`
	Technology  string `json:"technology"`
	GeneratedWh int64  `json:"generated_wh"` // what the meter measured in the hour
	AvailableWh int64  `json:"available_wh"` // generated less what earlier attestations took
	MatchedWh   int64  `json:"matched_wh"`   // what this attestation takes
}

// AttestedHour is one hour of an attestation: consumption C, available
// renewable supply S and matched energy M ≤ min(C, S) (R2).
type AttestedHour struct {
	Start         string `json:"start"`
	ConsumptionWh int64  `json:"consumption_wh"`
	SupplyWh      int64  `json:"supply_wh"`
	MatchedWh     int64  `json:"matched_wh"`
	GridState     string `json:"grid_state"`
	// GridFactor is the hour's grid factor (gCO2e/MWh) when the pinned
	// dataset has an hourly series for the region; it then replaces the
	// combined-margin factors for every technology in the hour.
	GridFactor  *int64       `json:"grid_g_per_mwh,omitempty"`
	Allocations []Allocation `json:"allocations"` // sorted by meter ID
}

// Totals are the sums over an attestation's hours.
type Totals struct {
	ConsumptionWh int64 `json:"consumption_wh"`
	SupplyWh      int64 `json:"supply_wh"`
	MatchedWh     int64 `json:"matched_wh"`
}

// Factors are the emission factors an attestation used, copied from its
// pinned dataset so a verifier can recompute the CO2E quantity offline.
type Factors struct {
	GridRegion   string            `json:"grid_region"`
	Firm         int64             `json:"firm_g_per_mwh"`
	Intermittent int64             `json:"intermittent_g_per_mwh"`
	Lifecycle    []LifecycleFactor `json:"lifecycle"` // sorted by technology
}

// Attestation is an oracle's signed statement of a site's hourly matched
// renewable consumption over a period of whole hours.
type Attestation struct {
	Version      int64      `json:"version"`
	SiteID       string     `json:"site_id"`
	Instrument   Instrument `json:"instrument"`
	PeriodStart  string     `json:"period_start"` // inclusive, on the hour
	PeriodEnd    string     `json:"period_end"`   // exclusive, on the hour
	Dataset      DatasetPin `json:"dataset"`
	Factors      Factors    `json:"factors"`
	ReadingsRoot string     `json:"readings_root"` // hex Merkle root over the readings used
	// ConsumptionMeters are the site's consumption meters whose readings
	// make up each hour's consumption, sorted.
	ConsumptionMeters []string       `json:"consumption_meters"`
	Hours             []AttestedHour `json:"hours"` // ascending, hours with data
	Gaps              []string       `json:"gaps"`  // ascending: the period's other hours, left out for missing data
	Totals            Totals         `json:"totals"`
	Quantity          int64          `json:"quantity"` // units to mint
	AttestedAt        string         `json:"attested_at"`
}

// OracleSignature is one oracle's Ed25519 signature over an attestation.
type OracleSignature struct {
	OracleID  string `json:"oracle_id"`
	Signature []byte `json:"signature"`
}

// SignedAttestation is an attestation with its oracles' signatures.
type SignedAttestation struct {
	Attestation Attestation       `json:"attestation"`
	Signatures  []OracleSignature `json:"signatures"`
}

// Canonical returns the attestation's canonical bytes.
func (a *Attestation) Canonical() ([]byte, error) { return Canonical(a) }

// An attestation has one encoding (docs/encoding.md): a list that is nil in
// Go and a list that is empty are the same list, so both encode as [] and
// never as null. Without this, "gaps": null and "gaps": [] would decode to
// two values that pass CheckAttestation alike and hash to two IDs, and R5's
// "never mints twice", which looks attestations up by ID, could be sidestepped
// by re-spelling one. The MarshalJSON methods below normalise every list of
// the attestation's types, so whatever builds or decodes an attestation, its
// canonical bytes, ID and signatures are the same.

// MarshalJSON encodes the attestation with its lists as JSON arrays, never
// null.
func (a Attestation) MarshalJSON() ([]byte, error) {
	type plain Attestation
	p := plain(a)
	p.ConsumptionMeters = nonNil(p.ConsumptionMeters)
	p.Hours = nonNil(p.Hours)
	p.Gaps = nonNil(p.Gaps)
	return marshalPlain(p)
}

// MarshalJSON encodes the hour with its allocations as a JSON array, never
// null.
func (h AttestedHour) MarshalJSON() ([]byte, error) {
	type plain AttestedHour
	p := plain(h)
	p.Allocations = nonNil(p.Allocations)
	return marshalPlain(p)
}

// MarshalJSON encodes the factors with the lifecycle factors as a JSON
// array, never null.
func (f Factors) MarshalJSON() ([]byte, error) {
	type plain Factors
	p := plain(f)
	p.Lifecycle = nonNil(p.Lifecycle)
	return marshalPlain(p)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// marshalPlain encodes v as Canonical does, for a MarshalJSON method: the
// encoder that calls it keeps the bytes as they are (it escapes HTML
// characters only if it was asked to, and Canonical does not ask).
func marshalPlain(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// ID returns the attestation's ID: the hex SHA-256 of its canonical bytes.
func (a *Attestation) ID() (string, error) {
	b, err := a.Canonical()
	if err != nil {
		return "", err
	}
	return SHA256Hex(b), nil
}

var renewables = map[string]bool{ // technology → intermittent
	"biomass": false, "geothermal": false, "hydro": false,
	"solar_csp": true, "solar_pv_rooftop": true, "solar_pv_utility": true,
	"wind_onshore": true, "wind_offshore": true, "ocean": true,
}

// RenewableTechnologies lists the generation technologies that may back
// certificates, in order.
func RenewableTechnologies() []string {
	out := make([]string, 0, len(renewables))
	for t := range renewables {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// IsIntermittent reports whether a renewable technology takes the
// intermittent combined-margin factor (solar, wind, ocean) rather than the
// firm one (hydro, geothermal, biomass). ok is false for a technology that is
// not renewable.
func IsIntermittent(technology string) (intermittent, ok bool) {
	intermittent, ok = renewables[technology]
	return intermittent, ok
}

// ParseHour parses an RFC 3339 UTC timestamp that must fall on the hour.
func ParseHour(s string) (time.Time, error) {
	t, err := ParseTime(s)
	if err != nil {
		return time.Time{}, err
	}
	if t.Truncate(time.Hour) != t {
		return time.Time{}, Errorf(EINVALID, "time %q is not on the hour", s)
	}
	return t, nil
}

// ParseTime parses an RFC 3339 timestamp in UTC in its one canonical form,
// whole seconds ending in Z (2023-06-01T00:00:00Z), so that one instant has
// one spelling in keys and signed bytes.
func ParseTime(s string) (time.Time, error) {
	if !strings.HasSuffix(s, "Z") {
		return time.Time{}, Errorf(EINVALID, "time %q is not RFC 3339 UTC (ending in Z)", s)
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, Errorf(EINVALID, "time %q is not RFC 3339", s)
	}
	if FormatTime(t) != s {
		return time.Time{}, Errorf(EINVALID, "time %q is not in canonical form %q", s, FormatTime(t))
	}
	return t.UTC(), nil
}

// FormatTime renders t as RFC 3339 UTC, the form every stored time takes.
func FormatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// CheckAttestation checks everything about an attestation that needs no
// ledger state: the period, the hours, R2's arithmetic, the factors and the
// quantity. It returns an EINVALID error naming the first fault.
func CheckAttestation(a *Attestation) error {
	if a.Version != AttestationVersion {
		return Errorf(EINVALID, "attestation version %d, want %d", a.Version, AttestationVersion)
	}
	if a.SiteID == "" {
		return Errorf(EINVALID, "attestation has no site_id")
	}
	if a.Instrument != EAC && a.Instrument != CO2E {
		return Errorf(EINVALID, "instrument %q is neither EAC nor CO2E", a.Instrument)
	}
	start, err := ParseHour(a.PeriodStart)
	if err != nil {
		return fmt.Errorf("period_start: %w", err)
	}
	end, err := ParseHour(a.PeriodEnd)
	if err != nil {
		return fmt.Errorf("period_end: %w", err)
	}
	if !end.After(start) {
		return Errorf(EINVALID, "period_end %s is not after period_start %s", a.PeriodEnd, a.PeriodStart)
	}
	if end.Sub(start) > MaxAttestationHours*time.Hour {
		return Errorf(EINVALID, "period of %s exceeds 31 days", end.Sub(start))
	}
	at, err := ParseTime(a.AttestedAt)
	if err != nil {
		return fmt.Errorf("attested_at: %w", err)
	}
	if at.Before(end) {
		return Errorf(EINVALID, "attested_at %s is before period_end %s: an attestation covers only hours that ended before it was attested (R12)", a.AttestedAt, a.PeriodEnd)
	}
	if a.Dataset.ID == "" || a.Dataset.Version == "" {
		return Errorf(EINVALID, "dataset pin is incomplete")
	}
	if !isLowerHex64(a.Dataset.SHA256) {
		return Errorf(EINVALID, "dataset sha256 must be 64 lower-case hex digits")
	}
	if !isLowerHex64(a.ReadingsRoot) {
		return Errorf(EINVALID, "readings_root must be 64 lower-case hex digits")
	}
	if len(a.ConsumptionMeters) == 0 {
		return Errorf(EINVALID, "attestation names no consumption meters")
	}
	for i, m := range a.ConsumptionMeters {
		if m == "" || (i > 0 && a.ConsumptionMeters[i-1] >= m) {
			return Errorf(EINVALID, "consumption_meters must be non-empty, sorted and unique")
		}
	}
	if len(a.Hours) == 0 {
		return Errorf(EINVALID, "attestation has no hours")
	}
	seen := make(map[time.Time]bool, len(a.Hours)+len(a.Gaps))
	var prev time.Time
	var tot Totals
	for i := range a.Hours {
		h := &a.Hours[i]
		t, err := ParseHour(h.Start)
		if err != nil {
			return fmt.Errorf("hour %d: %w", i, err)
		}
		if t.Before(start) || !t.Before(end) {
			return Errorf(EINVALID, "hour %s lies outside the period", h.Start)
		}
		if i > 0 && !t.After(prev) {
			return Errorf(EINVALID, "hour %s is not after the previous hour", h.Start)
		}
		prev = t
		seen[t] = true
		if err := checkHour(h); err != nil {
			return fmt.Errorf("hour %s: %w", h.Start, err)
		}
		if tot.ConsumptionWh, err = AddQty(tot.ConsumptionWh, h.ConsumptionWh); err != nil {
			return err
		}
		if tot.SupplyWh, err = AddQty(tot.SupplyWh, h.SupplyWh); err != nil {
			return err
		}
		if tot.MatchedWh, err = AddQty(tot.MatchedWh, h.MatchedWh); err != nil {
			return err
		}
	}
	prev = time.Time{}
	for i, g := range a.Gaps {
		t, err := ParseHour(g)
		if err != nil {
			return fmt.Errorf("gap: %w", err)
		}
		if t.Before(start) || !t.Before(end) {
			return Errorf(EINVALID, "gap %s lies outside the period", g)
		}
		if i > 0 && !t.After(prev) {
			return Errorf(EINVALID, "gap %s is not after the previous gap: gaps are ascending", g)
		}
		prev = t
		if seen[t] {
			return Errorf(EINVALID, "gap %s is also an attested hour", g)
		}
		seen[t] = true
	}
	// Every hour of the period is an attested hour or a gap, so the same
	// data cannot be attested twice, once with its gaps and once without.
	if periodHours := int(end.Sub(start) / time.Hour); len(seen) != periodHours {
		return Errorf(EINVALID, "%d attested hours and %d gaps do not cover the period's %d hours", len(a.Hours), len(a.Gaps), periodHours)
	}
	if tot != a.Totals {
		return Errorf(EINVALID, "totals %+v do not equal the sums of the hours %+v", a.Totals, tot)
	}
	if err := checkFactors(&a.Factors); err != nil {
		return err
	}
	q, err := ComputeQuantity(a)
	if err != nil {
		return err
	}
	if q != a.Quantity {
		return Errorf(EINVALID, "quantity %d, but the hours give %d", a.Quantity, q)
	}
	if q <= 0 {
		return Errorf(EINVALID, "attestation yields no units")
	}
	return nil
}

// CheckAttestationTime enforces R12 against the ledger's time: nothing is
// certified ahead of time. The attestation covers only hours that ended
// before it was attested (period_end ≤ attested_at, which CheckAttestation
// also checks), and it is minted only after it was attested, by the
// transaction's timestamp txTime (attested_at ≤ txTime), never by a clock
// the client chose inside the signed bytes. Both faults are EINVALID.
func CheckAttestationTime(a *Attestation, txTime time.Time) error {
	end, err := ParseHour(a.PeriodEnd)
	if err != nil {
		return fmt.Errorf("period_end: %w", err)
	}
	at, err := ParseTime(a.AttestedAt)
	if err != nil {
		return fmt.Errorf("attested_at: %w", err)
	}
	if at.Before(end) {
		return Errorf(EINVALID, "attested_at %s is before period_end %s: an attestation covers only hours that ended before it was attested (R12)", a.AttestedAt, a.PeriodEnd)
	}
	if at.After(txTime) {
		return Errorf(EINVALID, "attested_at %s is after the ledger's time %s: nothing is certified ahead of time (R12)", a.AttestedAt, FormatTime(txTime))
	}
	return nil
}

// isLowerHex64 reports whether s is 64 lower-case hex digits, the one
// spelling of a SHA-256 in signed bytes.
func isLowerHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func checkHour(h *AttestedHour) error {
	if h.ConsumptionWh < 0 || h.SupplyWh < 0 || h.MatchedWh < 0 {
		return Errorf(EINVALID, "negative energy")
	}
	if h.GridFactor != nil && *h.GridFactor < 0 {
		return Errorf(EINVALID, "negative hourly grid factor")
	}
	switch h.GridState {
	case GridSurplus, GridNormal, GridUnknown:
	default:
		return Errorf(EINVALID, "grid_state %q is not surplus, normal or unknown", h.GridState)
	}
	var supply, matched int64
	var err error
	for i, al := range h.Allocations {
		if al.MeterID == "" || (i > 0 && h.Allocations[i-1].MeterID >= al.MeterID) {
			return Errorf(EINVALID, "allocation meter %q is empty, repeated or out of order: allocations are sorted by meter ID", al.MeterID)
		}
		if _, ok := IsIntermittent(al.Technology); !ok {
			return Errorf(EINVALID, "technology %q of meter %s is not renewable", al.Technology, al.MeterID)
		}
		if al.GeneratedWh < 0 || al.AvailableWh < 0 || al.MatchedWh < 0 {
			return Errorf(EINVALID, "meter %s: negative energy", al.MeterID)
		}
		if al.AvailableWh > al.GeneratedWh {
			return Errorf(EINVALID, "meter %s: available %d Wh exceeds generated %d Wh", al.MeterID, al.AvailableWh, al.GeneratedWh)
		}
		if al.MatchedWh > al.AvailableWh {
			return Errorf(EINVALID, "meter %s: matched %d Wh exceeds available %d Wh", al.MeterID, al.MatchedWh, al.AvailableWh)
		}
		if supply, err = AddQty(supply, al.AvailableWh); err != nil {
			return err
		}
		if matched, err = AddQty(matched, al.MatchedWh); err != nil {
			return err
		}
	}
	if supply != h.SupplyWh {
		return Errorf(EINVALID, "supply %d Wh is not the sum of the allocations' available energy %d Wh", h.SupplyWh, supply)
	}
	if matched != h.MatchedWh {
		return Errorf(EINVALID, "matched %d Wh is not the sum of the allocations %d Wh", h.MatchedWh, matched)
	}
	if h.MatchedWh > min(h.ConsumptionWh, h.SupplyWh) {
		return Errorf(EINVALID, "matched %d Wh exceeds min(consumption %d, supply %d) (R2)", h.MatchedWh, h.ConsumptionWh, h.SupplyWh)
	}
	return nil
}

func checkFactors(f *Factors) error {
	if f.GridRegion == "" {
		return Errorf(EINVALID, "factors name no grid region")
	}
	if f.Firm < 0 || f.Intermittent < 0 {
		return Errorf(EINVALID, "negative grid factor")
	}
	for i, l := range f.Lifecycle {
		if l.Factor < 0 {
			return Errorf(EINVALID, "negative lifecycle factor for %s", l.Technology)
		}
		if i > 0 && f.Lifecycle[i-1].Technology >= l.Technology {
			return Errorf(EINVALID, "lifecycle factors are not sorted and unique by technology")
		}
	}
	return nil
}

// LifecycleFor returns the lifecycle factor of a technology.
func (f *Factors) LifecycleFor(technology string) (int64, bool) {
	i := sort.Search(len(f.Lifecycle), func(i int) bool { return f.Lifecycle[i].Technology >= technology })
	if i < len(f.Lifecycle) && f.Lifecycle[i].Technology == technology {
		return f.Lifecycle[i].Factor, true
	}
	return 0, false
}

// ComputeQuantity returns the units an attestation mints. For EAC it is the
// matched Wh. For CO2E it is
//
//	floor( Σ hours Σ allocations matched Wh × max(0, grid − lifecycle) / 10^6 )
//
// with the grid factor for intermittent or firm technologies, computed with
// big integers; a result beyond int64 is ErrOverflow.
func ComputeQuantity(a *Attestation) (int64, error) {
	switch a.Instrument {
	case EAC:
		var s int64
		for _, h := range a.Hours {
			var err error
			if s, err = AddQty(s, h.MatchedWh); err != nil {
				return 0, err
			}
		}
		return s, nil
	case CO2E:
		sum := new(big.Int)
		term := new(big.Int)
		for _, h := range a.Hours {
			for _, al := range h.Allocations {
				intermittent, ok := IsIntermittent(al.Technology)
				if !ok {
					return 0, Errorf(EINVALID, "technology %q is not renewable", al.Technology)
				}
				grid := a.Factors.Firm
				if intermittent {
					grid = a.Factors.Intermittent
				}
				if h.GridFactor != nil {
					grid = *h.GridFactor
				}
				life, ok := a.Factors.LifecycleFor(al.Technology)
				if !ok {
					return 0, Errorf(EINVALID, "no lifecycle factor for technology %q", al.Technology)
				}
				if grid <= life || al.MatchedWh <= 0 {
					continue
				}
				term.SetInt64(al.MatchedWh)
				term.Mul(term, big.NewInt(grid-life))
				sum.Add(sum, term)
			}
		}
		sum.Quo(sum, big.NewInt(WhPerMWh))
		if !sum.IsInt64() {
			return 0, ErrOverflow
		}
		return sum.Int64(), nil
	}
	return 0, Errorf(EINVALID, "instrument %q is neither EAC nor CO2E", a.Instrument)
}

// SignAttestation signs the attestation's canonical bytes as an oracle.
func SignAttestation(a *Attestation, oracleID string, key ed25519.PrivateKey) (OracleSignature, error) {
	b, err := a.Canonical()
	if err != nil {
		return OracleSignature{}, err
	}
	return OracleSignature{OracleID: oracleID, Signature: ed25519.Sign(key, SigningBytes(ContextAttestation, b))}, nil
}

// OracleLookup returns an oracle's registration, or an ENOTFOUND error.
type OracleLookup func(oracleID string) (*OracleRegistration, error)

// VerifyAttestationSignatures enforces R5: every signature must come from a
// distinct, registered, active oracle key and verify over the attestation's
// exact canonical bytes, and there must be at least threshold of them. One
// bad signature rejects the whole attestation.
func VerifyAttestationSignatures(a *Attestation, sigs []OracleSignature, lookup OracleLookup, threshold int64) error {
	if threshold < 1 {
		return Errorf(EFORBIDDEN, "no oracle signature threshold is set")
	}
	b, err := a.Canonical()
	if err != nil {
		return err
	}
	msg := SigningBytes(ContextAttestation, b)
	ids := make(map[string]bool, len(sigs))
	keys := make(map[string]bool, len(sigs))
	for _, s := range sigs {
		if ids[s.OracleID] {
			return Errorf(EINVALID, "oracle %s signed twice", s.OracleID)
		}
		ids[s.OracleID] = true
		reg, err := lookup(s.OracleID)
		if err != nil {
			if ErrorCode(err) == ENOTFOUND {
				return Errorf(EFORBIDDEN, "oracle %s is not registered", s.OracleID)
			}
			return err
		}
		if reg.Status != OracleActive {
			return Errorf(EFORBIDDEN, "oracle %s is %s", s.OracleID, reg.Status)
		}
		if keys[string(reg.PublicKey)] {
			return Errorf(EINVALID, "oracle %s shares a key with another signer", s.OracleID)
		}
		keys[string(reg.PublicKey)] = true
		if len(reg.PublicKey) != ed25519.PublicKeySize || !ed25519.Verify(reg.PublicKey, msg, s.Signature) {
			return Errorf(EFORBIDDEN, "signature of oracle %s does not verify over the attestation", s.OracleID)
		}
	}
	if int64(len(ids)) < threshold {
		return Errorf(EFORBIDDEN, "%d oracle signatures, threshold is %d", len(ids), threshold)
	}
	return nil
}

// MatchHour computes one hour as an oracle does: M = min(C, S), the matched
// energy taken from the supplies in the order given (callers sort them by
// meter ID so every oracle computes the same bytes).
func MatchHour(start string, consumptionWh int64, supplies []Allocation, gridState string) (AttestedHour, error) {
	h := AttestedHour{Start: start, ConsumptionWh: consumptionWh, GridState: gridState}
	var err error
	for _, s := range supplies {
		if h.SupplyWh, err = AddQty(h.SupplyWh, s.AvailableWh); err != nil {
			return AttestedHour{}, err
		}
	}
	h.MatchedWh = min(consumptionWh, h.SupplyWh)
	left := h.MatchedWh
	h.Allocations = make([]Allocation, len(supplies))
	for i, s := range supplies {
		s.MatchedWh = min(left, s.AvailableWh)
		left -= s.MatchedWh
		h.Allocations[i] = s
	}
	return h, nil
}
