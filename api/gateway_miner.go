package api

import (
	"bytes"
	"context"
	"mime"
	"net/http"
	"sort"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/auth"
	"github.com/greenmint/greenmint/oracle"
)

// SiteBody registers (or, while pending, amends) a mining site.
type SiteBody struct {
	SiteID         string          `json:"site_id" minLength:"1" maxLength:"64"`
	Name           string          `json:"name" minLength:"1" maxLength:"200"`
	Country        string          `json:"country" minLength:"2" maxLength:"2" doc:"ISO 3166-1 alpha-2"`
	GridRegion     string          `json:"grid_region" minLength:"1" maxLength:"32" doc:"A region of the dataset's grid factors, e.g. ES"`
	LatitudeMicro  int64           `json:"latitude_microdeg" minimum:"-90000000" maximum:"90000000"`
	LongitudeMicro int64           `json:"longitude_microdeg" minimum:"-180000000" maximum:"180000000"`
	CapacityW      int64           `json:"capacity_w" minimum:"1"`
	Fleet          greenmint.Fleet `json:"fleet"`
}

func (b SiteBody) request(key string) greenmint.RegisterSiteRequest {
	return greenmint.RegisterSiteRequest{Idempotent: greenmint.Idempotent{IdempotencyKey: key}, SiteID: b.SiteID, Name: b.Name, Country: b.Country,
		GridRegion: b.GridRegion, LatitudeMicro: b.LatitudeMicro, LongitudeMicro: b.LongitudeMicro, CapacityW: b.CapacityW, Fleet: b.Fleet}
}

// MeterBody registers (or, while pending, amends) a meter.
type MeterBody struct {
	MeterID         string              `json:"meter_id" minLength:"1" maxLength:"64"`
	SiteID          string              `json:"site_id" minLength:"1" maxLength:"64"`
	Kind            greenmint.MeterKind `json:"kind" enum:"consumption,generation"`
	Technology      string              `json:"technology,omitempty" maxLength:"64" doc:"Generation meters: an IPCC technology, e.g. solar_pv_utility"`
	CapacityW       int64               `json:"capacity_w" minimum:"1"`
	IntervalMinutes int64               `json:"interval_minutes" enum:"5,15,30,60"`
	PublicKey       []byte              `json:"public_key" minLength:"44" maxLength:"44" doc:"The meter's Ed25519 public key, base64 (44 characters)"`
}

func (b MeterBody) request(key string) greenmint.RegisterMeterRequest {
	return greenmint.RegisterMeterRequest{Idempotent: greenmint.Idempotent{IdempotencyKey: key}, MeterID: b.MeterID, SiteID: b.SiteID, Kind: b.Kind,
		Technology: b.Technology, CapacityW: b.CapacityW, IntervalMinutes: b.IntervalMinutes, PublicKey: b.PublicKey}
}

// AttestBody asks the oracle to attest a site's closed hours.
type AttestBody struct {
	SiteID     string                `json:"site_id" minLength:"1" maxLength:"64"`
	Instrument greenmint.Instrument  `json:"instrument,omitempty" enum:"CO2E,EAC" doc:"Default CO2E"`
	From       time.Time             `json:"from" doc:"A whole hour, UTC"`
	To         time.Time             `json:"to" doc:"A whole hour, at most 31 days after from"`
	Dataset    *greenmint.DatasetPin `json:"dataset,omitempty" doc:"Default: the newest registered dataset"`
}

// TransferBody moves tradable units to another organisation.
type TransferBody struct {
	BatchID  string `json:"batch_id" minLength:"1" maxLength:"128"`
	To       string `json:"to" minLength:"1" maxLength:"64" doc:"The receiving organisation's MSP ID"`
	Quantity int64  `json:"quantity" minimum:"1" doc:"Units (gCO2e for CO2E)"`
}

// ListBody lists part of a holding for sale.
type ListBody struct {
	BatchID    string `json:"batch_id" minLength:"1" maxLength:"128"`
	Quantity   int64  `json:"quantity" minimum:"1"`
	PriceMinor int64  `json:"price_minor" minimum:"0" doc:"Total price in the currency's minor unit"`
	Currency   string `json:"currency" minLength:"3" maxLength:"3" doc:"ISO 4217"`
}

