package statement

import (
	"fmt"
	"net/url"
	"sort"
	"time"

	"github.com/greenmint/greenmint"
)

// Version is the version of the Document this package builds, signs and
// verifies (docs/statement.md).
const Version = 1

// Units of a part's quantity, by instrument.
const (
	UnitWh    = "Wh"    // EAC: 1 unit = 1 Wh
	UnitGCO2e = "gCO2e" // CO2E: 1 unit = 1 gCO2e
)

// Input is what a statement is made from, all of it as the ledger holds it.
type Input struct {
	// Statement is the retirement statement (GetRetirement).
	Statement greenmint.RetirementStatement
	// Block is the number of the block that committed Statement.TxID.
	Block uint64
	// Batches holds one entry for each of the statement's parts, in any
	// order.
	Batches []Batch
	// VerifyURL is the statement's public verification URL, absolute
	// (http or https), e.g. https://registry.example/v1/public/retirements/RET-….
	VerifyURL string
}

// Batch is what one part of a statement is read from: the batch, its
// attestation as minted, and its site.
type Batch struct {
	Batch       greenmint.Batch             // GetBatch
	Attestation greenmint.AttestationRecord // GetAttestation of Batch.AttestationID
	Site        greenmint.Site              // GetSite of Batch.SiteID
}

// Document is a statement's figures: what the PDF shows and the JWS signs,
// encoded with greenmint.Canonical. Its fields are defined in
// docs/statement.md; a change to them is a new Version.
type Document struct {
	Version       int64   `json:"version"`
	ID            string  `json:"id"`
	RetiredBy     string  `json:"retired_by"` // the retiring organisation's MSP ID
	Beneficiary   string  `json:"beneficiary"`
	Jurisdiction  string  `json:"jurisdiction"`
	Purpose       string  `json:"purpose"`
	ReportingYear int64   `json:"reporting_year"`
	Reason        string  `json:"reason"`
	RetiredAt     string  `json:"retired_at"`
	TxID          string  `json:"tx_id"`
	Block         uint64  `json:"block"`
	VerifyURL     string  `json:"verify_url"`
	Parts         []Part  `json:"parts"`  // in the statement's order
	Totals        []Total `json:"totals"` // one per instrument retired, sorted by instrument
}

// Part is one batch's part of a statement.
type Part struct {
	BatchID      string               `json:"batch_id"`
	Instrument   greenmint.Instrument `json:"instrument"`
	Quantity     int64                `json:"quantity"` // units retired
	Unit         string               `json:"unit"`     // UnitWh or UnitGCO2e
	SiteID       string               `json:"site_id"`
	SiteName     string               `json:"site_name"`
	Country      string               `json:"country"` // ISO 3166-1 alpha-2
	GridRegion   string               `json:"grid_region"`
	Technologies []string             `json:"technologies"` // of the allocations with matched energy, sorted, distinct
	PeriodStart  string               `json:"period_start"` // inclusive
	PeriodEnd    string               `json:"period_end"`   // exclusive
	PeriodHours  int64                `json:"period_hours"`
	SurplusHours int64                `json:"surplus_hours"`         // attested hours whose grid state is surplus
	SurplusShare string               `json:"surplus_share_percent"` // SurplusHours/PeriodHours in percent, two decimals, half up
	// AttestationID and MintTxID tie the part to the ledger: the
	// attestation's SHA-256 and the transaction that minted the batch.
	AttestationID string `json:"attestation_id"`
	MintTxID      string `json:"mint_tx_id"`
	// ReplacedBy is the batch that replaced this one when the registry
	// withdrew it after a correction; its retirements carry over.
	ReplacedBy string `json:"replaced_by,omitempty"`
}

// Total is the sum of a statement's parts of one instrument.
type Total struct {
	Instrument greenmint.Instrument `json:"instrument"`
	Quantity   int64                `json:"quantity"`
	Unit       string               `json:"unit"`
}

