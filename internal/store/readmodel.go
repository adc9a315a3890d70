package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/greenmint/greenmint"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// The read model's rows (migration 00010). Each holds the ledger object's
// JSON (doc) and the columns lists filter on; rmToRow derives both
// from the ledger's value, so a row is always what its value projects to.

type rmSiteRow struct {
	ID         string `gorm:"column:id;primaryKey"`
	Owner      string `gorm:"column:owner"`
	Country    string `gorm:"column:country"`
	GridRegion string `gorm:"column:grid_region"`
	Status     string `gorm:"column:status"`
	CapacityW  int64  `gorm:"column:capacity_w"`
	Doc        string `gorm:"column:doc"`
}

func (rmSiteRow) TableName() string { return "rm_sites" }

type rmMeterRow struct {
	ID         string `gorm:"column:id;primaryKey"`
	SiteID     string `gorm:"column:site_id"`
	Owner      string `gorm:"column:owner"`
	Kind       string `gorm:"column:kind"`
	Technology string `gorm:"column:technology"`
	Status     string `gorm:"column:status"`
	Doc        string `gorm:"column:doc"`
}

func (rmMeterRow) TableName() string { return "rm_meters" }

type rmBatchRow struct {
	ID           string `gorm:"column:id;primaryKey"`
	Instrument   string `gorm:"column:instrument"`
	SiteID       string `gorm:"column:site_id"`
	Country      string `gorm:"column:country"`
	Owner        string `gorm:"column:owner"`
	Vintage      int64  `gorm:"column:vintage"`
	Technologies string `gorm:"column:technologies"`
	SurplusBP    int64  `gorm:"column:surplus_bp"`
	Issued       int64  `gorm:"column:issued"`
	Tradable     int64  `gorm:"column:tradable"`
	Escrowed     int64  `gorm:"column:escrowed"`
	Retired      int64  `gorm:"column:retired"`
	Cancelled    int64  `gorm:"column:cancelled"`
	Status       string `gorm:"column:status"`
	OpenFlags    int64  `gorm:"column:open_flags"`
	Doc          string `gorm:"column:doc"`
}

func (rmBatchRow) TableName() string { return "rm_batches" }

type rmHoldingRow struct {
	BatchID  string `gorm:"column:batch_id;primaryKey"`
	Owner    string `gorm:"column:owner;primaryKey"`
	Tradable int64  `gorm:"column:tradable"`
	Escrowed int64  `gorm:"column:escrowed"`
}

func (rmHoldingRow) TableName() string { return "rm_holdings" }

type rmListingRow struct {
	ID         string `gorm:"column:id;primaryKey"`
	BatchID    string `gorm:"column:batch_id"`
	Seller     string `gorm:"column:seller"`
	Buyer      string `gorm:"column:buyer"`
	Quantity   int64  `gorm:"column:quantity"`
	PriceMinor int64  `gorm:"column:price_minor"`
	Currency   string `gorm:"column:currency"`
	Status     string `gorm:"column:status"`
	Doc        string `gorm:"column:doc"`
}

func (rmListingRow) TableName() string { return "rm_listings" }

type rmRetirementRow struct {
	ID            string `gorm:"column:id;primaryKey"`
	Owner         string `gorm:"column:owner"`
	Beneficiary   string `gorm:"column:beneficiary"`
	ReportingYear int64  `gorm:"column:reporting_year"`
	Quantity      int64  `gorm:"column:quantity"`
	Doc           string `gorm:"column:doc"`
}

func (rmRetirementRow) TableName() string { return "rm_retirements" }

type rmFlagRow struct {
	ID      string `gorm:"column:id;primaryKey"`
	BatchID string `gorm:"column:batch_id"`
	Auditor string `gorm:"column:auditor"`
	Status  string `gorm:"column:status"`
	Doc     string `gorm:"column:doc"`
}

func (rmFlagRow) TableName() string { return "rm_flags" }

type rmOrgRow struct {
	MSPID string `gorm:"column:msp_id;primaryKey"`
	Roles string `gorm:"column:roles"`
	Doc   string `gorm:"column:doc"`
}

func (rmOrgRow) TableName() string { return "rm_organisations" }

type rmEventRow struct {
	Block     int64  `gorm:"column:block;primaryKey"`
	Idx       int64  `gorm:"column:idx;primaryKey"`
	TxID      string `gorm:"column:tx_id"`
	Function  string `gorm:"column:function"`
	Creator   string `gorm:"column:creator"`
	Timestamp string `gorm:"column:timestamp"`
	Keys      string `gorm:"column:keys"`
}

func (rmEventRow) TableName() string { return "rm_events" }

type rmCheckpointRow struct {
	ID    int64  `gorm:"column:id;primaryKey"`
	Block int64  `gorm:"column:block"`
	Idx   int64  `gorm:"column:idx"`
	TxID  string `gorm:"column:tx_id"`
}

func (rmCheckpointRow) TableName() string { return "rm_checkpoint" }

// Projected kinds: the ledger's object types (chaincode's composite key
// kinds) the read model keeps a table of.
const (
	KindSite         = "site"
	KindMeter        = "meter"
	KindBatch        = "batch"
	KindHolding      = "holding"
	KindListing      = "listing"
	KindRetirement   = "retirement"
	KindFlag         = "flag"
	KindOrganisation = "org"
	kindAttestation  = "attestation"
)

// ProjectedKinds lists the kinds the read model projects, in a fixed order.
func ProjectedKinds() []string {
	return []string{KindSite, KindMeter, KindBatch, KindHolding, KindListing, KindRetirement, KindFlag, KindOrganisation}
}

// ProjectedEvent is one ledger event as the read model applies it: its
// block, its position among the block's events (0, 1, …), and its payload.
type ProjectedEvent struct {
	Block   uint64
	Index   int64
	Payload greenmint.EventPayload
}