// RetireBody retires one or several parts in one statement.
type RetireBody struct {
	Parts         []greenmint.RetirePart `json:"parts" minItems:"1" maxItems:"100"`
	Beneficiary   string                 `json:"beneficiary" minLength:"1" maxLength:"200"`
	Jurisdiction  string                 `json:"jurisdiction" minLength:"2" maxLength:"6" doc:"ISO 3166-2 or a country code"`
	Purpose       string                 `json:"purpose" enum:"scope2-market-based,voluntary-offset,compliance,other"`
	ReportingYear int64                  `json:"reporting_year" minimum:"2000" maximum:"2100"`
	Reason        string                 `json:"reason" minLength:"1" maxLength:"1000"`
}

// MatchingView is a site's hourly matching over a period: the hours of
// its minted attestations, and for the hours not yet attested what the
// oracle's readings say an attestation would.
type MatchingView struct {
	SiteID     string           `json:"site_id"`
	From       string           `json:"from"`
	To         string           `json:"to"`
	Hours      []MatchedHour    `json:"hours" doc:"Ascending; hours without data are in gaps"`
	Gaps       []string         `json:"gaps" doc:"Hours of the period with no complete data"`
	Totals     greenmint.Totals `json:"totals" doc:"Sums over hours"`
	Attested   greenmint.Totals `json:"attested" doc:"Sums over the hours minted attestations cover"`
	Pending    int64            `json:"pending_quantity" doc:"Units (CO2E) an attestation of the hours not yet attested would mint"`
	GridRegion string           `json:"grid_region"`
}

// MatchedHour is one hour: consumption, supply, matched and grid state, and
// the batch that certified it (empty while not attested).
type MatchedHour struct {
	Start         string                 `json:"start"`
	ConsumptionWh int64                  `json:"consumption_wh"`
	SupplyWh      int64                  `json:"supply_wh"`
	MatchedWh     int64                  `json:"matched_wh"`
	GridState     string                 `json:"grid_state" doc:"surplus, normal or unknown"`
	GridFactor    *int64                 `json:"grid_g_per_mwh,omitempty"`
	Allocations   []greenmint.Allocation `json:"allocations"`
	BatchID       string                 `json:"batch_id,omitempty" doc:"The batch that certified the hour; absent while not attested"`
}

func matchedHour(h greenmint.AttestedHour, batchID string) MatchedHour {
	al := h.Allocations
	if al == nil {
		al = []greenmint.Allocation{}
	}
	return MatchedHour{Start: h.Start, ConsumptionWh: h.ConsumptionWh, SupplyWh: h.SupplyWh, MatchedWh: h.MatchedWh, GridState: h.GridState,
		GridFactor: h.GridFactor, Allocations: al, BatchID: batchID}
}

