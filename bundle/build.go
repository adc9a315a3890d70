package bundle

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/ledger/embedded"
)

// BlockSource hands out a ledger's committed blocks as the ledger stores or
// delivers them. *embedded.Ledger and *fabric.Ledger implement it.
type BlockSource interface {
	// BlockFormat is LedgerEmbedded or LedgerFabric: how the bytes read.
	BlockFormat() string
	// BlockBytes returns block n, read as id. ENOTFOUND beyond the height.
	BlockBytes(ctx context.Context, id *greenmint.Identity, n uint64) ([]byte, error)
	// BlockOfTx returns the number and bytes of the block holding
	// transaction txID. ENOTFOUND for an unknown transaction.
	BlockOfTx(ctx context.Context, id *greenmint.Identity, txID string) (uint64, []byte, error)
	// ChainHeight returns the number of blocks.
	ChainHeight(ctx context.Context, id *greenmint.Identity) (uint64, error)
}

// ReadingSource reads the readings an oracle stored: those of the given
// meters whose intervals start in [from, to). *store.DB implements it.
type ReadingSource interface {
	Readings(ctx context.Context, meterIDs []string, from, to time.Time) ([]greenmint.Reading, error)
}

// Options tune a build.
type Options struct {
	// Readings, when set, is the oracle's database: the bundle then carries
	// the readings behind each attestation (when they make its root).
	Readings ReadingSource
	// Now stamps created_at. Default time.Now.
	Now func() time.Time
}

// BuildBatch builds the bundle of a batch, reading the ledger as reader
// (any identity of a channel organisation: everything read is public).
// blocks may be nil when l implements BlockSource. Errors: ENOTFOUND for
// an unknown batch; EUNAVAILABLE for a ledger that hands out no blocks or
// cannot be reached.
func BuildBatch(ctx context.Context, l greenmint.Ledger, blocks BlockSource, reader *greenmint.Identity, batchID string, opts Options) (*Bundle, error) {
	b, err := newBuilder(ctx, l, blocks, reader, opts, Subject{Kind: KindBatch, ID: batchID})
	if err != nil {
		return nil, err
	}
	bt, err := b.batch(batchID)
	if err != nil {
		return nil, fmt.Errorf("bundle.BuildBatch: %w", err)
	}
	b.bd.Batches = []Batch{*bt}
	return b.finish()
}

// BuildStatement builds the bundle of a retirement statement and of every
// batch it retires from. Errors as BuildBatch's.
func BuildStatement(ctx context.Context, l greenmint.Ledger, blocks BlockSource, reader *greenmint.Identity, statementID string, opts Options) (*Bundle, error) {
	b, err := newBuilder(ctx, l, blocks, reader, opts, Subject{Kind: KindStatement, ID: statementID})
	if err != nil {
		return nil, err
	}
	var st greenmint.RetirementStatement
	if err := greenmint.EvaluateJSON(ctx, l, reader, greenmint.QueryGetRetirement, greenmint.IDQuery{ID: statementID}, &st); err != nil {
		return nil, fmt.Errorf("bundle.BuildStatement: %w", err)
	}
	tx, err := b.tx(st.TxID)
	if err != nil {
		return nil, fmt.Errorf("bundle.BuildStatement: %w", err)
	}
	v, err := b.written(tx, compositeKey("retirement", st.ID))
	if err != nil {
		return nil, fmt.Errorf("bundle.BuildStatement: %w", err)
	}
	b.bd.Statement = v
	seen := map[string]bool{}
	for _, p := range st.Parts {
		if seen[p.BatchID] {
			continue
		}
		seen[p.BatchID] = true
		bt, err := b.batch(p.BatchID)
		if err != nil {
			return nil, fmt.Errorf("bundle.BuildStatement: %w", err)
		}
		b.bd.Batches = append(b.bd.Batches, *bt)
	}
	return b.finish()
}

// builder gathers a bundle's evidence.
type builder struct {
	ctx    context.Context
	l      greenmint.Ledger
	src    BlockSource
	id     *greenmint.Identity
	opts   Options
	bd     *Bundle
	raw    map[uint64][]byte
	blocks map[uint64]*ledgerBlock
	fabric map[uint64]*fabricBlock
	cited  map[uint64]bool
}