// Checkpoint is the last event the read model applied. Empty is true while
// none was.
type Checkpoint struct {
	Block uint64
	Index int64
	TxID  string
	Empty bool
}

// ProjectedEntity is one projected object as a comparable set of fields:
// every column of its row and every top-level field of its JSON (as
// "doc.name"), each as text. Key names the object: "SITE0042",
// "Miner1MSP/SITE0042-1" for a holding (owner/batch).
type ProjectedEntity struct {
	Kind   string
	Key    string
	Fields map[string]string
}

// ReadModelCheckpoint returns the last event applied.
func (db *DB) ReadModelCheckpoint(ctx context.Context) (Checkpoint, error) {
	return readCheckpoint(db.gdb.WithContext(ctx))
}

func readCheckpoint(tx *gorm.DB) (Checkpoint, error) {
	var rows []rmCheckpointRow
	if err := tx.Where("id = 1").Limit(1).Find(&rows).Error; err != nil {
		return Checkpoint{}, translate("store.ReadModelCheckpoint", err)
	}
	if len(rows) == 0 {
		return Checkpoint{Empty: true}, nil
	}
	return Checkpoint{Block: uint64(rows[0].Block), Index: rows[0].Idx, TxID: rows[0].TxID}, nil
}

// after reports whether ev comes after the checkpoint.
func (c Checkpoint) after(ev ProjectedEvent) bool {
	return c.Empty || ev.Block > c.Block || (ev.Block == c.Block && ev.Index > c.Index)
}

// ApplyEvents applies events, in order, in one database transaction with
// the checkpoint: each event's changes written to the tables, the event
// recorded, the checkpoint moved to the last. Events at or before the
// checkpoint are skipped, so applying an event again changes nothing. It
// returns how many were applied. A value that does not decode is
// internal: the projection stops there and nothing of the call is kept.
func (db *DB) ApplyEvents(ctx context.Context, evs []ProjectedEvent) (int, error) {
	n := 0
	err := db.gdb.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		cp, err := readCheckpoint(tx)
		if err != nil {
			return err
		}
		var last *ProjectedEvent
		for i := range evs {
			ev := &evs[i]
			if !cp.after(*ev) || (last != nil && !(Checkpoint{Block: last.Block, Index: last.Index}).after(*ev)) {
				continue
			}
			if err := applyEvent(tx, ev); err != nil {
				return err
			}
			last = ev
			n++
		}
		if last == nil {
			return nil
		}
		row := rmCheckpointRow{ID: 1, Block: int64(last.Block), Idx: last.Index, TxID: last.Payload.TxID}
		return translate("store.ApplyEvents", tx.Clauses(clause.OnConflict{UpdateAll: true}).Create(&row).Error)
	})
	if err != nil {
		return 0, fmt.Errorf("store.ApplyEvents: %w", err)
	}
	return n, nil
}

func applyEvent(tx *gorm.DB, ev *ProjectedEvent) error {
	const op = "store.ApplyEvents"
	keys := make([]string, 0, len(ev.Payload.Changes))
	type minted struct {
		technologies string
		surplusBP    int64
	}
	attested := map[string]minted{} // batch ID → what its attestation, written in this event, gives it
	for _, c := range ev.Payload.Changes {
		keys = append(keys, strings.Join(append([]string{c.Kind}, c.Key...), "/"))
		if c.Kind == kindAttestation && !c.Deleted {
			var rec greenmint.AttestationRecord
			if err := json.Unmarshal(c.Value, &rec); err != nil {
				return greenmint.E(greenmint.EINTERNAL, op, err, "attestation %v of transaction %s does not decode", c.Key, ev.Payload.TxID)
			}
			attested[rec.BatchID] = minted{Technologies(rec.Attestation.Attestation), SurplusBP(rec.Attestation.Attestation)}
		}
	}
	for _, c := range ev.Payload.Changes {
		row, err := changeRow(c)
		if err != nil {
			return greenmint.E(greenmint.EINTERNAL, op, err, "%s %v of transaction %s", c.Kind, c.Key, ev.Payload.TxID)
		}
		if row == nil {
			continue
		}
		if c.Deleted {
			if err := tx.Delete(row).Error; err != nil {
				return translate(op, err)
			}
			continue
		}
		conflict := clause.OnConflict{UpdateAll: true}
		if b, ok := row.(*rmBatchRow); ok {
			// A batch's technologies and surplus share come with its mint
			// (the attestation written in the same transaction) and are
			// kept afterwards.
			m, ok := attested[b.ID]
			b.Technologies, b.SurplusBP = m.technologies, m.surplusBP
			cols := []string{"instrument", "site_id", "country", "owner", "vintage", "issued", "tradable", "escrowed", "retired", "cancelled", "status", "open_flags", "doc"}
			if b.Technologies != "" {
				cols = append(cols, "technologies")
			}
			if ok {
				cols = append(cols, "surplus_bp")
			}
			conflict = clause.OnConflict{Columns: []clause.Column{{Name: "id"}}, DoUpdates: clause.AssignmentColumns(cols)}
		}
		if err := tx.Clauses(conflict).Create(row).Error; err != nil {
			return translate(op, err)
		}
	}
	raw, err := json.Marshal(keys)
	if err != nil {
		return greenmint.E(greenmint.EINTERNAL, op, err, "cannot encode the changed keys")
	}
	row := rmEventRow{Block: int64(ev.Block), Idx: ev.Index, TxID: ev.Payload.TxID, Function: ev.Payload.Function, Creator: ev.Payload.Creator, Timestamp: ev.Payload.Timestamp, Keys: string(raw)}
	return translate(op, tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error)
}