func (g *Gateway) minerRoutes() {
	miner := access{roles: []greenmint.Role{greenmint.RoleMiner}}
	signedIn := access{scope: auth.ScopeLedgerRead}
	const tag = "miner"

	huma.Register(g.api, operation(http.MethodGet, "/sites", "listSites", "Sites: your organisation's (the registry and admitted auditors: everyone's)", tag, signedIn),
		func(ctx context.Context, in *struct {
			PageParams
			Owner      string `query:"owner" maxLength:"64"`
			Country    string `query:"country" maxLength:"2"`
			GridRegion string `query:"grid_region" maxLength:"32"`
			Status     string `query:"status" enum:"pending,approved,suspended"`
		}) (*listOutput[greenmint.Site], error) {
			owner, err := g.ownerScope(ctx, in.Owner)
			if err != nil {
				return nil, err
			}
			f := filterOf(in.PageParams)
			f.Owner, f.Country, f.GridRegion, f.Status = owner, in.Country, in.GridRegion, in.Status
			items, next, err := g.cfg.DB.ReadModelSites(ctx, f)
			if err != nil {
				return nil, err
			}
			return page(ctx, items, next), nil
		})
	huma.Register(g.api, operation(http.MethodPost, "/sites", "registerSite", "Register a mining site; it is pending until the registry approves it", tag, miner),
		func(ctx context.Context, in *struct {
			IdemHeader
			Body SiteBody
		}) (*writtenOutput[greenmint.Site], error) {
			return write[greenmint.Site](ctx, g, greenmint.TxRegisterSite, in.Body.request(in.IdempotencyKey))
		})
	huma.Register(g.api, operation(http.MethodGet, "/sites/{id}", "getSite", "A site", tag, signedIn),
		func(ctx context.Context, in *IDPath) (*bodyOf[greenmint.Site], error) {
			var s greenmint.Site
			if err := g.evaluate(ctx, greenmint.QueryGetSite, greenmint.IDQuery{ID: in.ID}, &s); err != nil {
				return nil, err
			}
			return &bodyOf[greenmint.Site]{s}, nil
		})
	huma.Register(g.api, operation(http.MethodPut, "/sites/{id}", "amendSite", "Amend a pending site (the whole registration again)", tag, miner),
		func(ctx context.Context, in *struct {
			IDPath
			Body SiteBody
		}) (*writtenOutput[greenmint.Site], error) {
			if in.Body.SiteID != in.ID {
				return nil, greenmint.Errorf(greenmint.EINVALID, "site_id %q differs from the path's %q", in.Body.SiteID, in.ID)
			}
			return write[greenmint.Site](ctx, g, greenmint.TxAmendSite, greenmint.AmendSiteRequest(in.Body.request(in.IdempotencyKey)))
		})
	huma.Register(g.api, operation(http.MethodGet, "/sites/{id}/history", "siteHistory", "Every committed change of a site", tag, signedIn),
		func(ctx context.Context, in *historyInput) (*listOutput[greenmint.HistoryEntry], error) {
			return g.history(ctx, greenmint.QuerySiteHistory, in)
		})
	huma.Register(g.api, operation(http.MethodGet, "/sites/{id}/matching", "siteMatching", "A site's hourly matching from the oracle's readings: consumption, supply, matched, gaps and grid state per hour", tag, access{roles: []greenmint.Role{greenmint.RoleMiner, greenmint.RoleRegistry, greenmint.RoleAuditor, greenmint.RoleOracle}, scope: auth.ScopeReadingsRead}),
		func(ctx context.Context, in *struct {
			ID   string    `path:"id" minLength:"1" maxLength:"64"`
			From time.Time `query:"from" required:"true" doc:"A whole hour, UTC (RFC 3339)"`
			To   time.Time `query:"to" required:"true" doc:"A whole hour, at most 366 days after from"`
		}) (*bodyOf[MatchingView], error) {
			return g.matching(ctx, in.ID, in.From, in.To)
		})

	huma.Register(g.api, operation(http.MethodGet, "/meters", "listMeters", "Meters: your organisation's (the registry and admitted auditors: everyone's)", tag, signedIn),
		func(ctx context.Context, in *struct {
			PageParams
			Owner      string `query:"owner" maxLength:"64"`
			SiteID     string `query:"site_id" maxLength:"64"`
			Kind       string `query:"kind" enum:"consumption,generation"`
			Technology string `query:"technology" maxLength:"64"`
			Status     string `query:"status" enum:"pending,approved,suspended"`
		}) (*listOutput[greenmint.Meter], error) {
			owner, err := g.ownerScope(ctx, in.Owner)
			if err != nil {
				return nil, err
			}
			f := filterOf(in.PageParams)
			f.Owner, f.SiteID, f.Kind, f.Technology, f.Status = owner, in.SiteID, in.Kind, in.Technology, in.Status
			items, next, err := g.cfg.DB.ReadModelMeters(ctx, f)
			if err != nil {
				return nil, err
			}
			return page(ctx, items, next), nil
		})
	huma.Register(g.api, operation(http.MethodPost, "/meters", "registerMeter", "Register a meter; it is pending until the registry approves it", tag, miner),
		func(ctx context.Context, in *struct {
			IdemHeader
			Body MeterBody
		}) (*writtenOutput[greenmint.Meter], error) {
			return write[greenmint.Meter](ctx, g, greenmint.TxRegisterMeter, in.Body.request(in.IdempotencyKey))
		})
	huma.Register(g.api, operation(http.MethodGet, "/meters/{id}", "getMeter", "A meter", tag, signedIn),
		func(ctx context.Context, in *IDPath) (*bodyOf[greenmint.Meter], error) {
			var m greenmint.Meter
			if err := g.evaluate(ctx, greenmint.QueryGetMeter, greenmint.IDQuery{ID: in.ID}, &m); err != nil {
				return nil, err
			}
			return &bodyOf[greenmint.Meter]{m}, nil
		})
	huma.Register(g.api, operation(http.MethodPut, "/meters/{id}", "amendMeter", "Amend a pending meter (the whole registration again)", tag, miner),
		func(ctx context.Context, in *struct {
			IDPath
			Body MeterBody
		}) (*writtenOutput[greenmint.Meter], error) {
			if in.Body.MeterID != in.ID {
				return nil, greenmint.Errorf(greenmint.EINVALID, "meter_id %q differs from the path's %q", in.Body.MeterID, in.ID)
			}
			return write[greenmint.Meter](ctx, g, greenmint.TxAmendMeter, greenmint.AmendMeterRequest(in.Body.request(in.IdempotencyKey)))
		})

	readings := operation(http.MethodPost, "/readings", "sendReadings", "Send signed meter readings (JSON array or CSV "+oracle.CSVHeader+") to the oracle: a result per reading; nothing valid is lost beside a rejected one", tag,
		access{roles: []greenmint.Role{greenmint.RoleMiner}, scope: auth.ScopeReadingsWrite})
	readings.MaxBodyBytes = 32 << 20
	huma.Register(g.api, readings, func(ctx context.Context, in *struct {
		IdemHeader
		ContentType string `header:"Content-Type"`
		RawBody     []byte `contentType:"text/csv"`
	}) (*bodyOf[oracle.Summary], error) {
		return g.readings(ctx, in.ContentType, in.RawBody)
	})
	huma.Register(g.api, operation(http.MethodPost, "/attestations", "attest", "Have the oracle build, co-sign and submit an attestation of a site's closed hours; the contract mints a batch", "oracle",
		access{roles: []greenmint.Role{greenmint.RoleOracle}, scope: auth.ScopeAttestationsWrite}),
		func(ctx context.Context, in *struct {
			IdemHeader
			Body AttestBody
		}) (*bodyOf[greenmint.MintResult], error) {
			return g.attest(ctx, in.Body)
		})
	huma.Register(g.api, operation(http.MethodGet, "/attestations/{id}", "getAttestation", "A minted attestation: hours, factors, totals, readings root and oracle signatures", "audit", signedIn),
		func(ctx context.Context, in *IDPath) (*bodyOf[greenmint.AttestationRecord], error) {
			var a greenmint.AttestationRecord
			if err := g.evaluate(ctx, greenmint.QueryGetAttestation, greenmint.IDQuery{ID: in.ID}, &a); err != nil {
				return nil, err
			}
			return &bodyOf[greenmint.AttestationRecord]{a}, nil
		})

	huma.Register(g.api, operation(http.MethodPost, "/transfers", "transfer", "Transfer tradable units to another organisation; answers your holding after it", "certificates",
		access{roles: []greenmint.Role{greenmint.RoleMiner, greenmint.RoleBuyer}, scope: auth.ScopeCertificatesWrite}),
		func(ctx context.Context, in *struct {
			IdemHeader
			Body TransferBody
		}) (*writtenOutput[greenmint.Holding], error) {
			req := greenmint.TransferRequest{BatchID: in.Body.BatchID, To: in.Body.To, Quantity: in.Body.Quantity}
			req.IdempotencyKey = in.IdempotencyKey
			return write[greenmint.Holding](ctx, g, greenmint.TxTransfer, req)
		})
	huma.Register(g.api, operation(http.MethodPost, "/retirements", "retire", "Retire one or several parts into one statement (irreversible, R4)", "certificates",
		access{roles: []greenmint.Role{greenmint.RoleMiner, greenmint.RoleBuyer}, scope: auth.ScopeCertificatesWrite}),
		func(ctx context.Context, in *struct {
			IdemHeader
			Body RetireBody
		}) (*writtenOutput[greenmint.RetirementStatement], error) {
			req := greenmint.RetireRequest{Parts: in.Body.Parts, Beneficiary: in.Body.Beneficiary, Jurisdiction: in.Body.Jurisdiction,
				Purpose: in.Body.Purpose, ReportingYear: in.Body.ReportingYear, Reason: in.Body.Reason}
			req.IdempotencyKey = in.IdempotencyKey
			return write[greenmint.RetirementStatement](ctx, g, greenmint.TxRetire, req)
		})
}