// Build derives a statement's Document from what the ledger holds. It
// refuses (invalid) an input whose pieces do not belong together: a part
// without its batch or with a batch it does not name, an attestation of
// another batch, site or period, a site other than the batch's.
func Build(in Input) (*Document, error) {
	const op = "statement.Build"
	st := in.Statement
	if st.ID == "" || st.TxID == "" {
		return nil, greenmint.Errorf(greenmint.EINVALID, "%s: the statement has no ID or transaction", op)
	}
	if len(st.Parts) == 0 {
		return nil, greenmint.Errorf(greenmint.EINVALID, "%s: statement %s has no parts", op, st.ID)
	}
	if err := checkURL(in.VerifyURL); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	byID := make(map[string]*Batch, len(in.Batches))
	for i := range in.Batches {
		id := in.Batches[i].Batch.ID
		if byID[id] != nil {
			return nil, greenmint.Errorf(greenmint.EINVALID, "%s: batch %s is given twice", op, id)
		}
		byID[id] = &in.Batches[i]
	}
	if len(in.Batches) != len(st.Parts) {
		return nil, greenmint.Errorf(greenmint.EINVALID, "%s: statement %s has %d parts, %d batches are given", op, st.ID, len(st.Parts), len(in.Batches))
	}
	d := &Document{
		Version: Version, ID: st.ID, RetiredBy: st.Owner, Beneficiary: st.Beneficiary, Jurisdiction: st.Jurisdiction,
		Purpose: st.Purpose, ReportingYear: st.ReportingYear, Reason: st.Reason, RetiredAt: st.RetiredAt,
		TxID: st.TxID, Block: in.Block, VerifyURL: in.VerifyURL, Parts: []Part{},
	}
	for i, p := range st.Parts {
		b := byID[p.BatchID]
		if b == nil {
			return nil, greenmint.Errorf(greenmint.EINVALID, "%s: part %d: batch %s is not given", op, i+1, p.BatchID)
		}
		part, err := buildPart(p, b)
		if err != nil {
			return nil, fmt.Errorf("%s: part %d (%s): %w", op, i+1, p.BatchID, err)
		}
		d.Parts = append(d.Parts, part)
	}
	var err error
	if d.Totals, err = totals(d.Parts); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return d, nil
}

func buildPart(p greenmint.RetirementPart, src *Batch) (Part, error) {
	b, rec, site := src.Batch, src.Attestation, src.Site
	a := rec.Attestation.Attestation
	unit, ok := unitOf(p.Instrument)
	switch {
	case !ok:
		return Part{}, greenmint.Errorf(greenmint.EINVALID, "instrument %q is not EAC or CO2E", p.Instrument)
	case p.Quantity <= 0:
		return Part{}, greenmint.Errorf(greenmint.EINVALID, "quantity %d is not positive", p.Quantity)
	case b.Instrument != p.Instrument || a.Instrument != p.Instrument:
		return Part{}, greenmint.Errorf(greenmint.EINVALID, "the part is %s, the batch %s, its attestation %s", p.Instrument, b.Instrument, a.Instrument)
	case rec.ID != b.AttestationID || rec.BatchID != b.ID:
		return Part{}, greenmint.Errorf(greenmint.EINVALID, "attestation %s of batch %s is not the batch's attestation %s", rec.ID, rec.BatchID, b.AttestationID)
	case site.ID != b.SiteID || a.SiteID != b.SiteID:
		return Part{}, greenmint.Errorf(greenmint.EINVALID, "the batch's site is %s, the site given %s, the attestation's %s", b.SiteID, site.ID, a.SiteID)
	case site.Country != b.Country:
		return Part{}, greenmint.Errorf(greenmint.EINVALID, "the batch's country is %s, its site's %s", b.Country, site.Country)
	case a.PeriodStart != b.PeriodStart || a.PeriodEnd != b.PeriodEnd:
		return Part{}, greenmint.Errorf(greenmint.EINVALID, "the batch's period %s–%s is not its attestation's %s–%s", b.PeriodStart, b.PeriodEnd, a.PeriodStart, a.PeriodEnd)
	}
	hours, err := periodHours(a.PeriodStart, a.PeriodEnd)
	if err != nil {
		return Part{}, err
	}
	surplus := surplusHours(a.Hours)
	if surplus > hours {
		return Part{}, greenmint.Errorf(greenmint.EINVALID, "%d surplus hours in a period of %d hours", surplus, hours)
	}
	return Part{
		BatchID: b.ID, Instrument: p.Instrument, Quantity: p.Quantity, Unit: unit,
		SiteID: site.ID, SiteName: site.Name, Country: site.Country, GridRegion: site.GridRegion,
		Technologies: technologies(a.Hours), PeriodStart: a.PeriodStart, PeriodEnd: a.PeriodEnd,
		PeriodHours: hours, SurplusHours: surplus, SurplusShare: percent(surplus, hours),
		AttestationID: rec.ID, MintTxID: b.MintTxID, ReplacedBy: b.ReplacedBy,
	}, nil
}