// Technologies lists an attestation's generation technologies as a
// batch's technologies column holds them: ",solar_pv_utility,wind_onshore,"
// (sorted; "" for none).
func Technologies(a greenmint.Attestation) string {
	var ts []string
	for _, h := range a.Hours {
		for _, al := range h.Allocations {
			if !slices.Contains(ts, al.Technology) {
				ts = append(ts, al.Technology)
			}
		}
	}
	if len(ts) == 0 {
		return ""
	}
	slices.Sort(ts)
	return "," + strings.Join(ts, ",") + ","
}

// SurplusBP returns an attestation's grid surplus share as a batch's
// surplus_bp column holds it: its hours whose grid state is
// greenmint.GridSurplus over all the hours of its period, gaps included (as
// package statement counts them), in basis points rounded down:
// floor(10000·s/h), 0 to 10000. A period that is not a positive whole
// number of hours, or holds fewer hours than its surplus hours, gives 0.
func SurplusBP(a greenmint.Attestation) int64 {
	start, err := greenmint.ParseTime(a.PeriodStart)
	if err != nil {
		return 0
	}
	end, err := greenmint.ParseTime(a.PeriodEnd)
	if err != nil {
		return 0
	}
	d := end.Sub(start)
	if d <= 0 || d%time.Hour != 0 {
		return 0
	}
	h := int64(d / time.Hour)
	var s int64
	for _, hr := range a.Hours {
		if hr.GridState == greenmint.GridSurplus {
			s++
		}
	}
	if s > h {
		return 0
	}
	return 10000 * s / h
}

// changeRow returns the row a change writes (or deletes: only its key is
// set then), nil for a kind the read model does not project.
func changeRow(c greenmint.Change) (any, error) {
	if c.Deleted {
		switch c.Kind {
		case KindSite:
			return &rmSiteRow{ID: last(c.Key)}, nil
		case KindMeter:
			return &rmMeterRow{ID: last(c.Key)}, nil
		case KindBatch:
			return &rmBatchRow{ID: last(c.Key)}, nil
		case KindHolding:
			if len(c.Key) != 2 {
				return nil, fmt.Errorf("holding key %v: want owner and batch", c.Key)
			}
			return &rmHoldingRow{Owner: c.Key[0], BatchID: c.Key[1]}, nil
		case KindListing:
			return &rmListingRow{ID: last(c.Key)}, nil
		case KindRetirement:
			return &rmRetirementRow{ID: last(c.Key)}, nil
		case KindFlag:
			return &rmFlagRow{ID: last(c.Key)}, nil
		case KindOrganisation:
			return &rmOrgRow{MSPID: last(c.Key)}, nil
		}
		return nil, nil
	}
	return rmToRow(c.Kind, c.Value)
}

func last(key []string) string {
	if len(key) == 0 {
		return ""
	}
	return key[len(key)-1]
}

// rmToRow projects a ledger value of kind to its row; nil for a kind the
// read model does not project.
func rmToRow(kind string, value []byte) (any, error) {
	doc := string(value)
	switch kind {
	case KindSite:
		var s greenmint.Site
		if err := json.Unmarshal(value, &s); err != nil {
			return nil, err
		}
		return &rmSiteRow{ID: s.ID, Owner: s.Owner, Country: s.Country, GridRegion: s.GridRegion, Status: string(s.Status), CapacityW: s.CapacityW, Doc: doc}, nil
	case KindMeter:
		var m greenmint.Meter
		if err := json.Unmarshal(value, &m); err != nil {
			return nil, err
		}
		return &rmMeterRow{ID: m.ID, SiteID: m.SiteID, Owner: m.Owner, Kind: string(m.Kind), Technology: m.Technology, Status: string(m.Status), Doc: doc}, nil
	case KindBatch:
		var b greenmint.Batch
		if err := json.Unmarshal(value, &b); err != nil {
			return nil, err
		}
		return &rmBatchRow{ID: b.ID, Instrument: string(b.Instrument), SiteID: b.SiteID, Country: b.Country, Owner: b.Owner, Vintage: vintage(b.PeriodStart),
			Issued: b.Issued, Tradable: b.Tradable, Escrowed: b.Escrowed, Retired: b.Retired, Cancelled: b.Cancelled, Status: string(b.Status), OpenFlags: b.OpenFlags, Doc: doc}, nil
	case KindHolding:
		var h greenmint.Holding
		if err := json.Unmarshal(value, &h); err != nil {
			return nil, err
		}
		return &rmHoldingRow{BatchID: h.BatchID, Owner: h.Owner, Tradable: h.Tradable, Escrowed: h.Escrowed}, nil
	case KindListing:
		var l greenmint.Listing
		if err := json.Unmarshal(value, &l); err != nil {
			return nil, err
		}
		return &rmListingRow{ID: l.ID, BatchID: l.BatchID, Seller: l.Seller, Buyer: l.Buyer, Quantity: l.Quantity, PriceMinor: l.PriceMinor, Currency: l.Currency, Status: string(l.Status), Doc: doc}, nil
	case KindRetirement:
		var r greenmint.RetirementStatement
		if err := json.Unmarshal(value, &r); err != nil {
			return nil, err
		}
		var q int64
		for _, p := range r.Parts {
			q += p.Quantity
		}
		return &rmRetirementRow{ID: r.ID, Owner: r.Owner, Beneficiary: r.Beneficiary, ReportingYear: r.ReportingYear, Quantity: q, Doc: doc}, nil
	case KindFlag:
		var f greenmint.Flag
		if err := json.Unmarshal(value, &f); err != nil {
			return nil, err
		}
		return &rmFlagRow{ID: f.ID, BatchID: f.BatchID, Auditor: f.Auditor, Status: string(f.Status), Doc: doc}, nil
	case KindOrganisation:
		var a greenmint.Admission
		if err := json.Unmarshal(value, &a); err != nil {
			return nil, err
		}
		roles := ""
		for _, r := range a.Roles {
			roles += "," + string(r)
		}
		if roles != "" {
			roles += ","
		}
		return &rmOrgRow{MSPID: a.MSPID, Roles: roles, Doc: doc}, nil
	}
	return nil, nil
}

