package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2/sse"
	"github.com/greenmint/greenmint/auth"
	"github.com/greenmint/greenmint/internal/store"
	"github.com/greenmint/greenmint/webhook"
)

// eventIDBase packs an event's position into the stream's integer IDs:
// block × eventIDBase + the event's index in its block.
const eventIDBase = 1_000_000

// LedgerEvent is one committed transaction as the event stream tells it:
// what ran, who ran it, and the objects it changed (fetch them for their
// new values).
type LedgerEvent struct {
	ID        string   `json:"id" doc:"<block>-<index>: the position, also the SSE id as block×1000000+index"`
	Type      string   `json:"type" doc:"The contract transaction, e.g. Transfer, Mint, Retire, FlagBatch"`
	TxID      string   `json:"tx_id"`
	Block     uint64   `json:"block"`
	Timestamp string   `json:"timestamp"`
	Creator   string   `json:"creator" doc:"The organisation (MSP ID) that made it"`
	Objects   []string `json:"objects" doc:"The changed objects as kind/key…, e.g. holding/BuyerMSP/CO2E-…"`
}

// Heartbeat keeps an idle stream open and says how far the read model is.
type Heartbeat struct {
	Position string `json:"position" doc:"The last event applied to the read model"`
}

type eventsInput struct {
	LastEventID string `header:"Last-Event-ID" maxLength:"40" doc:"Resume after this event (the SSE id); without it the stream starts with new events"`
	After       string `query:"after" maxLength:"40" doc:"Resume after this event, as <block>-<index> or the SSE id (for clients that cannot set headers)"`
}

// eventPoll is how often a stream looks for events when no projector in
// this process tells it (another replica projects).
const eventPoll = time.Second

// heartbeatEvery is how often an idle stream sends a heartbeat.
const heartbeatEvery = 15 * time.Second

func (g *Gateway) eventRoutes() {
	streams := map[string]any{"ledger": LedgerEvent{}, "heartbeat": Heartbeat{}}
	sse.Register(g.api, operation(http.MethodGet, "/events", "events", "Your organisation's live events (Server-Sent Events): its holdings, listings, retirements, flags and its own transactions; the registry and admitted auditors: every event. Resumable with Last-Event-ID", "events",
		access{scope: auth.ScopeLedgerRead}), streams, func(ctx context.Context, in *eventsInput, send sse.Sender) {
		p := principalOf(ctx)
		reads := func(ctx context.Context, _ string) (bool, error) { return g.readsEverything(ctx, p) }
		g.stream(ctx, in, send, func(a *webhook.Audience, ev store.RecordedEvent) ([]string, bool, error) {
			return a.Objects(ctx, p.Org, false, ev)
		}, reads)
	})
	sse.Register(g.api, operation(http.MethodGet, "/public/events", "publicEvents", "Public live events (Server-Sent Events): every mint and every retirement. Resumable with Last-Event-ID", "public",
		access{public: true}), streams, func(ctx context.Context, in *eventsInput, send sse.Sender) {
		g.stream(ctx, in, send, func(a *webhook.Audience, ev store.RecordedEvent) ([]string, bool, error) {
			return a.Objects(ctx, "", true, ev)
		}, func(context.Context, string) (bool, error) { return false, nil })
	})
}

// parseEventID reads "<block>-<index>" or the packed integer.
func parseEventID(s string) (block, index int64, ok bool) {
	if b, i, found := strings.Cut(s, "-"); found {
		bn, err1 := strconv.ParseInt(b, 10, 64)
		in, err2 := strconv.ParseInt(i, 10, 64)
		return bn, in, err1 == nil && err2 == nil && bn >= 0 && in >= 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n / eventIDBase, n % eventIDBase, err == nil && n >= 0
}

// stream sends the events keep lets through, with the objects it lets
// through (the webhooks' audience rule, R11), from the resume position (or
// the read model's newest) on, until the client leaves.
func (g *Gateway) stream(ctx context.Context, in *eventsInput, send sse.Sender, keep func(*webhook.Audience, store.RecordedEvent) ([]string, bool, error), reads webhook.ReadsEverything) {
	block, index := int64(-1), int64(-1)
	resume := in.LastEventID
	if resume == "" {
		resume = in.After
	}
	if resume != "" {
		// streamLimit refused a position that does not parse.
		block, index, _ = parseEventID(resume)
	}
	if resume == "" {
		if cp := g.cfg.Projector.Checkpoint(); !cp.Empty {
			block, index = int64(cp.Block), cp.Index
		}
	}
	// A first heartbeat sends the headers at once and says where the
	// stream starts.
	if err := send.Data(Heartbeat{Position: strconv.FormatInt(block, 10) + "-" + strconv.FormatInt(index, 10)}); err != nil {
		return
	}
	beat := time.NewTicker(heartbeatEvery)
	defer beat.Stop()
	poll := time.NewTicker(eventPoll)
	defer poll.Stop()
	for {
		changed := g.cfg.Projector.Changed()
		for {
			evs, err := g.cfg.DB.ReadModelEvents(ctx, block, index, store.MaxPageLimit)
			if err != nil {
				return
			}
			audience := webhook.NewAudience(g.cfg.DB, reads)
			for _, ev := range evs {
				block, index = int64(ev.Block), ev.Index
				keys, ok, err := keep(audience, ev)
				if err != nil {
					return
				}
				if !ok {
					continue
				}
				if keys == nil {
					keys = []string{}
				}
				if err := send(sse.Message{ID: int(ev.Block)*eventIDBase + int(ev.Index), Data: LedgerEvent{
					ID: strconv.FormatUint(ev.Block, 10) + "-" + strconv.FormatInt(ev.Index, 10), Type: ev.Function, TxID: ev.TxID, Block: ev.Block,
					Timestamp: ev.Timestamp, Creator: ev.Creator, Objects: keys}}); err != nil {
					return
				}
			}
			if len(evs) < store.MaxPageLimit {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-poll.C:
		case <-beat.C:
			if err := send.Data(Heartbeat{Position: strconv.FormatInt(block, 10) + "-" + strconv.FormatInt(index, 10)}); err != nil {
				return
			}
		}
	}
}