// historyInput names an object and a page of its history.
type historyInput struct {
	PageParams
	ID string `path:"id" minLength:"1" maxLength:"128"`
}

// history answers a page of an object's ledger history, oldest first.
func (g *Gateway) history(ctx context.Context, fn string, in *historyInput) (*listOutput[greenmint.HistoryEntry], error) {
	if _, err := in.position(); err != nil {
		return nil, err
	}
	var out []greenmint.HistoryEntry
	if err := g.evaluate(ctx, fn, greenmint.IDQuery{ID: in.ID}, &out); err != nil {
		return nil, err
	}
	return pageOf(ctx, out, in.PageParams)
}

func (g *Gateway) oracleHere() (*GatewayOracle, error) {
	if g.cfg.Oracle == nil {
		return nil, greenmint.Errorf(greenmint.EUNAVAILABLE, "no oracle runs in this gateway; send readings to your oracle's own service")
	}
	return g.cfg.Oracle, nil
}

// readings ingests a batch into the in-process oracle. Readings of meters
// that are not the caller's organisation's are rejected one by one
// (reason forbidden), beside the others.
func (g *Gateway) readings(ctx context.Context, contentType string, body []byte) (*bodyOf[oracle.Summary], error) {
	o, err := g.oracleHere()
	if err != nil {
		return nil, err
	}
	var batch []oracle.Parsed
	mt, _, _ := mime.ParseMediaType(contentType)
	switch mt {
	case "text/csv":
		batch, err = oracle.ParseCSV(bytes.NewReader(body))
	case "application/json", "":
		batch, err = oracle.ParseJSON(body)
	default:
		err = greenmint.Errorf(greenmint.EINVALID, "content type %q is neither application/json nor text/csv", mt)
	}
	if err != nil {
		return nil, err
	}
	if len(batch) > 100_000 {
		return nil, greenmint.Errorf(greenmint.EINVALID, "%d readings in one request; at most 100000", len(batch))
	}
	p := principalOf(ctx)
	owners := map[string]string{}
	var mine []oracle.Parsed
	var index []int
	var foreign []oracle.Result
	for i, r := range batch {
		id := r.Reading.MeterID
		owner, ok := owners[id]
		if !ok && greenmint.CheckMeterID(id) == nil {
			m, err := g.cfg.DB.ReadModelMeter(ctx, id)
			if err != nil && greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
				return nil, err
			}
			owner = m.Owner
			owners[id] = owner
		}
		if owner != "" && owner != p.Org {
			foreign = append(foreign, oracle.Result{Index: i, Line: r.Line, MeterID: id, Seq: r.Reading.Seq, Outcome: oracle.Rejected, Reason: "forbidden",
				Message: "meter " + id + " is not of your organisation " + p.Org})
			continue
		}
		mine = append(mine, r)
		index = append(index, i)
	}
	sum := &oracle.Summary{Results: []oracle.Result{}}
	if len(mine) > 0 {
		sum, err = o.Ingester.Ingest(ctx, mine)
		if err != nil {
			return nil, err
		}
		for k := range sum.Results {
			sum.Results[k].Index = index[sum.Results[k].Index]
		}
	}
	sum.Rejected += len(foreign)
	sum.Results = append(sum.Results, foreign...)
	sortResults(sum.Results)
	g.metrics.readings.WithLabelValues(oracle.Accepted).Add(float64(sum.Accepted))
	g.metrics.readings.WithLabelValues(oracle.Duplicate).Add(float64(sum.Duplicate))
	g.metrics.readings.WithLabelValues(oracle.Rejected).Add(float64(sum.Rejected))
	return &bodyOf[oracle.Summary]{*sum}, nil
}