// vintage is the year of an RFC 3339 time (0 if it has none).
func vintage(t string) int64 {
	if len(t) < 4 {
		return 0
	}
	y, err := strconv.ParseInt(t[:4], 10, 64)
	if err != nil {
		return 0
	}
	return y
}

// entityOf turns a row into its comparable fields.
func entityOf(kind string, row any) ProjectedEntity {
	e := ProjectedEntity{Kind: kind, Fields: map[string]string{}}
	put := func(name string, v any) { e.Fields[name] = fmt.Sprint(v) }
	var doc string
	switch r := row.(type) {
	case *rmSiteRow:
		e.Key, doc = r.ID, r.Doc
		put("id", r.ID)
		put("owner", r.Owner)
		put("country", r.Country)
		put("grid_region", r.GridRegion)
		put("status", r.Status)
		put("capacity_w", r.CapacityW)
	case *rmMeterRow:
		e.Key, doc = r.ID, r.Doc
		put("id", r.ID)
		put("site_id", r.SiteID)
		put("owner", r.Owner)
		put("kind", r.Kind)
		put("technology", r.Technology)
		put("status", r.Status)
	case *rmBatchRow:
		e.Key, doc = r.ID, r.Doc
		put("id", r.ID)
		put("instrument", r.Instrument)
		put("site_id", r.SiteID)
		put("country", r.Country)
		put("owner", r.Owner)
		put("vintage", r.Vintage)
		put("technologies", r.Technologies)
		put("surplus_bp", r.SurplusBP)
		put("issued", r.Issued)
		put("tradable", r.Tradable)
		put("escrowed", r.Escrowed)
		put("retired", r.Retired)
		put("cancelled", r.Cancelled)
		put("status", r.Status)
		put("open_flags", r.OpenFlags)
	case *rmHoldingRow:
		e.Key = r.Owner + "/" + r.BatchID
		put("batch_id", r.BatchID)
		put("owner", r.Owner)
		put("tradable", r.Tradable)
		put("escrowed", r.Escrowed)
	case *rmListingRow:
		e.Key, doc = r.ID, r.Doc
		put("id", r.ID)
		put("batch_id", r.BatchID)
		put("seller", r.Seller)
		put("buyer", r.Buyer)
		put("quantity", r.Quantity)
		put("price_minor", r.PriceMinor)
		put("currency", r.Currency)
		put("status", r.Status)
	case *rmRetirementRow:
		e.Key, doc = r.ID, r.Doc
		put("id", r.ID)
		put("owner", r.Owner)
		put("beneficiary", r.Beneficiary)
		put("reporting_year", r.ReportingYear)
		put("quantity", r.Quantity)
	case *rmFlagRow:
		e.Key, doc = r.ID, r.Doc
		put("id", r.ID)
		put("batch_id", r.BatchID)
		put("auditor", r.Auditor)
		put("status", r.Status)
	case *rmOrgRow:
		e.Key, doc = r.MSPID, r.Doc
		put("msp_id", r.MSPID)
		put("roles", r.Roles)
	}
	if doc != "" {
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(doc), &m); err != nil {
			e.Fields["doc"] = "undecodable: " + doc
		}
		for k, v := range m {
			e.Fields["doc."+k] = canonicalJSON(v)
		}
	}
	return e
}

// canonicalJSON re-encodes v so that equal values compare equal as text.
func canonicalJSON(v json.RawMessage) string {
	var x any
	if err := json.Unmarshal(v, &x); err != nil {
		return string(v)
	}
	out, err := json.Marshal(x)
	if err != nil {
		return string(v)
	}
	return string(out)
}

// ProjectValue returns what the read model would hold for a ledger object
// of kind with this value: the reference Reconcile compares rows with. ok
// is false for a kind the read model does not project. A batch's
// technologies and surplus share come from its attestation, not its value:
// the caller sets Fields["technologies"] (Technologies) and
// Fields["surplus_bp"] (SurplusBP).
func ProjectValue(kind string, value []byte) (e ProjectedEntity, ok bool, err error) {
	row, err := rmToRow(kind, value)
	if err != nil {
		return ProjectedEntity{}, false, greenmint.E(greenmint.EINVALID, "store.ProjectValue", err, "%s value does not decode", kind)
	}
	if row == nil {
		return ProjectedEntity{}, false, nil
	}
	return entityOf(kind, row), true, nil
}

// ProjectedEntities returns every row of a projected kind as its fields,
// in key order.
func (db *DB) ProjectedEntities(ctx context.Context, kind string) ([]ProjectedEntity, error) {
	q := db.gdb.WithContext(ctx)
	switch kind {
	case KindSite:
		return entities[rmSiteRow](q, kind, "id")
	case KindMeter:
		return entities[rmMeterRow](q, kind, "id")
	case KindBatch:
		return entities[rmBatchRow](q, kind, "id")
	case KindHolding:
		return entities[rmHoldingRow](q, kind, "owner, batch_id")
	case KindListing:
		return entities[rmListingRow](q, kind, "id")
	case KindRetirement:
		return entities[rmRetirementRow](q, kind, "id")
	case KindFlag:
		return entities[rmFlagRow](q, kind, "id")
	case KindOrganisation:
		return entities[rmOrgRow](q, kind, "msp_id")
	}
	return nil, greenmint.Errorf(greenmint.EINVALID, "the read model does not project %q", kind)
}

func entities[R any](q *gorm.DB, kind, order string) ([]ProjectedEntity, error) {
	var rows []R
	if err := q.Order(order).Find(&rows).Error; err != nil {
		return nil, translate("store.ProjectedEntities", err)
	}
	out := make([]ProjectedEntity, len(rows))
	for i := range rows {
		out[i] = entityOf(kind, &rows[i])
	}
	return out, nil
}

