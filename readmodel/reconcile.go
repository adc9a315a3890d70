package readmodel

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/store"
)

// Problems a Difference reports.
const (
	Missing = "missing" // the ledger has the object, the read model does not
	Extra   = "extra"   // the read model has a row the ledger does not
	Differs = "differs" // both have it, a field differs
)

// Difference is one way the read model and the ledger disagree: the kind
// and key of the object (as store.ProjectedEntity names them), the
// problem, and for Differs the field with both values.
type Difference struct {
	Kind      string `json:"kind"`
	Key       string `json:"key"`
	Problem   string `json:"problem"`
	Field     string `json:"field,omitempty"`
	Ledger    string `json:"ledger,omitempty"`
	ReadModel string `json:"read_model,omitempty"`
}

// String describes d for people.
func (d Difference) String() string {
	switch d.Problem {
	case Differs:
		return fmt.Sprintf("%s %s: %s is %s in the read model, %s on the ledger", d.Kind, d.Key, d.Field, d.ReadModel, d.Ledger)
	case Missing:
		return fmt.Sprintf("%s %s: on the ledger, missing from the read model", d.Kind, d.Key)
	}
	return fmt.Sprintf("%s %s: in the read model, not on the ledger", d.Kind, d.Key)
}

// object names one ledger object the read model projects.
type object struct {
	kind string
	key  []string // the ledger key's attributes
}

// entityKey is the key store.ProjectedEntity gives the object.
func (o object) entityKey() string {
	if o.kind == store.KindHolding {
		return strings.Join(o.key, "/")
	}
	return o.key[len(o.key)-1]
}

// Reconcile compares the read model with the ledger's current state and
// returns every difference, sorted by kind, key and field (none: they
// agree). The objects compared are every one the read model holds and
// every one an event wrote, from block 0 up to the event of transaction
// lastTxID (the ledger's newest); each is read from the ledger's queries
// as reader, an identity that reads everything (the registry or an
// admitted auditor). Run it on a read model that is caught up (SyncTo):
// events applied since lastTxID show as differences.
func (p *Projector) Reconcile(ctx context.Context, reader *greenmint.Identity, lastTxID string) ([]Difference, error) {
	objs := map[string]object{} // kind + "\x00" + entity key
	add := func(o object) { objs[o.kind+"\x00"+o.entityKey()] = o }
	if lastTxID != "" {
		if err := p.scanEvents(ctx, lastTxID, add); err != nil {
			return nil, err
		}
	}
	rows := map[string]store.ProjectedEntity{}
	for _, kind := range store.ProjectedKinds() {
		es, err := p.db.ProjectedEntities(ctx, kind)
		if err != nil {
			return nil, fmt.Errorf("readmodel.Reconcile: %w", err)
		}
		for _, e := range es {
			rows[kind+"\x00"+e.Key] = e
			switch kind {
			case store.KindHolding:
				add(object{kind: kind, key: []string{e.Fields["owner"], e.Fields["batch_id"]}})
			case store.KindFlag:
				add(object{kind: kind, key: []string{e.Fields["batch_id"], e.Key}})
			default:
				add(object{kind: kind, key: []string{e.Key}})
			}
		}
	}
	r := ledgerReader{l: p.ledger, id: reader, holders: map[string][]greenmint.Holding{}, flags: map[string][]greenmint.Flag{}}
	var diffs []Difference
	for k, o := range objs {
		raw, err := r.value(ctx, o)
		if err != nil {
			return nil, fmt.Errorf("readmodel.Reconcile: %s %v: %w", o.kind, o.key, err)
		}
		row, inModel := rows[k]
		switch {
		case raw == nil && !inModel:
		case raw == nil:
			diffs = append(diffs, Difference{Kind: o.kind, Key: o.entityKey(), Problem: Extra})
		case !inModel:
			diffs = append(diffs, Difference{Kind: o.kind, Key: o.entityKey(), Problem: Missing})
		default:
			want, _, err := store.ProjectValue(o.kind, raw)
			if err != nil {
				return nil, fmt.Errorf("readmodel.Reconcile: %w", err)
			}
			if o.kind == store.KindBatch {
				a, err := r.attestation(ctx, want.Fields["doc.attestation_id"])
				if err != nil {
					return nil, fmt.Errorf("readmodel.Reconcile: batch %s: %w", o.entityKey(), err)
				}
				want.Fields["technologies"] = store.Technologies(a)
				want.Fields["surplus_bp"] = strconv.FormatInt(store.SurplusBP(a), 10)
			}
			diffs = append(diffs, compare(o, want.Fields, row.Fields)...)
		}
	}
	sort.Slice(diffs, func(i, j int) bool {
		a, b := diffs[i], diffs[j]
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Key != b.Key {
			return a.Key < b.Key
		}
		return a.Field < b.Field
	})
	return diffs, nil
}

func compare(o object, ledger, model map[string]string) []Difference {
	var names []string
	for f := range ledger {
		names = append(names, f)
	}
	for f := range model {
		if _, ok := ledger[f]; !ok {
			names = append(names, f)
		}
	}
	slices.Sort(names)
	var out []Difference
	for _, f := range names {
		lv, lok := ledger[f]
		mv, mok := model[f]
		if lv == mv && lok == mok {
			continue
		}
		if !lok {
			lv = "(absent)"
		}
		if !mok {
			mv = "(absent)"
		}
		out = append(out, Difference{Kind: o.kind, Key: o.entityKey(), Problem: Differs, Field: f, Ledger: lv, ReadModel: mv})
	}
	return out
}