func sortResults(rs []oracle.Result) {
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && rs[j].Index < rs[j-1].Index; j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
}

// newestDataset is the dataset an attestation pins when the request names
// none: the last registered.
func (g *Gateway) newestDataset(ctx context.Context) (greenmint.DatasetPin, error) {
	var ds []greenmint.Dataset
	if err := g.evaluateAsReader(ctx, greenmint.QueryListDatasets, struct{}{}, &ds); err != nil {
		return greenmint.DatasetPin{}, err
	}
	if len(ds) == 0 {
		return greenmint.DatasetPin{}, greenmint.Errorf(greenmint.ECONFLICT, "no emission-factor dataset is registered yet (R9)")
	}
	d := ds[len(ds)-1]
	return greenmint.DatasetPin{ID: d.ID, Version: d.Version, SHA256: d.SHA256}, nil
}

// attest has the in-process oracle attest a site's hours. The oracle signs
// and submits as itself (its registered key and ledger identity): an
// attestation is the oracle's statement, not the caller's.
func (g *Gateway) attest(ctx context.Context, b AttestBody) (*bodyOf[greenmint.MintResult], error) {
	o, err := g.oracleHere()
	if err != nil {
		return nil, err
	}
	// The oracle signs as itself: only an organisation the registry
	// admitted as an oracle may set it to work (R11).
	if ok, err := g.roleCounts(ctx, principalOf(ctx)); err != nil {
		return nil, err
	} else if !ok {
		return nil, greenmint.Errorf(greenmint.EFORBIDDEN, "organisation %s is not admitted as an oracle by the registry: only admitted oracles may have attestations made (R11)", principalOf(ctx).Org)
	}
	if b.Instrument == "" {
		b.Instrument = greenmint.CO2E
	}
	pin := greenmint.DatasetPin{}
	if b.Dataset != nil {
		pin = *b.Dataset
	} else if pin, err = g.newestDataset(ctx); err != nil {
		return nil, err
	}
	res, err := o.Submitter.Attest(ctx, oracle.AttestRequest{SiteID: b.SiteID, Instrument: b.Instrument, From: b.From.UTC(), To: b.To.UTC(), Dataset: pin})
	if err != nil {
		return nil, err
	}
	return &bodyOf[greenmint.MintResult]{*res}, nil
}