// ResetReadModel deletes every projected row, every recorded event and the
// checkpoint, in one transaction: the projection starts again from block 0.
func (db *DB) ResetReadModel(ctx context.Context) error {
	err := db.gdb.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for _, t := range []string{"rm_sites", "rm_meters", "rm_batches", "rm_holdings", "rm_listings", "rm_retirements", "rm_flags", "rm_organisations", "rm_events", "rm_checkpoint"} {
			if err := tx.Exec("DELETE FROM " + t).Error; err != nil {
				return err
			}
		}
		return nil
	})
	return translate("store.ResetReadModel", err)
}

// Filter selects the rows of a read-model list. Empty fields select
// everything; each list accepts only the fields it names in its comment, and
// a field set that the list does not filter on is invalid (a caller never
// believes a list narrowed that did not).
type Filter struct {
	// Owner is the owning organisation (MSP ID): a site's, meter's or
	// batch's owner, a holding's owner, a listing's seller, the
	// organisation that retired, a flagged batch's owner.
	Owner string
	// Instrument is a batch's instrument (EAC or CO2E).
	Instrument string
	// Country is a site's or batch's country (ISO 3166-1 alpha-2).
	Country string
	// GridRegion is a site's grid region.
	GridRegion string
	// SiteID is a meter's site or a batch's site.
	SiteID string
	// Kind is a meter's kind (consumption or generation).
	Kind string
	// Technology is a generation meter's technology, or, for batches,
	// holdings and listings, a technology any of the batch's allocated
	// generation is of.
	Technology string
	// Vintage is the year a batch's period starts.
	Vintage int64
	// MinSurplusBP selects batches (and holdings and listings of batches)
	// whose grid surplus share, in basis points (SurplusBP: surplus hours
	// over all the period's hours, rounded down), is at least this, 0 to
	// 10000; 0 selects every batch.
	MinSurplusBP int64
	// Status is a site's, meter's, batch's, listing's or flag's status
	// (holdings: their batch's).
	Status string
	// BatchID is the batch of holdings, listings and flags.
	BatchID string
	// Buyer is the buyer of a reserved or sold listing.
	Buyer string
	// Auditor is the organisation (MSP ID) that raised a flag.
	Auditor string
	// Beneficiary is a retirement statement's beneficiary, exactly.
	Beneficiary string
	// ReportingYear is a retirement statement's reporting year.
	ReportingYear int64
	// Role is a role an organisation is admitted to (miner, buyer,
	// auditor, oracle).
	Role string

	Cursor string // from the previous page; "" for the first
	Limit  int    // 1 to MaxPageLimit; 0 means MaxPageLimit
}

// MaxPageLimit is the largest page of a read-model list.
const MaxPageLimit = 100

func (f Filter) limit() (int, error) {
	switch {
	case f.Limit == 0:
		return MaxPageLimit, nil
	case f.Limit < 0 || f.Limit > MaxPageLimit:
		return 0, greenmint.Errorf(greenmint.EINVALID, "limit %d is out of range (1 to %d)", f.Limit, MaxPageLimit)
	}
	return f.Limit, nil
}

// check returns the page size of f for a list that filters on the fields
// named in accepts; a field set outside them, or a bad limit, is invalid.
func (f Filter) check(op string, accepts ...string) (int, error) {
	v := reflect.ValueOf(f)
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		if name == "Cursor" || name == "Limit" || v.Field(i).IsZero() || slices.Contains(accepts, name) {
			continue
		}
		return 0, greenmint.Errorf(greenmint.EINVALID, "%s: this list does not filter on %s", op, name)
	}
	if f.MinSurplusBP < 0 || f.MinSurplusBP > 10000 {
		return 0, greenmint.Errorf(greenmint.EINVALID, "%s: minimum surplus share %d is out of range (0 to 10000 basis points)", op, f.MinSurplusBP)
	}
	return f.limit()
}

// cursor encodes the last row's key parts; decodeCursor reads them back.
func encodeCursor(parts ...string) string {
	raw, _ := json.Marshal(parts)
	return base64.RawURLEncoding.EncodeToString(raw)
}

func decodeCursor(c string, n int) ([]string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	var parts []string
	if err == nil {
		err = json.Unmarshal(raw, &parts)
	}
	if err == nil && len(parts) != n {
		err = fmt.Errorf("%d parts, want %d", len(parts), n)
	}
	if err != nil {
		return nil, greenmint.E(greenmint.EINVALID, "", err, "cursor %q is not one this list returned", c)
	}
	return parts, nil
}

// batchFields are the batch columns batchFilters applies.
var batchFields = []string{"Instrument", "Country", "SiteID", "Technology", "Vintage", "MinSurplusBP"}

// batchFilters applies the batch columns of f to q (b is the batches
// table's name or alias).
func batchFilters(q *gorm.DB, f Filter, b string) *gorm.DB {
	q = equal(q, b+".instrument", f.Instrument)
	q = equal(q, b+".country", f.Country)
	q = equal(q, b+".site_id", f.SiteID)
	q = within(q, b+".technologies", f.Technology)
	if f.Vintage != 0 {
		q = q.Where(b+".vintage = ?", f.Vintage)
	}
	if f.MinSurplusBP != 0 {
		q = q.Where(b+".surplus_bp >= ?", f.MinSurplusBP)
	}
	return q
}

// equal narrows q to rows whose column equals v, unless v is empty.
func equal(q *gorm.DB, column, v string) *gorm.DB {
	if v == "" {
		return q
	}
	return q.Where(column+" = ?", v)
}

// within narrows q to rows whose column, a list such as ",a,b,", holds v,
// unless v is empty.
func within(q *gorm.DB, column, v string) *gorm.DB {
	if v == "" {
		return q
	}
	return q.Where(column+" LIKE ?", "%,"+v+",%")
}

