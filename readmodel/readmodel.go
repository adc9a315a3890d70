// Package readmodel projects the ledger's events into SQL tables (through
// internal/store) that the gateway lists and searches: sites, meters,
// batches, holdings, listings, retirements, flags, organisations' admissions
// and every event, with a checkpoint. Each event is applied in one database
// transaction with the checkpoint, so a crash loses nothing and applying an
// event again changes nothing. Reindex rebuilds the tables from block 0;
// Reconcile compares them with the ledger's own state and names every
// difference. The ledger stays the authority: nothing here decides anything.
// See docs/readmodel.md.
package readmodel

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/store"
)

// Projector applies a ledger's events to a read model database.
type Projector struct {
	ledger greenmint.Ledger
	db     *store.DB

	runMu sync.Mutex // one Run at a time

	mu      sync.Mutex
	cp      store.Checkpoint
	changed chan struct{} // closed and replaced whenever an event is applied or Run ends
}

// New returns a projector of l's events into db (migrated), resuming from
// db's checkpoint.
func New(ctx context.Context, l greenmint.Ledger, db *store.DB) (*Projector, error) {
	cp, err := db.ReadModelCheckpoint(ctx)
	if err != nil {
		return nil, fmt.Errorf("readmodel.New: %w", err)
	}
	return &Projector{ledger: l, db: db, cp: cp, changed: make(chan struct{})}, nil
}

// FollowEvery is how often Follow reads the database's checkpoint.
const FollowEvery = 200 * time.Millisecond

// Checkpoint returns the last event applied (by this projector's Run, or,
// while it follows, by the replica that leads).
func (p *Projector) Checkpoint() store.Checkpoint {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cp
}

// Changed returns a channel closed the next time the projector applies
// events or, while it follows, sees the leader's (or Run or Follow
// ends): wait on it, then read what is new.
func (p *Projector) Changed() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.changed
}

