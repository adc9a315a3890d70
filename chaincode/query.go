package chaincode

import (
	"encoding/json"
	"fmt"

	"github.com/greenmint/greenmint"
)

// Page sizes of paginated queries.
const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

func pageSize(n int64) (int32, error) {
	if n == 0 {
		return defaultPageSize, nil
	}
	if n < 1 || n > maxPageSize {
		return 0, greenmint.Errorf(greenmint.EINVALID, "page_size must be 1 to %d, got %d", maxPageSize, n)
	}
	return int32(n), nil
}

// getOne answers the single-object queries.
func getOne[T any](what, kind string) func(*txn, archive, *greenmint.IDQuery) (any, error) {
	return func(t *txn, _ archive, q *greenmint.IDQuery) (any, error) {
		if q.ID == "" {
			return nil, greenmint.Errorf(greenmint.EINVALID, "id is required")
		}
		var v T
		if err := t.mustGet(&v, what, kind, q.ID); err != nil {
			return nil, err
		}
		return v, nil
	}
}

func (t *txn) getMeters(_ archive, q *greenmint.IDsQuery) (any, error) {
	if len(q.IDs) == 0 {
		return nil, greenmint.Errorf(greenmint.EINVALID, "ids is required")
	}
	if len(q.IDs) > greenmint.MaxIDsPerQuery {
		return nil, greenmint.Errorf(greenmint.EINVALID, "%d ids; at most %d", len(q.IDs), greenmint.MaxIDsPerQuery)
	}
	out := make([]greenmint.Meter, 0, len(q.IDs))
	for _, id := range q.IDs {
		if _, err := key(kindMeter, id); err != nil || id == "" {
			continue // no meter can have this ID: not registered
		}
		var m greenmint.Meter
		if ok, err := t.get(&m, kindMeter, id); err != nil {
			return nil, err
		} else if ok {
			out = append(out, m)
		}
	}
	return out, nil
}

func (t *txn) getPolicy(_ archive, _ *struct{}) (any, error) { return t.policy() }

func (t *txn) getDataset(_ archive, q *greenmint.DatasetQuery) (any, error) {
	var d greenmint.Dataset
	if ok, err := t.get(&d, kindDataset, q.ID, q.Version); err != nil {
		return nil, err
	} else if !ok {
		return nil, greenmint.Errorf(greenmint.ENOTFOUND, "dataset %s version %s does not exist", q.ID, q.Version)
	}
	return d, nil
}

// listAll decodes every object of a kind.
func listAll[T any](kind string) func(*txn, archive, *struct{}) (any, error) {
	return func(t *txn, _ archive, _ *struct{}) (any, error) {
		_, vals, err := t.scan(kind)
		if err != nil {
			return nil, err
		}
		out := make([]T, 0, len(vals))
		for _, raw := range vals {
			var v T
			if err := json.Unmarshal(raw, &v); err != nil {
				return nil, fmt.Errorf("chaincode: decode %s: %w", kind, err)
			}
			out = append(out, v)
		}
		return out, nil
	}
}

func (t *txn) holdingsByOwner(a archive, q *greenmint.PageQuery) (any, error) {
	if err := checkID("owner", q.Owner, mspPattern); err != nil {
		return nil, err
	}
	if err := t.mayReadOrg(q.Owner, "the holdings"); err != nil {
		return nil, err
	}
	n, err := pageSize(q.PageSize)
	if err != nil {
		return nil, err
	}
	it, meta, err := a.GetStateByPartialCompositeKeyWithPagination(kindHolding, []string{q.Owner}, n, q.Bookmark)
	if err != nil {
		return nil, greenmint.E(greenmint.EINVALID, "", err, "holdings query")
	}
	defer it.Close()
	page := greenmint.HoldingsPage{Holdings: []greenmint.Holding{}, Bookmark: meta.GetBookmark()}
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("chaincode: holdings: %w", err)
		}
		var h greenmint.Holding
		if err := json.Unmarshal(kv.Value, &h); err != nil {
			return nil, fmt.Errorf("chaincode: decode holding: %w", err)
		}
		page.Holdings = append(page.Holdings, h)
	}
	return page, nil
}

func (t *txn) batchHolders(a archive, q *greenmint.PageQuery) (any, error) {
	if ok, err := t.readsEverything(); err != nil {
		return nil, err
	} else if !ok {
		return nil, greenmint.Errorf(greenmint.EFORBIDDEN, "only the registry and admitted auditors list a batch's holders (R11)")
	}
	n, err := pageSize(q.PageSize)
	if err != nil {
		return nil, err
	}
	if q.BatchID == "" {
		return nil, greenmint.Errorf(greenmint.EINVALID, "batch_id is required")
	}
	it, meta, err := a.GetStateByPartialCompositeKeyWithPagination(kindHolder, []string{q.BatchID}, n, q.Bookmark)
	if err != nil {
		return nil, greenmint.E(greenmint.EINVALID, "", err, "holders query")
	}
	defer it.Close()
	page := greenmint.HoldingsPage{Holdings: []greenmint.Holding{}, Bookmark: meta.GetBookmark()}
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("chaincode: holders: %w", err)
		}
		_, parts, err := splitKey(kv.Key)
		if err != nil {
			return nil, err
		}
		var h greenmint.Holding
		if err := t.mustGet(&h, "holding", kindHolding, parts[1], q.BatchID); err != nil {
			return nil, err
		}
		page.Holdings = append(page.Holdings, h)
	}
	return page, nil
}