func newBuilder(ctx context.Context, l greenmint.Ledger, src BlockSource, reader *greenmint.Identity, opts Options, subject Subject) (*builder, error) {
	if src == nil {
		s, ok := l.(BlockSource)
		if !ok {
			return nil, greenmint.Errorf(greenmint.EUNAVAILABLE, "this ledger hands out no blocks, so no proof bundle can be built")
		}
		src = s
	}
	if f := src.BlockFormat(); f != LedgerEmbedded && f != LedgerFabric {
		return nil, greenmint.Errorf(greenmint.EINTERNAL, "unknown block format %q", f)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	bd := &Bundle{Format: Format, Version: Version, Subject: subject, CreatedAt: greenmint.FormatTime(opts.Now()),
		Ledger: Ledger{Type: src.BlockFormat()}, Batches: []Batch{}}
	return &builder{ctx: ctx, l: l, src: src, id: reader, opts: opts, bd: bd,
		raw: map[uint64][]byte{}, blocks: map[uint64]*ledgerBlock{}, fabric: map[uint64]*fabricBlock{}, cited: map[uint64]bool{}}, nil
}

// parse reads a block's bytes into the model and keeps them.
func (b *builder) parse(n uint64, raw []byte) (*ledgerBlock, error) {
	if lb, ok := b.blocks[n]; ok {
		return lb, nil
	}
	var lb *ledgerBlock
	if b.bd.Ledger.Type == LedgerEmbedded {
		_, parsed, err := parseEmbeddedBlock(raw)
		if err != nil {
			return nil, greenmint.E(greenmint.EINTERNAL, "", err, "block %d", n)
		}
		lb = parsed
	} else {
		fb, err := parseFabricBlock(raw)
		if err != nil {
			return nil, greenmint.E(greenmint.EINTERNAL, "", err, "block %d", n)
		}
		b.fabric[n], lb = fb, fb.lb
	}
	b.raw[n], b.blocks[n] = raw, lb
	return lb, nil
}

// block returns block n, read once.
func (b *builder) block(n uint64) (*ledgerBlock, error) {
	if lb, ok := b.blocks[n]; ok {
		return lb, nil
	}
	raw, err := b.src.BlockBytes(b.ctx, b.id, n)
	if err != nil {
		return nil, err
	}
	return b.parse(n, raw)
}

// tx returns the valid transaction txID and cites its block.
func (b *builder) tx(txID string) (*ledgerTx, error) {
	n, raw, err := b.src.BlockOfTx(b.ctx, b.id, txID)
	if err != nil {
		return nil, err
	}
	lb, err := b.parse(n, raw)
	if err != nil {
		return nil, err
	}
	for _, t := range lb.Txs {
		if t.ID == txID && t.valid() {
			b.cite(t)
			return t, nil
		}
	}
	return nil, greenmint.Errorf(greenmint.ENOTFOUND, "block %d holds no valid transaction %s", n, txID)
}

// cite records that the bundle cites tx's block, and learns the channel's
// chaincode from it.
func (b *builder) cite(t *ledgerTx) {
	b.cited[t.Block] = true
	if b.bd.Ledger.Chaincode == "" {
		b.bd.Ledger.Chaincode = t.Chaincode
	}
}

// written returns what tx wrote to key.
func (b *builder) written(t *ledgerTx, key string) (*Value, error) {
	w, ok := t.Writes[key]
	if !ok || w.Delete {
		return nil, greenmint.Errorf(greenmint.EINTERNAL, "transaction %s did not write %s", t.ID, describeKey(key))
	}
	return &Value{Ref: Ref{TxID: t.ID, Block: t.Block, Tx: t.Index}, Value: json.RawMessage(w.Value)}, nil
}

// read returns the version of key that tx read, as it was written.
func (b *builder) read(t *ledgerTx, key string) (*Value, error) {
	ver, ok := t.Reads[key]
	if !ok || ver == nil {
		return nil, greenmint.Errorf(greenmint.EINTERNAL, "transaction %s did not read %s", t.ID, describeKey(key))
	}
	lb, err := b.block(ver.Block)
	if err != nil {
		return nil, err
	}
	if ver.Tx >= uint64(len(lb.Txs)) {
		return nil, greenmint.Errorf(greenmint.EINTERNAL, "block %d has no transaction %d", ver.Block, ver.Tx)
	}
	w := lb.Txs[ver.Tx]
	b.cite(w)
	return b.written(w, key)
}

// batch gathers one batch's evidence.
func (b *builder) batch(batchID string) (*Batch, error) {
	ctx, l, id := b.ctx, b.l, b.id
	var bt greenmint.Batch
	if err := greenmint.EvaluateJSON(ctx, l, id, greenmint.QueryGetBatch, greenmint.IDQuery{ID: batchID}, &bt); err != nil {
		return nil, err
	}
	var hist []greenmint.HistoryEntry
	if err := greenmint.EvaluateJSON(ctx, l, id, greenmint.QueryBatchHistory, greenmint.IDQuery{ID: batchID}, &hist); err != nil {
		return nil, err
	}
	var rec greenmint.AttestationRecord
	if err := greenmint.EvaluateJSON(ctx, l, id, greenmint.QueryGetAttestation, greenmint.IDQuery{ID: bt.AttestationID}, &rec); err != nil {
		return nil, err
	}
	out := &Batch{ID: batchID, Oracles: []Value{}, Meters: []Value{}, History: []HistoryEntry{}}
	mint, err := b.tx(rec.TxID)
	if err != nil {
		return nil, fmt.Errorf("the mint of batch %s: %w", batchID, err)
	}
	att, err := b.written(mint, compositeKey("attestation", rec.ID))
	if err != nil {
		return nil, err
	}
	out.Attestation = *att
	a := &rec.Attestation.Attestation
	reads := []struct {
		dst *Value
		key string
	}{
		{&out.Policy, compositeKey("policy")},
		{&out.Dataset, compositeKey("dataset", a.Dataset.ID, a.Dataset.Version)},
		{&out.Site, compositeKey("site", a.SiteID)},
	}
	for _, r := range reads {
		v, err := b.read(mint, r.key)
		if err != nil {
			return nil, err
		}
		*r.dst = *v
	}
	for _, s := range rec.Attestation.Signatures {
		v, err := b.read(mint, compositeKey("oracle", s.OracleID))
		if err != nil {
			return nil, err
		}
		out.Oracles = append(out.Oracles, *v)
	}
	meterIDs := append([]string(nil), a.ConsumptionMeters...)
	for _, h := range a.Hours {
		for _, al := range h.Allocations {
			meterIDs = append(meterIDs, al.MeterID)
		}
	}
	meterIDs = uniqueSorted(meterIDs)
	have := map[string]bool{}
	for _, m := range meterIDs {
		v, err := b.read(mint, compositeKey("meter", m))
		if err != nil {
			return nil, err
		}
		out.Meters = append(out.Meters, *v)
		have[m] = true
	}
	if b.opts.Readings != nil {
		rs, extra, err := b.readings(a, meterIDs)
		if err != nil {
			return nil, err
		}
		for _, m := range extra {
			if have[m] {
				continue
			}
			v, err := b.meterBefore(m, mint)
			if err != nil {
				return nil, err
			}
			out.Meters = append(out.Meters, *v)
		}
		out.Readings = rs
	}
	key := compositeKey("batch", batchID)
	for _, e := range hist {
		t, err := b.tx(e.TxID)
		if err != nil {
			return nil, fmt.Errorf("the history of batch %s: %w", batchID, err)
		}
		v, err := b.written(t, key)
		if err != nil {
			return nil, err
		}
		out.History = append(out.History, HistoryEntry{Ref: v.Ref, Timestamp: e.Timestamp, Value: v.Value})
	}
	// Oldest first: Fabric answers a key's history newest first, the
	// embedded ledger oldest first.
	sort.Slice(out.History, func(i, j int) bool {
		a, c := out.History[i].Ref, out.History[j].Ref
		return a.Block < c.Block || (a.Block == c.Block && a.Tx < c.Tx)
	})
	return out, nil
}

// readings returns the readings the attestation committed to, when the
// oracle's database holds exactly those that make its root (nil
// otherwise), and the meters they are of.
func (b *builder) readings(a *greenmint.Attestation, meterIDs []string) (*Readings, []string, error) {
	var site []greenmint.Meter
	if err := greenmint.EvaluateJSON(b.ctx, b.l, b.id, greenmint.QuerySiteMeters, greenmint.IDQuery{ID: a.SiteID}, &site); err != nil {
		return nil, nil, err
	}
	all := append([]string(nil), meterIDs...)
	var approved []string
	for _, m := range site {
		all = append(all, m.ID)
		if m.Status == greenmint.StatusApproved {
			approved = append(approved, m.ID)
		}
	}
	from, err := greenmint.ParseHour(a.PeriodStart)
	if err != nil {
		return nil, nil, err
	}
	to, err := greenmint.ParseHour(a.PeriodEnd)
	if err != nil {
		return nil, nil, err
	}
	rs, err := b.opts.Readings.Readings(b.ctx, uniqueSorted(all), from, to)
	if err != nil {
		return nil, nil, err
	}
	// The oracle took the readings of the site's approved meters when it
	// attested; which those were is not on the ledger, so try the likely
	// sets and keep the one that makes the attested root.
	for _, set := range [][]string{uniqueSorted(all), meterIDs, uniqueSorted(append(approved, meterIDs...))} {
		in := map[string]bool{}
		for _, m := range set {
			in[m] = true
		}
		var sel []greenmint.Reading
		for _, r := range rs {
			if in[r.MeterID] {
				sel = append(sel, r)
			}
		}
		sort.SliceStable(sel, func(i, j int) bool {
			if sel[i].MeterID != sel[j].MeterID {
				return sel[i].MeterID < sel[j].MeterID
			}
			return sel[i].Start < sel[j].Start
		})
		leaves := make([][32]byte, len(sel))
		for i, r := range sel {
			leaves[i], _ = greenmint.ReadingLeaf(r)
		}
		root := greenmint.MerkleRoot(leaves)
		if fmt.Sprintf("%x", root[:]) == a.ReadingsRoot {
			var used []string
			for _, r := range sel {
				used = append(used, r.MeterID)
			}
			if sel == nil {
				sel = []greenmint.Reading{}
			}
			return &Readings{Root: a.ReadingsRoot, Readings: sel}, uniqueSorted(used), nil
		}
	}
	return nil, nil, nil
}

// meterBefore returns the version of a meter in force before tx: the last
// one its history shows written before it.
func (b *builder) meterBefore(meterID string, t *ledgerTx) (*Value, error) {
	var hist []greenmint.HistoryEntry
	if err := greenmint.EvaluateJSON(b.ctx, b.l, b.id, greenmint.QueryMeterHistory, greenmint.IDQuery{ID: meterID}, &hist); err != nil {
		return nil, err
	}
	var best *ledgerTx
	for _, e := range hist {
		n, raw, err := b.src.BlockOfTx(b.ctx, b.id, e.TxID)
		if err != nil {
			return nil, err
		}
		if n > t.Block {
			continue
		}
		lb, err := b.parse(n, raw)
		if err != nil {
			return nil, err
		}
		for _, w := range lb.Txs {
			if w.ID == e.TxID && w.valid() && before(Ref{Block: w.Block, Tx: w.Index}, t) {
				best = w
			}
		}
	}
	if best == nil {
		return nil, greenmint.Errorf(greenmint.EINTERNAL, "meter %s has no version before transaction %s", meterID, t.ID)
	}
	b.cite(best)
	return b.written(best, compositeKey("meter", meterID))
}

// finish adds the blocks the bundle cites and what anchors them.
func (b *builder) finish() (*Bundle, error) {
	lg := &b.bd.Ledger
	if b.bd.Ledger.Type == LedgerEmbedded {
		if err := b.embeddedChain(); err != nil {
			return nil, err
		}
	} else {
		if err := b.fabricConfigs(); err != nil {
			return nil, err
		}
	}
	nums := make([]uint64, 0, len(b.cited))
	for n := range b.cited {
		nums = append(nums, n)
	}
	sort.Slice(nums, func(i, j int) bool { return nums[i] < nums[j] })
	for _, n := range nums {
		lg.Blocks = append(lg.Blocks, RawBlock{Number: n, Bytes: b.raw[n]})
	}
	return b.bd, nil
}

// embeddedChain adds block 0 and every header up to the head.
func (b *builder) embeddedChain() error {
	height, err := b.src.ChainHeight(b.ctx, b.id)
	if err != nil {
		return err
	}
	lg := &b.bd.Ledger
	lg.Headers = make([]embedded.BlockHeader, 0, height)
	for n := uint64(0); n < height; n++ {
		raw, ok := b.raw[n]
		if !ok {
			if raw, err = b.src.BlockBytes(b.ctx, b.id, n); err != nil {
				return err
			}
		}
		var blk struct {
			Header embedded.BlockHeader `json:"header"`
			Data   struct {
				Config *embedded.ChannelConfig `json:"config"`
			} `json:"data"`
		}
		if err := json.Unmarshal(raw, &blk); err != nil {
			return greenmint.E(greenmint.EINTERNAL, "", err, "block %d does not decode", n)
		}
		lg.Headers = append(lg.Headers, blk.Header)
		if n == 0 {
			if blk.Data.Config == nil {
				return greenmint.Errorf(greenmint.EINTERNAL, "block 0 holds no channel configuration")
			}
			lg.Channel = blk.Data.Config.ChannelID
			lg.Chaincode = blk.Data.Config.Chaincode
			b.raw[0], b.cited[0] = raw, true
		}
	}
	last := lg.Headers[len(lg.Headers)-1]
	h, err := headerHash(last)
	if err != nil {
		return err
	}
	lg.Head = &Head{Number: last.Number, Hash: h}
	return nil
}

// fabricConfigs adds the channel configuration blocks the cited blocks name.
func (b *builder) fabricConfigs() error {
	for n := range b.cited {
		fb := b.fabric[n]
		if _, err := b.block(fb.lastConfig); err != nil {
			return err
		}
		b.cited[fb.lastConfig] = true
		for _, ft := range fb.txs {
			if ft != nil && b.bd.Ledger.Channel == "" {
				b.bd.Ledger.Channel = ft.channelID
			}
		}
	}
	return nil
}

func uniqueSorted(xs []string) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out
}