func (p *Projector) signal() {
	p.mu.Lock()
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

// adopt makes cp the checkpoint and signals a change.
func (p *Projector) adopt(cp store.Checkpoint) {
	p.mu.Lock()
	moved := p.cp != cp
	p.cp = cp
	p.mu.Unlock()
	if moved {
		p.signal()
	}
}

// Follow keeps the checkpoint with the database's while another replica
// runs the projector (package leader elects it): every FollowEvery it
// reads the checkpoint the leader moves and, when it moved, makes it this
// projector's and signals Changed, so that Checkpoint, Changed and WaitTx
// (and what the gateway caches by the checkpoint) see the leader's events
// here too. It applies nothing. It runs until ctx ends (it returns nil
// then) or the database cannot be read (unavailable); Run and Follow take
// turns, never at once.
func (p *Projector) Follow(ctx context.Context) error {
	p.runMu.Lock()
	defer p.runMu.Unlock()
	defer p.signal()
	t := time.NewTicker(FollowEvery)
	defer t.Stop()
	for {
		cp, err := p.db.ReadModelCheckpoint(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return greenmint.E(greenmint.EUNAVAILABLE, "readmodel.Follow", err, "cannot read the read model's checkpoint")
		}
		p.adopt(cp)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Run follows the ledger's events from the database's checkpoint on (where
// a replica that led before left it) and applies them as they arrive (those already waiting together, up to 512 in one
// database transaction with the checkpoint), until ctx ends (it returns
// nil then), the event stream ends (unavailable) or an event cannot be
// applied. The ledger redelivers the checkpoint's block from its first
// event; the events already applied are skipped by their position.
func (p *Projector) Run(ctx context.Context) error {
	p.runMu.Lock()
	defer p.runMu.Unlock()
	defer p.signal()
	cp, err := p.db.ReadModelCheckpoint(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("readmodel.Run: %w", err)
	}
	p.adopt(cp)
	from := uint64(0)
	if !cp.Empty {
		from = cp.Block
	}
	ch, err := p.ledger.Events(ctx, from)
	if err != nil {
		return fmt.Errorf("readmodel.Run: %w", err)
	}
	block, idx := uint64(0), int64(-1)
	// Events already delivered are applied together, up to maxBatch in
	// one database transaction (one commit, one fsync), so that the read
	// model keeps up with a ledger committing thousands a second; a lone
	// event is applied at once.
	const maxBatch = 512
	batch := make([]store.ProjectedEvent, 0, maxBatch)
	add := func(ev greenmint.ChaincodeEvent) error {
		if idx < 0 || ev.BlockNumber != block {
			block, idx = ev.BlockNumber, 0
		} else {
			idx++
		}
		if !cp.Empty && (block < cp.Block || (block == cp.Block && idx <= cp.Index)) {
			return nil
		}
		var payload greenmint.EventPayload
		if err := json.Unmarshal(ev.Payload, &payload); err != nil {
			return greenmint.E(greenmint.EINTERNAL, "readmodel.Run", err, "the event of transaction %s in block %d does not decode", ev.TxID, ev.BlockNumber)
		}
		if payload.TxID == "" {
			payload.TxID = ev.TxID
		}
		if payload.Function == "" {
			payload.Function = ev.Name
		}
		batch = append(batch, store.ProjectedEvent{Block: block, Index: idx, Payload: payload})
		return nil
	}
	// flush applies the batch; the events before one that does not
	// decode are kept.
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if _, err := p.db.ApplyEvents(ctx, batch); err != nil {
			return err
		}
		last := batch[len(batch)-1]
		cp = store.Checkpoint{Block: last.Block, Index: last.Index, TxID: last.Payload.TxID}
		p.adopt(cp)
		batch = batch[:0]
		return nil
	}
	for ev := range ch {
		err := add(ev)
		closed := false
	drain:
		for err == nil && len(batch) < maxBatch {
			select {
			case next, ok := <-ch:
				if !ok {
					closed = true
					break drain
				}
				err = add(next)
			default:
				break drain
			}
		}
		if ferr := flush(); ferr != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("readmodel.Run: %w", ferr)
		}
		if err != nil {
			return err
		}
		if closed {
			break
		}
	}
	if ctx.Err() == nil {
		return greenmint.Errorf(greenmint.EUNAVAILABLE, "the ledger's event stream ended (the ledger closed)")
	}
	return nil
}

// WaitTx waits until the event of transaction txID is applied and the
// checkpoint has reached it (by a Run going on elsewhere), or ctx ends
// (unavailable).
func (p *Projector) WaitTx(ctx context.Context, txID string) error {
	for {
		p.mu.Lock()
		cp, changed := p.cp, p.changed
		p.mu.Unlock()
		done := cp.TxID == txID
		if !done && !cp.Empty {
			block, idx, ok, err := p.db.ReadModelTxPosition(ctx, txID)
			if err != nil {
				return fmt.Errorf("readmodel.WaitTx: %w", err)
			}
			done = ok && (block < cp.Block || (block == cp.Block && idx <= cp.Index))
		}
		if done {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return greenmint.E(greenmint.EUNAVAILABLE, "readmodel.WaitTx", ctx.Err(), "transaction %s is not in the read model yet", txID)
		}
	}
}

// SyncTo applies events until the one of transaction lastTxID is applied,
// then returns: catching up with a ledger whose newest event is known (""
// means the ledger has none: nothing to do).
func (p *Projector) SyncTo(ctx context.Context, lastTxID string) error {
	if lastTxID == "" {
		return nil
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }()
	waitErr := p.WaitTx(ctx, lastTxID)
	cancel()
	if err := <-done; err != nil {
		return err
	}
	return waitErr
}

// Reindex drops every projected row, event and the checkpoint, and
// rebuilds the read model from block 0 up to the event of transaction
// lastTxID (the ledger's newest). Lists read during a reindex see it
// partly built.
func (p *Projector) Reindex(ctx context.Context, lastTxID string) error {
	p.runMu.Lock()
	err := p.db.ResetReadModel(ctx)
	if err == nil {
		p.mu.Lock()
		p.cp = store.Checkpoint{Empty: true}
		p.mu.Unlock()
	}
	p.runMu.Unlock()
	if err != nil {
		return fmt.Errorf("readmodel.Reindex: %w", err)
	}
	return p.SyncTo(ctx, lastTxID)
}