// docPage reads a page of rows of the query q (alias a, keyed by the
// column key) in key order after f's cursor, with a limit of n, and decodes
// their documents (doc returns a row's key and document).
func docPage[T, R any](op, what string, q *gorm.DB, a, key string, f Filter, n int, doc func(R) (string, string)) ([]T, string, error) {
	if f.Cursor != "" {
		c, err := decodeCursor(f.Cursor, 1)
		if err != nil {
			return nil, "", err
		}
		q = q.Where(a+"."+key+" > ?", c[0])
	}
	var rows []R
	if err := q.Select(a + ".*").Order(a + "." + key).Limit(n + 1).Find(&rows).Error; err != nil {
		return nil, "", translate(op, err)
	}
	rows, next := page(rows, n, func(r R) []string { id, _ := doc(r); return []string{id} })
	out, err := decodeDocs[T](op, what, rows, doc)
	return out, next, err
}

// ReadModelBatches returns a page of projected batches in ID order and the
// cursor of the next page ("" after the last). It filters on Owner,
// Status, Instrument, Country, SiteID, Technology, Vintage and MinSurplusBP.
func (db *DB) ReadModelBatches(ctx context.Context, f Filter) ([]greenmint.Batch, string, error) {
	const op = "store.ReadModelBatches"
	n, err := f.check(op, append(batchFields, "Owner", "Status")...)
	if err != nil {
		return nil, "", err
	}
	q := batchFilters(db.gdb.WithContext(ctx).Table("rm_batches b"), f, "b")
	q = equal(q, "b.owner", f.Owner)
	q = equal(q, "b.status", f.Status)
	return docPage[greenmint.Batch](op, "batch", q, "b", "id", f, n, func(r rmBatchRow) (string, string) { return r.ID, r.Doc })
}

// ReadModelHoldings returns a page of projected holdings in (batch,
// owner) order. It filters on Owner (the holder), BatchID, and its batch's
// Status, Instrument, Country, SiteID, Technology, Vintage and MinSurplusBP.
func (db *DB) ReadModelHoldings(ctx context.Context, f Filter) ([]greenmint.Holding, string, error) {
	const op = "store.ReadModelHoldings"
	n, err := f.check(op, append(batchFields, "Owner", "Status", "BatchID")...)
	if err != nil {
		return nil, "", err
	}
	q := batchFilters(db.gdb.WithContext(ctx).Table("rm_holdings h").Joins("JOIN rm_batches b ON b.id = h.batch_id"), f, "b")
	q = equal(q, "h.owner", f.Owner)
	q = equal(q, "b.status", f.Status)
	q = equal(q, "h.batch_id", f.BatchID)
	if f.Cursor != "" {
		c, err := decodeCursor(f.Cursor, 2)
		if err != nil {
			return nil, "", err
		}
		q = q.Where("h.batch_id > ? OR (h.batch_id = ? AND h.owner > ?)", c[0], c[0], c[1])
	}
	var rows []rmHoldingRow
	if err := q.Select("h.*").Order("h.batch_id, h.owner").Limit(n + 1).Find(&rows).Error; err != nil {
		return nil, "", translate(op, err)
	}
	rows, next := page(rows, n, func(r rmHoldingRow) []string { return []string{r.BatchID, r.Owner} })
	out := make([]greenmint.Holding, len(rows))
	for i, r := range rows {
		out[i] = greenmint.Holding{BatchID: r.BatchID, Owner: r.Owner, Tradable: r.Tradable, Escrowed: r.Escrowed}
	}
	return out, next, nil
}

// ReadModelListings returns a page of projected listings in ID order. It
// filters on Owner (the seller), Buyer, Status (the listing's), BatchID,
// and its batch's Instrument, Country, SiteID, Technology, Vintage and MinSurplusBP.
func (db *DB) ReadModelListings(ctx context.Context, f Filter) ([]greenmint.Listing, string, error) {
	const op = "store.ReadModelListings"
	n, err := f.check(op, append(batchFields, "Owner", "Buyer", "Status", "BatchID")...)
	if err != nil {
		return nil, "", err
	}
	q := batchFilters(db.gdb.WithContext(ctx).Table("rm_listings l").Joins("JOIN rm_batches b ON b.id = l.batch_id"), f, "b")
	q = equal(q, "l.seller", f.Owner)
	q = equal(q, "l.buyer", f.Buyer)
	q = equal(q, "l.status", f.Status)
	q = equal(q, "l.batch_id", f.BatchID)
	return docPage[greenmint.Listing](op, "listing", q, "l", "id", f, n, func(r rmListingRow) (string, string) { return r.ID, r.Doc })
}

// ReadModelSites returns a page of projected sites in ID order. It filters
// on Owner, Country, GridRegion and Status.
func (db *DB) ReadModelSites(ctx context.Context, f Filter) ([]greenmint.Site, string, error) {
	const op = "store.ReadModelSites"
	n, err := f.check(op, "Owner", "Country", "GridRegion", "Status")
	if err != nil {
		return nil, "", err
	}
	q := db.gdb.WithContext(ctx).Table("rm_sites s")
	q = equal(q, "s.owner", f.Owner)
	q = equal(q, "s.country", f.Country)
	q = equal(q, "s.grid_region", f.GridRegion)
	q = equal(q, "s.status", f.Status)
	return docPage[greenmint.Site](op, "site", q, "s", "id", f, n, func(r rmSiteRow) (string, string) { return r.ID, r.Doc })
}