func history(a archive, kind string, attrs ...string) ([]greenmint.HistoryEntry, error) {
	k, err := key(kind, attrs...)
	if err != nil {
		return nil, err
	}
	it, err := a.GetHistoryForKey(k)
	if err != nil {
		return nil, fmt.Errorf("chaincode: history: %w", err)
	}
	defer it.Close()
	out := []greenmint.HistoryEntry{}
	for it.HasNext() {
		m, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("chaincode: history: %w", err)
		}
		e := greenmint.HistoryEntry{TxID: m.GetTxId(), Deleted: m.GetIsDelete(), Timestamp: greenmint.FormatTime(m.GetTimestamp().AsTime())}
		if !m.GetIsDelete() {
			e.Value = json.RawMessage(m.GetValue())
		}
		out = append(out, e)
	}
	return out, nil
}

func (t *txn) batchHistory(a archive, q *greenmint.IDQuery) (any, error) {
	if err := t.mustGet(nil, "batch", kindBatch, q.ID); err != nil {
		return nil, err
	}
	return history(a, kindBatch, q.ID)
}

func (t *txn) holdingHistory(a archive, q *greenmint.HoldingQuery) (any, error) {
	if err := t.mayReadOrg(q.Owner, "the holdings"); err != nil {
		return nil, err
	}
	if err := t.mustGet(nil, "holding", kindHolding, q.Owner, q.BatchID); err != nil {
		return nil, err
	}
	return history(a, kindHolding, q.Owner, q.BatchID)
}

func (t *txn) claimsBySite(_ archive, q *greenmint.ClaimsQuery) (any, error) {
	from, err := greenmint.ParseHour(q.From)
	if err != nil {
		return nil, err
	}
	to, err := greenmint.ParseHour(q.To)
	if err != nil {
		return nil, err
	}
	if !to.After(from) {
		return nil, greenmint.Errorf(greenmint.EINVALID, "to must be after from")
	}
	if err := t.mustGet(nil, "site", kindSite, q.SiteID); err != nil {
		return nil, err
	}
	keys, _, err := t.scan(kindSiteBatch, q.SiteID)
	if err != nil {
		return nil, err
	}
	out := []greenmint.Batch{}
	for _, k := range keys {
		var b greenmint.Batch
		if err := t.mustGet(&b, "batch", kindBatch, k[2]); err != nil {
			return nil, err
		}
		bs, _ := greenmint.ParseHour(b.PeriodStart)
		be, _ := greenmint.ParseHour(b.PeriodEnd)
		if bs.Before(to) && be.After(from) {
			out = append(out, b)
		}
	}
	return out, nil
}

func (t *txn) listFlags(_ archive, q *greenmint.IDQuery) (any, error) {
	var b greenmint.Batch
	if err := t.mustGet(&b, "batch", kindBatch, q.ID); err != nil {
		return nil, err
	}
	if err := t.mayReadFlags(&b); err != nil {
		return nil, err
	}
	_, vals, err := t.scan(kindFlag, q.ID)
	if err != nil {
		return nil, err
	}
	out := []greenmint.Flag{}
	for _, raw := range vals {
		var f greenmint.Flag
		if err := json.Unmarshal(raw, &f); err != nil {
			return nil, fmt.Errorf("chaincode: decode flag: %w", err)
		}
		out = append(out, f)
	}
	return out, nil
}

func (t *txn) siteMeters(_ archive, q *greenmint.IDQuery) (any, error) {
	if err := t.mustGet(nil, "site", kindSite, q.ID); err != nil {
		return nil, err
	}
	keys, _, err := t.scan(kindSiteMeter, q.ID)
	if err != nil {
		return nil, err
	}
	out := []greenmint.Meter{}
	for _, k := range keys {
		var m greenmint.Meter
		if err := t.mustGet(&m, "meter", kindMeter, k[1]); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func (t *txn) generationHours(_ archive, q *greenmint.GenerationQuery) (any, error) {
	from, err := greenmint.ParseHour(q.From)
	if err != nil {
		return nil, err
	}
	to, err := greenmint.ParseHour(q.To)
	if err != nil {
		return nil, err
	}
	if err := t.mustGet(nil, "meter", kindMeter, q.MeterID); err != nil {
		return nil, err
	}
	keys, vals, err := t.scan(kindGenHour, q.MeterID)
	if err != nil {
		return nil, err
	}
	out := []greenmint.GenerationHour{}
	for i, k := range keys {
		h, err := greenmint.ParseHour(k[1])
		if err != nil || h.Before(from) || !h.Before(to) {
			continue
		}
		var g genHour
		if err := json.Unmarshal(vals[i], &g); err != nil {
			return nil, fmt.Errorf("chaincode: decode generation hour: %w", err)
		}
		out = append(out, greenmint.GenerationHour{Hour: k[1], GeneratedWh: g.GeneratedWh, AllocatedWh: g.AllocatedWh})
	}
	return out, nil
}