// maxMatchingDays bounds a matching request: a year and a day.
const maxMatchingDays = 366

// matching answers a site's hours in [from, to): the minted attestations'
// hours, and for the rest the oracle's readings built as an attestation
// would be (31 days at a time), unsigned. The caller must own the site, or
// read everything, or be an oracle.
func (g *Gateway) matching(ctx context.Context, siteID string, from, to time.Time) (*bodyOf[MatchingView], error) {
	from, to = from.UTC(), to.UTC()
	if !from.Equal(from.Truncate(time.Hour)) || !to.Equal(to.Truncate(time.Hour)) || !to.After(from) {
		return nil, greenmint.Errorf(greenmint.EINVALID, "from and to must be whole hours with to after from")
	}
	if to.Sub(from) > maxMatchingDays*24*time.Hour {
		return nil, greenmint.Errorf(greenmint.EINVALID, "at most %d days at a time", maxMatchingDays)
	}
	var s greenmint.Site
	if err := g.evaluate(ctx, greenmint.QueryGetSite, greenmint.IDQuery{ID: siteID}, &s); err != nil {
		return nil, err
	}
	p := principalOf(ctx)
	if s.Owner != p.Org {
		all, err := g.readsEverything(ctx, p)
		if err == nil && !all && p.Role == greenmint.RoleOracle {
			all, err = g.roleCounts(ctx, p) // an admitted oracle reads the readings it attests
		}
		if err != nil {
			return nil, err
		}
		if !all {
			return nil, greenmint.Errorf(greenmint.EFORBIDDEN, "the readings of site %s are visible to %s, the registry, admitted auditors and oracles only (R11)", siteID, s.Owner)
		}
	}
	out := MatchingView{SiteID: siteID, From: greenmint.FormatTime(from), To: greenmint.FormatTime(to), Hours: []MatchedHour{}, Gaps: []string{}, GridRegion: s.GridRegion}
	covered := map[time.Time]bool{}
	var claims []greenmint.Batch
	if err := g.evaluate(ctx, greenmint.QueryClaimsBySite, greenmint.ClaimsQuery{SiteID: siteID, From: out.From, To: out.To}, &claims); err != nil {
		return nil, err
	}
	for _, b := range claims {
		if b.Status != greenmint.BatchActive {
			continue
		}
		ac, err := g.attestationChecks(ctx, b.AttestationID)
		if err != nil {
			return nil, err
		}
		a := ac.record.Attestation.Attestation
		inRange := func(h string) (time.Time, bool) {
			t, err := greenmint.ParseHour(h)
			return t, err == nil && !t.Before(from) && t.Before(to)
		}
		for _, h := range a.Hours {
			if t, ok := inRange(h.Start); ok {
				covered[t] = true
				out.Hours = append(out.Hours, matchedHour(h, b.ID))
				out.Attested.ConsumptionWh += h.ConsumptionWh
				out.Attested.SupplyWh += h.SupplyWh
				out.Attested.MatchedWh += h.MatchedWh
			}
		}
		for _, h := range a.Gaps {
			if t, ok := inRange(h); ok {
				covered[t] = true
				out.Gaps = append(out.Gaps, h)
			}
		}
		if bs, err := greenmint.ParseHour(a.PeriodStart); err == nil {
			be, _ := greenmint.ParseHour(a.PeriodEnd)
			for t := bs; t.Before(be); t = t.Add(time.Hour) {
				covered[t] = true
			}
		}
	}
	// The hours no active batch covers, in runs of at most 31 days.
	var runs [][2]time.Time
	for t := from; t.Before(to); t = t.Add(time.Hour) {
		if covered[t] {
			continue
		}
		if n := len(runs); n > 0 && runs[n-1][1].Equal(t) && runs[n-1][1].Sub(runs[n-1][0]) < 31*24*time.Hour {
			runs[n-1][1] = t.Add(time.Hour)
		} else {
			runs = append(runs, [2]time.Time{t, t.Add(time.Hour)})
		}
	}
	if len(runs) > 0 {
		o, err := g.oracleHere()
		if err != nil {
			return nil, err
		}
		pin, err := g.newestDataset(ctx)
		if err != nil {
			return nil, err
		}
		for _, r := range runs {
			a, _, err := o.Submitter.Attester.Build(ctx, oracle.AttestRequest{SiteID: siteID, Instrument: greenmint.CO2E, From: r[0], To: r[1], Dataset: pin})
			if err != nil {
				if c := greenmint.ErrorCode(err); c != greenmint.EINVALID && c != greenmint.ECONFLICT && c != greenmint.ENOTFOUND {
					return nil, err
				}
				// No attestation can be built here (no readings, or hours
				// claimed by a withdrawn batch): its hours are gaps.
				for t := r[0]; t.Before(r[1]); t = t.Add(time.Hour) {
					out.Gaps = append(out.Gaps, greenmint.FormatTime(t))
				}
				continue
			}
			for _, h := range a.Hours {
				out.Hours = append(out.Hours, matchedHour(h, ""))
			}
			out.Gaps = append(out.Gaps, a.Gaps...)
			out.Pending += a.Quantity
		}
	}
	sort.Slice(out.Hours, func(i, j int) bool { return out.Hours[i].Start < out.Hours[j].Start })
	sort.Strings(out.Gaps)
	for _, h := range out.Hours {
		out.Totals.ConsumptionWh += h.ConsumptionWh
		out.Totals.SupplyWh += h.SupplyWh
		out.Totals.MatchedWh += h.MatchedWh
	}
	return &bodyOf[MatchingView]{out}, nil
}