// ReadModelMeters returns a page of projected meters in ID order. It
// filters on Owner, SiteID, Kind, Technology and Status.
func (db *DB) ReadModelMeters(ctx context.Context, f Filter) ([]greenmint.Meter, string, error) {
	const op = "store.ReadModelMeters"
	n, err := f.check(op, "Owner", "SiteID", "Kind", "Technology", "Status")
	if err != nil {
		return nil, "", err
	}
	q := db.gdb.WithContext(ctx).Table("rm_meters m")
	q = equal(q, "m.owner", f.Owner)
	q = equal(q, "m.site_id", f.SiteID)
	q = equal(q, "m.kind", f.Kind)
	q = equal(q, "m.technology", f.Technology)
	q = equal(q, "m.status", f.Status)
	return docPage[greenmint.Meter](op, "meter", q, "m", "id", f, n, func(r rmMeterRow) (string, string) { return r.ID, r.Doc })
}

// ReadModelRetirements returns a page of projected retirement statements
// in ID order. It filters on Owner (who retired), Beneficiary and
// ReportingYear.
func (db *DB) ReadModelRetirements(ctx context.Context, f Filter) ([]greenmint.RetirementStatement, string, error) {
	const op = "store.ReadModelRetirements"
	n, err := f.check(op, "Owner", "Beneficiary", "ReportingYear")
	if err != nil {
		return nil, "", err
	}
	q := db.gdb.WithContext(ctx).Table("rm_retirements r")
	q = equal(q, "r.owner", f.Owner)
	q = equal(q, "r.beneficiary", f.Beneficiary)
	if f.ReportingYear != 0 {
		q = q.Where("r.reporting_year = ?", f.ReportingYear)
	}
	return docPage[greenmint.RetirementStatement](op, "retirement statement", q, "r", "id", f, n, func(r rmRetirementRow) (string, string) { return r.ID, r.Doc })
}

// ReadModelFlags returns a page of projected flags in ID order. It filters
// on BatchID, Auditor, Status and Owner (the flagged batch's owner).
func (db *DB) ReadModelFlags(ctx context.Context, f Filter) ([]greenmint.Flag, string, error) {
	const op = "store.ReadModelFlags"
	n, err := f.check(op, "BatchID", "Auditor", "Status", "Owner")
	if err != nil {
		return nil, "", err
	}
	q := db.gdb.WithContext(ctx).Table("rm_flags f")
	q = equal(q, "f.batch_id", f.BatchID)
	q = equal(q, "f.auditor", f.Auditor)
	q = equal(q, "f.status", f.Status)
	if f.Owner != "" {
		q = q.Where("f.batch_id IN (SELECT id FROM rm_batches WHERE owner = ?)", f.Owner)
	}
	return docPage[greenmint.Flag](op, "flag", q, "f", "id", f, n, func(r rmFlagRow) (string, string) { return r.ID, r.Doc })
}

// Organisation is an organisation as the read model projects it: its MSP
// ID, the roles the registry admitted it to (R11; sorted) and its
// admission record on the ledger.
type Organisation struct {
	MSPID     string
	Roles     []greenmint.Role
	Admission greenmint.Admission
}

func organisationOf(a greenmint.Admission) Organisation {
	return Organisation{MSPID: a.MSPID, Roles: slices.Clone(a.Roles), Admission: a}
}

// ReadModelOrganisations returns a page of projected organisations in MSP
// ID order. It filters on Role (one the organisation is admitted to now).
func (db *DB) ReadModelOrganisations(ctx context.Context, f Filter) ([]Organisation, string, error) {
	const op = "store.ReadModelOrganisations"
	n, err := f.check(op, "Role")
	if err != nil {
		return nil, "", err
	}
	q := within(db.gdb.WithContext(ctx).Table("rm_organisations o"), "o.roles", f.Role)
	as, next, err := docPage[greenmint.Admission](op, "organisation", q, "o", "msp_id", f, n, func(r rmOrgRow) (string, string) { return r.MSPID, r.Doc })
	if err != nil {
		return nil, "", err
	}
	out := make([]Organisation, len(as))
	for i, a := range as {
		out[i] = organisationOf(a)
	}
	return out, next, nil
}

// page cuts rows read with a limit of n+1 to n, and returns the cursor of
// the next page from the last row's key ("" after the last page).
func page[R any](rows []R, n int, key func(R) []string) ([]R, string) {
	if len(rows) <= n {
		return rows, ""
	}
	rows = rows[:n]
	return rows, encodeCursor(key(rows[n-1])...)
}

// decodeDocs decodes each row's JSON document (doc returns the row's ID and
// document); a document that does not decode is EINTERNAL naming the row.
func decodeDocs[T, R any](op, what string, rows []R, doc func(R) (string, string)) ([]T, error) {
	out := make([]T, len(rows))
	for i, r := range rows {
		id, raw := doc(r)
		if err := json.Unmarshal([]byte(raw), &out[i]); err != nil {
			return nil, greenmint.E(greenmint.EINTERNAL, op, err, "%s %s does not decode", what, id)
		}
	}
	return out, nil
}

// readDoc reads the doc of the row with this ID into v; not_found when
// there is none.
func (db *DB) readDoc(ctx context.Context, op, table, what, id string, v any) error {
	key := "id"
	if table == "rm_organisations" { // keyed by MSP ID
		key = "msp_id"
	}
	var docs []string
	if err := db.gdb.WithContext(ctx).Table(table).Where(key+" = ?", id).Limit(1).Pluck("doc", &docs).Error; err != nil {
		return translate(op, err)
	}
	if len(docs) == 0 {
		return &greenmint.Error{Code: greenmint.ENOTFOUND, Op: op, Message: fmt.Sprintf("the read model has no %s %q", what, id)}
	}
	if err := json.Unmarshal([]byte(docs[0]), v); err != nil {
		return greenmint.E(greenmint.EINTERNAL, op, err, "%s %s does not decode", what, id)
	}
	return nil
}

// ReadModelBatch returns a projected batch; not_found when there is none.
func (db *DB) ReadModelBatch(ctx context.Context, id string) (greenmint.Batch, error) {
	var b greenmint.Batch
	return b, db.readDoc(ctx, "store.ReadModelBatch", "rm_batches", "batch", id, &b)
}