// surplusHours counts the attested hours whose grid state is
// greenmint.GridSurplus. Gaps (hours left out for missing data) have no
// grid state and are not counted.
func surplusHours(hours []greenmint.AttestedHour) int64 {
	var n int64
	for _, h := range hours {
		if h.GridState == greenmint.GridSurplus {
			n++
		}
	}
	return n
}

// technologies lists the distinct technologies, sorted, of the allocations
// that matched energy in the hours: the generation behind the batch.
func technologies(hours []greenmint.AttestedHour) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, h := range hours {
		for _, al := range h.Allocations {
			if al.MatchedWh > 0 && !seen[al.Technology] {
				seen[al.Technology] = true
				out = append(out, al.Technology)
			}
		}
	}
	sort.Strings(out)
	return out
}

// percent renders num/den as a percentage with two decimals, rounded half
// up, in integers only: the hundredths of a percent are
// floor((20000·num + den) / (2·den)). It needs 0 ≤ num ≤ den and
// 0 < den ≤ 10^12 (a period is at most 31 days of hours); outside that it
// returns "".
func percent(num, den int64) string {
	if den <= 0 || den > 1e12 || num < 0 || num > den {
		return ""
	}
	bp := (20000*num + den) / (2 * den)
	return fmt.Sprintf("%d.%02d", bp/100, bp%100)
}

func periodHours(start, end string) (int64, error) {
	s, err := greenmint.ParseTime(start)
	if err != nil {
		return 0, err
	}
	e, err := greenmint.ParseTime(end)
	if err != nil {
		return 0, err
	}
	d := e.Sub(s)
	if d <= 0 || d%time.Hour != 0 {
		return 0, greenmint.Errorf(greenmint.EINVALID, "period %s–%s is not a positive number of whole hours", start, end)
	}
	return int64(d / time.Hour), nil
}

func unitOf(inst greenmint.Instrument) (string, bool) {
	switch inst {
	case greenmint.EAC:
		return UnitWh, true
	case greenmint.CO2E:
		return UnitGCO2e, true
	}
	return "", false
}

// totals sums the parts by instrument, sorted by instrument.
func totals(parts []Part) ([]Total, error) {
	var out []Total
	for _, p := range parts {
		i := sort.Search(len(out), func(i int) bool { return out[i].Instrument >= p.Instrument })
		if i == len(out) || out[i].Instrument != p.Instrument {
			out = append(out[:i], append([]Total{{Instrument: p.Instrument, Unit: p.Unit}}, out[i:]...)...)
		}
		q, err := greenmint.AddQty(out[i].Quantity, p.Quantity)
		if err != nil {
			return nil, err
		}
		out[i].Quantity = q
	}
	return out, nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return greenmint.Errorf(greenmint.EINVALID, "verify URL %q is not an absolute http(s) URL", s)
	}
	return nil
}