// scanEvents calls add with every projected object the ledger's events
// wrote, from block 0 through the event of lastTxID.
func (p *Projector) scanEvents(ctx context.Context, lastTxID string, add func(object)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, err := p.ledger.Events(ctx, 0)
	if err != nil {
		return fmt.Errorf("readmodel.Reconcile: %w", err)
	}
	projected := store.ProjectedKinds()
	for ev := range ch {
		var payload greenmint.EventPayload
		if err := json.Unmarshal(ev.Payload, &payload); err != nil {
			return greenmint.E(greenmint.EINTERNAL, "readmodel.Reconcile", err, "the event of transaction %s does not decode", ev.TxID)
		}
		for _, c := range payload.Changes {
			if slices.Contains(projected, c.Kind) && len(c.Key) > 0 {
				add(object{kind: c.Kind, key: c.Key})
			}
		}
		if ev.TxID == lastTxID {
			return nil
		}
	}
	if err := ctx.Err(); err != nil {
		return greenmint.E(greenmint.EUNAVAILABLE, "readmodel.Reconcile", err, "reading the ledger's events")
	}
	return greenmint.Errorf(greenmint.ENOTFOUND, "the ledger has no event of transaction %s", lastTxID)
}

// ledgerReader reads objects' current values through the contract's
// queries, caching the lists of a batch's holders and flags.
type ledgerReader struct {
	l       greenmint.Ledger
	id      *greenmint.Identity
	holders map[string][]greenmint.Holding
	flags   map[string][]greenmint.Flag
}

// value returns the ledger's JSON of o, nil when the ledger has none.
func (r *ledgerReader) value(ctx context.Context, o object) ([]byte, error) {
	id := o.key[len(o.key)-1]
	switch o.kind {
	case store.KindSite:
		return r.get(ctx, greenmint.QueryGetSite, id)
	case store.KindMeter:
		return r.get(ctx, greenmint.QueryGetMeter, id)
	case store.KindBatch:
		return r.get(ctx, greenmint.QueryGetBatch, id)
	case store.KindListing:
		return r.get(ctx, greenmint.QueryGetListing, id)
	case store.KindRetirement:
		return r.get(ctx, greenmint.QueryGetRetirement, id)
	case store.KindOrganisation:
		return r.get(ctx, greenmint.QueryGetOrganization, id)
	case store.KindHolding:
		if len(o.key) != 2 {
			return nil, greenmint.Errorf(greenmint.EINTERNAL, "holding key %v: want owner and batch", o.key)
		}
		hs, err := r.batchHolders(ctx, o.key[1])
		if err != nil {
			return nil, err
		}
		for _, h := range hs {
			if h.Owner == o.key[0] {
				return json.Marshal(h)
			}
		}
		return nil, nil
	case store.KindFlag:
		if len(o.key) != 2 {
			return nil, greenmint.Errorf(greenmint.EINTERNAL, "flag key %v: want batch and flag", o.key)
		}
		fs, err := r.batchFlags(ctx, o.key[0])
		if err != nil {
			return nil, err
		}
		for _, f := range fs {
			if f.ID == id {
				return json.Marshal(f)
			}
		}
		return nil, nil
	}
	return nil, greenmint.Errorf(greenmint.EINTERNAL, "the read model does not project %q", o.kind)
}

func (r *ledgerReader) get(ctx context.Context, query, id string) ([]byte, error) {
	arg, err := json.Marshal(greenmint.IDQuery{ID: id})
	if err != nil {
		return nil, greenmint.E(greenmint.EINTERNAL, "", err, "cannot encode %s request", query)
	}
	out, err := r.l.Evaluate(ctx, r.id, query, string(arg))
	if greenmint.ErrorCode(err) == greenmint.ENOTFOUND {
		return nil, nil
	}
	return out, err
}

func (r *ledgerReader) batchHolders(ctx context.Context, batchID string) ([]greenmint.Holding, error) {
	if hs, ok := r.holders[batchID]; ok {
		return hs, nil
	}
	var all []greenmint.Holding
	q := greenmint.PageQuery{BatchID: batchID, PageSize: 100}
	for {
		var page greenmint.HoldingsPage
		if err := greenmint.EvaluateJSON(ctx, r.l, r.id, greenmint.QueryBatchHolders, q, &page); err != nil {
			if greenmint.ErrorCode(err) == greenmint.ENOTFOUND {
				break
			}
			return nil, err
		}
		all = append(all, page.Holdings...)
		if page.Bookmark == "" || len(page.Holdings) == 0 {
			break
		}
		q.Bookmark = page.Bookmark
	}
	r.holders[batchID] = all
	return all, nil
}

func (r *ledgerReader) batchFlags(ctx context.Context, batchID string) ([]greenmint.Flag, error) {
	if fs, ok := r.flags[batchID]; ok {
		return fs, nil
	}
	var fs []greenmint.Flag
	if err := greenmint.EvaluateJSON(ctx, r.l, r.id, greenmint.QueryListFlags, greenmint.IDQuery{ID: batchID}, &fs); err != nil && greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
		return nil, err
	}
	r.flags[batchID] = fs
	return fs, nil
}

// attestation returns the attestation with this ID (its JSON string, as
// the batch's doc holds it): a batch's technologies and surplus share come
// from it.
func (r *ledgerReader) attestation(ctx context.Context, attestationID string) (greenmint.Attestation, error) {
	var id string
	if err := json.Unmarshal([]byte(attestationID), &id); err != nil {
		return greenmint.Attestation{}, greenmint.E(greenmint.EINTERNAL, "", err, "attestation_id %s is not a string", attestationID)
	}
	var rec greenmint.AttestationRecord
	if err := greenmint.EvaluateJSON(ctx, r.l, r.id, greenmint.QueryGetAttestation, greenmint.IDQuery{ID: id}, &rec); err != nil {
		return greenmint.Attestation{}, err
	}
	return rec.Attestation.Attestation, nil
}