// ReadModelSite returns a projected site; not_found when there is none.
func (db *DB) ReadModelSite(ctx context.Context, id string) (greenmint.Site, error) {
	var s greenmint.Site
	return s, db.readDoc(ctx, "store.ReadModelSite", "rm_sites", "site", id, &s)
}

// ReadModelMeter returns a projected meter; not_found when there is none.
func (db *DB) ReadModelMeter(ctx context.Context, id string) (greenmint.Meter, error) {
	var m greenmint.Meter
	return m, db.readDoc(ctx, "store.ReadModelMeter", "rm_meters", "meter", id, &m)
}

// ReadModelFlag returns a projected flag; not_found when there is none.
func (db *DB) ReadModelFlag(ctx context.Context, id string) (greenmint.Flag, error) {
	var f greenmint.Flag
	return f, db.readDoc(ctx, "store.ReadModelFlag", "rm_flags", "flag", id, &f)
}

// ReadModelOrganisation returns a projected organisation by MSP ID;
// not_found when there is none.
func (db *DB) ReadModelOrganisation(ctx context.Context, mspID string) (Organisation, error) {
	var a greenmint.Admission
	if err := db.readDoc(ctx, "store.ReadModelOrganisation", "rm_organisations", "organisation", mspID, &a); err != nil {
		return Organisation{}, err
	}
	return organisationOf(a), nil
}

// ReadModelListing returns a projected listing; not_found when there is
// none.
func (db *DB) ReadModelListing(ctx context.Context, id string) (greenmint.Listing, error) {
	var l greenmint.Listing
	return l, db.readDoc(ctx, "store.ReadModelListing", "rm_listings", "listing", id, &l)
}

// ReadModelRetirement returns a projected retirement statement; not_found
// when there is none.
func (db *DB) ReadModelRetirement(ctx context.Context, id string) (greenmint.RetirementStatement, error) {
	var r greenmint.RetirementStatement
	return r, db.readDoc(ctx, "store.ReadModelRetirement", "rm_retirements", "retirement statement", id, &r)
}

// ReadModelHolding returns a projected holding; not_found when there is
// none.
func (db *DB) ReadModelHolding(ctx context.Context, owner, batchID string) (greenmint.Holding, error) {
	var rows []rmHoldingRow
	if err := db.gdb.WithContext(ctx).Where("owner = ? AND batch_id = ?", owner, batchID).Limit(1).Find(&rows).Error; err != nil {
		return greenmint.Holding{}, translate("store.ReadModelHolding", err)
	}
	if len(rows) == 0 {
		return greenmint.Holding{}, &greenmint.Error{Code: greenmint.ENOTFOUND, Op: "store.ReadModelHolding", Message: fmt.Sprintf("the read model has no holding of %s in %s", owner, batchID)}
	}
	r := rows[0]
	return greenmint.Holding{BatchID: r.BatchID, Owner: r.Owner, Tradable: r.Tradable, Escrowed: r.Escrowed}, nil
}

// RecordedEvent is an event the read model applied, as the event stream
// reads it.
type RecordedEvent struct {
	Block     uint64
	Index     int64
	TxID      string
	Function  string
	Creator   string
	Timestamp string
	Keys      []string // "kind/attr/…" of every changed object
}

// ReadModelEvents returns up to limit (1 to MaxPageLimit) recorded events
// after position (block, index), in ledger order; pass afterBlock -1 for
// the first.
func (db *DB) ReadModelEvents(ctx context.Context, afterBlock, afterIndex int64, limit int) ([]RecordedEvent, error) {
	const op = "store.ReadModelEvents"
	if limit < 1 || limit > MaxPageLimit {
		return nil, greenmint.Errorf(greenmint.EINVALID, "limit %d is out of range (1 to %d)", limit, MaxPageLimit)
	}
	var rows []rmEventRow
	if err := db.gdb.WithContext(ctx).Where("block > ? OR (block = ? AND idx > ?)", afterBlock, afterBlock, afterIndex).Order("block, idx").Limit(limit).Find(&rows).Error; err != nil {
		return nil, translate(op, err)
	}
	out := make([]RecordedEvent, len(rows))
	for i, r := range rows {
		out[i] = RecordedEvent{Block: uint64(r.Block), Index: r.Idx, TxID: r.TxID, Function: r.Function, Creator: r.Creator, Timestamp: r.Timestamp}
		if err := json.Unmarshal([]byte(r.Keys), &out[i].Keys); err != nil {
			return nil, greenmint.E(greenmint.EINTERNAL, op, err, "the keys of event %d/%d do not decode", r.Block, r.Idx)
		}
	}
	return out, nil
}

// ExecReadModel runs one SQL statement (against the read model's tables)
// and returns the rows it affected: for tests that damage a projection on
// purpose. The statement is trusted: it is never built from outside input.
func (db *DB) ExecReadModel(ctx context.Context, sql string, args ...any) (int64, error) {
	res := db.gdb.WithContext(ctx).Exec(sql, args...)
	return res.RowsAffected, translate("store.ExecReadModel", res.Error)
}

// ReadModelTxPosition returns the position (block, index among the
// block's events) of the recorded event of transaction txID; ok is false
// when the read model has not applied it.
func (db *DB) ReadModelTxPosition(ctx context.Context, txID string) (block uint64, index int64, ok bool, err error) {
	var rows []rmEventRow
	if err := db.gdb.WithContext(ctx).Where("tx_id = ?", txID).Limit(1).Find(&rows).Error; err != nil {
		return 0, 0, false, translate("store.ReadModelTxPosition", err)
	}
	if len(rows) == 0 {
		return 0, 0, false, nil
	}
	return uint64(rows[0].Block), rows[0].Idx, true, nil
}
