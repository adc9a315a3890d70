package store_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/internal/store"
)

func pos(b, i int64) store.EventPosition { return store.EventPosition{Block: b, Index: i} }

func delivery(sub string, b, i int64) store.WebhookDelivery {
	return store.WebhookDelivery{SubscriptionID: sub, Event: pos(b, i), TxID: fmt.Sprintf("tx-%d-%d", b, i), Function: "Transfer", Payload: []byte(fmt.Sprintf(`{"id":"%d-%d"}`, b, i))}
}

// TestWebhookSubscriptions holds subscriptions on every database Greenmint
// ships: created after the read model's last event, read and listed by
// their organisation only, disabled once (failing what was pending).
func TestWebhookSubscriptions(t *testing.T) {
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
			s1, err := db.CreateWebhookSubscription(ctx, store.WebhookSubscription{ID: "whk_1", Org: "Miner1MSP", URL: "https://a.example/hook",
				Functions: []string{"Transfer", "Retire", "Transfer"}, CreatedBy: "usr_1", CreatedAt: t0})
			if err != nil {
				t.Fatal(err)
			}
			if s1.After != pos(-1, -1) || !slices.Equal(s1.Functions, []string{"Retire", "Transfer"}) || !s1.Active() {
				t.Fatalf("CreateWebhookSubscription = %+v, want after (-1,-1), functions [Retire Transfer], active", s1)
			}
			if _, err := db.CreateWebhookSubscription(ctx, s1); greenmint.ErrorCode(err) != greenmint.ECONFLICT {
				t.Fatalf("CreateWebhookSubscription(same ID) = %v, want conflict", err)
			}
			if _, err := db.CreateWebhookSubscription(ctx, store.WebhookSubscription{ID: "whk_x", Org: "Miner1MSP"}); greenmint.ErrorCode(err) != greenmint.EINVALID {
				t.Fatalf("CreateWebhookSubscription(no URL) = %v, want invalid", err)
			}
			// A subscription made after events starts after the last.
			applyEvent(t, db, 7, 2)
			s2, err := db.CreateWebhookSubscription(ctx, store.WebhookSubscription{ID: "whk_2", Org: "Miner1MSP", URL: "https://b.example/", Public: true, CreatedBy: "usr_1", CreatedAt: t0})
			if err != nil || s2.After != pos(7, 2) || !s2.Public || s2.Functions != nil {
				t.Fatalf("CreateWebhookSubscription(after events) = %+v, %v; want after (7,2), public, every function", s2, err)
			}
			if _, err := db.CreateWebhookSubscription(ctx, store.WebhookSubscription{ID: "whk_3", Org: "BuyerMSP", URL: "https://c.example/", CreatedBy: "usr_9", CreatedAt: t0}); err != nil {
				t.Fatal(err)
			}
			if got, err := db.WebhookSubscription(ctx, "Miner1MSP", "whk_2"); err != nil || got.URL != "https://b.example/" || !got.CreatedAt.Equal(t0) {
				t.Fatalf("WebhookSubscription = %+v, %v", got, err)
			}
			if _, err := db.WebhookSubscription(ctx, "BuyerMSP", "whk_2"); greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
				t.Fatalf("WebhookSubscription(another organisation's) = %v, want not_found", err)
			}
			// Pages of one.
			var ids []string
			cursor := ""
			for range 5 {
				page, next, err := db.WebhookSubscriptions(ctx, "Miner1MSP", cursor, 1)
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range page {
					ids = append(ids, s.ID)
				}
				if cursor = next; cursor == "" {
					break
				}
			}
			if !slices.Equal(ids, []string{"whk_1", "whk_2"}) {
				t.Fatalf("WebhookSubscriptions(Miner1MSP) = %v, want [whk_1 whk_2]", ids)
			}
			if _, _, err := db.WebhookSubscriptions(ctx, "Miner1MSP", "forged", 1); greenmint.ErrorCode(err) != greenmint.EINVALID {
				t.Fatalf("WebhookSubscriptions(forged cursor) = %v, want invalid", err)
			}
			if _, _, err := db.WebhookSubscriptions(ctx, "Miner1MSP", "", 101); greenmint.ErrorCode(err) != greenmint.EINVALID {
				t.Fatalf("WebhookSubscriptions(limit 101) = %v, want invalid", err)
			}

			// Disabling fails what is pending, once, by the owner only.
			if err := db.EnqueueWebhookDeliveries(ctx, pos(-1, -1), pos(7, 2), []store.WebhookDelivery{delivery("whk_1", 7, 2)}, t0); err != nil {
				t.Fatal(err)
			}
			if _, err := db.DisableWebhookSubscription(ctx, "BuyerMSP", "whk_1", t0); greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
				t.Fatalf("DisableWebhookSubscription(another organisation's) = %v, want not_found", err)
			}
			t1 := t0.Add(time.Hour)
			got, err := db.DisableWebhookSubscription(ctx, "Miner1MSP", "whk_1", t1)
			if err != nil || !got.DisabledAt.Equal(t1) {
				t.Fatalf("DisableWebhookSubscription = %+v, %v; want disabled at %v", got, err, t1)
			}
			if got, err := db.DisableWebhookSubscription(ctx, "Miner1MSP", "whk_1", t1.Add(time.Hour)); err != nil || !got.DisabledAt.Equal(t1) {
				t.Fatalf("DisableWebhookSubscription(again) = %+v, %v; want disabled at %v still", got, err, t1)
			}
			ds, _, err := db.WebhookDeliveries(ctx, "Miner1MSP", "whk_1", "", 0)
			if err != nil || len(ds) != 1 || ds[0].State != store.WebhookFailed || ds[0].LastError != "subscription disabled" {
				t.Fatalf("WebhookDeliveries(disabled) = %+v, %v; want one failed", ds, err)
			}
			active, err := db.ActiveWebhookSubscriptions(ctx)
			if err != nil || len(active) != 2 || active[0].ID != "whk_2" || active[1].ID != "whk_3" {
				t.Fatalf("ActiveWebhookSubscriptions = %+v, %v; want whk_2, whk_3", active, err)
			}
			if _, err := db.ReplayWebhookDelivery(ctx, "Miner1MSP", "whk_1", ds[0].ID, t1); greenmint.ErrorCode(err) != greenmint.ECONFLICT {
				t.Fatalf("ReplayWebhookDelivery(disabled subscription) = %v, want conflict", err)
			}
			if d, err := db.ClaimWebhookDeliveries(ctx, t1, time.Minute, 10); err != nil || len(d) != 0 {
				t.Fatalf("ClaimWebhookDeliveries(disabled) = %+v, %v; want none", d, err)
			}
		})
	}
}

// applyEvent records an event at (block, index) in the read model.
func applyEvent(tb testing.TB, db *store.DB, block uint64, index int64) {
	tb.Helper()
	ev := store.ProjectedEvent{Block: block, Index: index, Payload: greenmint.EventPayload{TxID: fmt.Sprintf("tx-%d-%d", block, index), Function: "Transfer", Creator: "Miner1MSP", Timestamp: "2026-03-01T12:00:00Z"}}
	if _, err := db.ApplyEvents(context.Background(), []store.ProjectedEvent{ev}); err != nil {
		tb.Fatal(err)
	}
}

// TestWebhookOutbox holds the outbox on every database Greenmint ships: the
// cursor moves only with its deliveries and only from where it is, an
// event is enqueued once per subscription, a claim holds a delivery for its
// lease, attempts are recorded only by their claim, retries come due at
// their time, and a replay is a new pending copy.
func TestWebhookOutbox(t *testing.T) {
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
			for _, id := range []string{"whk_a", "whk_b"} {
				if _, err := db.CreateWebhookSubscription(ctx, store.WebhookSubscription{ID: id, Org: "Miner1MSP", URL: "https://a.example/", CreatedBy: "usr_1", CreatedAt: t0}); err != nil {
					t.Fatal(err)
				}
			}
			if c, err := db.WebhookCursor(ctx); err != nil || c != pos(-1, -1) {
				t.Fatalf("WebhookCursor = %v, %v; want (-1,-1)", c, err)
			}
			first := []store.WebhookDelivery{delivery("whk_a", 1, 0), delivery("whk_b", 1, 0), delivery("whk_a", 1, 1), delivery("whk_a", 2, 0)}
			if err := db.EnqueueWebhookDeliveries(ctx, pos(-1, -1), pos(2, 0), first, t0); err != nil {
				t.Fatal(err)
			}
			// From a stale cursor: nothing is stored.
			if err := db.EnqueueWebhookDeliveries(ctx, pos(-1, -1), pos(3, 0), []store.WebhookDelivery{delivery("whk_a", 3, 0)}, t0); greenmint.ErrorCode(err) != greenmint.ECONFLICT {
				t.Fatalf("EnqueueWebhookDeliveries(stale cursor) = %v, want conflict", err)
			}
			if err := db.EnqueueWebhookDeliveries(ctx, pos(2, 0), pos(3, 0), []store.WebhookDelivery{delivery("whk_a", 1, 0)}, t0); greenmint.ErrorCode(err) != greenmint.EINVALID {
				t.Fatalf("EnqueueWebhookDeliveries(event before the cursor) = %v, want invalid", err)
			}
			if err := db.EnqueueWebhookDeliveries(ctx, pos(2, 0), pos(1, 0), nil, t0); greenmint.ErrorCode(err) != greenmint.EINVALID {
				t.Fatalf("EnqueueWebhookDeliveries(backwards) = %v, want invalid", err)
			}
			if c, err := db.WebhookCursor(ctx); err != nil || c != pos(2, 0) {
				t.Fatalf("WebhookCursor = %v, %v; want (2,0)", c, err)
			}
			// The cursor moved back by hand re-enqueues nothing twice.
			if _, err := db.ExecReadModel(ctx, "UPDATE webhook_cursor SET block = -1, idx = -1"); err != nil {
				t.Fatal(err)
			}
			if err := db.EnqueueWebhookDeliveries(ctx, pos(-1, -1), pos(2, 0), first, t0); err != nil {
				t.Fatal(err)
			}
			all, _, err := db.WebhookDeliveries(ctx, "Miner1MSP", "whk_a", "", 0)
			if err != nil || len(all) != 3 {
				t.Fatalf("WebhookDeliveries(whk_a) = %d, %v; want 3 (each event once)", len(all), err)
			}
			if all[0].Event != pos(2, 0) || all[2].Event != pos(1, 0) || all[0].State != store.WebhookPending || !all[0].NextAttemptAt.Equal(t0) {
				t.Fatalf("WebhookDeliveries(whk_a) = %+v, want newest first, pending, due at %v", all, t0)
			}

			// Claims: oldest first, each delivery once while leased.
			c1, err := db.ClaimWebhookDeliveries(ctx, t0, time.Minute, 2)
			if err != nil || len(c1) != 2 || c1[0].Event != pos(1, 0) || c1[1].Event != pos(1, 0) || c1[0].Claim == "" {
				t.Fatalf("ClaimWebhookDeliveries = %+v, %v; want the two deliveries of (1,0)", c1, err)
			}
			c2, err := db.ClaimWebhookDeliveries(ctx, t0, time.Minute, 10)
			if err != nil || len(c2) != 2 || c2[0].Claim == c1[0].Claim {
				t.Fatalf("ClaimWebhookDeliveries(again) = %+v, %v; want the other two", c2, err)
			}
			if c, err := db.ClaimWebhookDeliveries(ctx, t0.Add(59*time.Second), time.Minute, 10); err != nil || len(c) != 0 {
				t.Fatalf("ClaimWebhookDeliveries(within the lease) = %+v, %v; want none", c, err)
			}
			// c2 is released unattempted; c1[1]'s lease runs out and it is
			// claimed anew, so its first claim can no longer record.
			if err := db.ReleaseWebhookDeliveries(ctx, c2[0].Claim, []int64{c2[0].ID, c2[1].ID}, t0); err != nil {
				t.Fatal(err)
			}
			d := c1[0]
			if err := db.RecordWebhookAttempt(ctx, d.ID, d.Claim, store.WebhookAttempt{At: t0, Status: 500, Error: "status 500", State: store.WebhookPending, Next: t0.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			if err := db.RecordWebhookAttempt(ctx, d.ID, d.Claim, store.WebhookAttempt{At: t0, Status: 200, State: store.WebhookDelivered}); greenmint.ErrorCode(err) != greenmint.ECONFLICT {
				t.Fatalf("RecordWebhookAttempt(claim used) = %v, want conflict", err)
			}
			if err := db.RecordWebhookAttempt(ctx, 9999, d.Claim, store.WebhookAttempt{At: t0, State: store.WebhookDelivered}); greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
				t.Fatalf("RecordWebhookAttempt(unknown) = %v, want not_found", err)
			}
			t1 := t0.Add(time.Minute)
			c3, err := db.ClaimWebhookDeliveries(ctx, t1, time.Minute, 10)
			if err != nil || len(c3) != 3 || c3[0].ID != c1[1].ID {
				t.Fatalf("ClaimWebhookDeliveries(after the lease) = %+v, %v; want c1[1] and c2's two", c3, err)
			}
			if err := db.RecordWebhookAttempt(ctx, c1[1].ID, c1[1].Claim, store.WebhookAttempt{At: t1, Status: 200, State: store.WebhookDelivered}); greenmint.ErrorCode(err) != greenmint.ECONFLICT {
				t.Fatalf("RecordWebhookAttempt(lease lost) = %v, want conflict", err)
			}
			for _, d := range c3 {
				if err := db.RecordWebhookAttempt(ctx, d.ID, d.Claim, store.WebhookAttempt{At: t1, Status: 204, State: store.WebhookDelivered}); err != nil {
					t.Fatal(err)
				}
			}
			// The retry comes due at its time, then fails for good.
			if c, err := db.ClaimWebhookDeliveries(ctx, t0.Add(time.Hour-time.Second), time.Minute, 10); err != nil || len(c) != 0 {
				t.Fatalf("ClaimWebhookDeliveries(before the retry) = %+v, %v; want none", c, err)
			}
			c4, err := db.ClaimWebhookDeliveries(ctx, t0.Add(time.Hour), time.Minute, 10)
			if err != nil || len(c4) != 1 || c4[0].ID != d.ID || c4[0].Attempts != 1 || c4[0].LastStatus != 500 {
				t.Fatalf("ClaimWebhookDeliveries(retry due) = %+v, %v; want %d after 1 attempt", c4, err, d.ID)
			}
			if err := db.RecordWebhookAttempt(ctx, d.ID, c4[0].Claim, store.WebhookAttempt{At: t0.Add(time.Hour), Error: "connection refused", State: store.WebhookFailed}); err != nil {
				t.Fatal(err)
			}
			got, err := db.WebhookDelivery(ctx, "Miner1MSP", d.SubscriptionID, d.ID)
			if err != nil || got.State != store.WebhookFailed || got.Attempts != 2 || got.LastError != "connection refused" || got.LastStatus != 0 || got.Claim != "" {
				t.Fatalf("WebhookDelivery = %+v, %v; want failed after 2 attempts", got, err)
			}
			if _, err := db.WebhookDelivery(ctx, "BuyerMSP", d.SubscriptionID, d.ID); greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
				t.Fatalf("WebhookDelivery(another organisation) = %v, want not_found", err)
			}
			other := "whk_a"
			if d.SubscriptionID == other {
				other = "whk_b"
			}
			if _, err := db.WebhookDelivery(ctx, "Miner1MSP", other, d.ID); greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
				t.Fatalf("WebhookDelivery(another subscription's) = %v, want not_found", err)
			}

			// A replay is a new pending copy; a replay of it names the original.
			t2 := t0.Add(2 * time.Hour)
			r1, err := db.ReplayWebhookDelivery(ctx, "Miner1MSP", d.SubscriptionID, d.ID, t2)
			if err != nil || r1.ID == d.ID || r1.ReplayOf != d.ID || r1.State != store.WebhookPending || r1.Attempts != 0 || string(r1.Payload) != string(d.Payload) || r1.Event != d.Event {
				t.Fatalf("ReplayWebhookDelivery = %+v, %v; want a pending copy of %d", r1, err, d.ID)
			}
			r2, err := db.ReplayWebhookDelivery(ctx, "Miner1MSP", d.SubscriptionID, r1.ID, t2)
			if err != nil || r2.ReplayOf != d.ID {
				t.Fatalf("ReplayWebhookDelivery(of a replay) = %+v, %v; want ReplayOf %d", r2, err, d.ID)
			}
			if _, err := db.ReplayWebhookDelivery(ctx, "BuyerMSP", d.SubscriptionID, d.ID, t2); greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
				t.Fatalf("ReplayWebhookDelivery(another organisation) = %v, want not_found", err)
			}
			c5, err := db.ClaimWebhookDeliveries(ctx, t2, time.Minute, 10)
			if err != nil || len(c5) != 2 || c5[0].ID != r1.ID || c5[1].ID != r2.ID {
				t.Fatalf("ClaimWebhookDeliveries(replays) = %+v, %v; want the two replays", c5, err)
			}

			// Delivery pages, newest first.
			var seen []int64
			cursor := ""
			for range 10 {
				page, next, err := db.WebhookDeliveries(ctx, "Miner1MSP", d.SubscriptionID, cursor, 2)
				if err != nil {
					t.Fatal(err)
				}
				for _, x := range page {
					seen = append(seen, x.ID)
				}
				if cursor = next; cursor == "" {
					break
				}
			}
			if !slices.IsSortedFunc(seen, func(a, b int64) int { return int(b - a) }) || !slices.Contains(seen, r2.ID) || !slices.Contains(seen, d.ID) {
				t.Fatalf("WebhookDeliveries pages = %v, want every delivery newest first", seen)
			}
			if _, _, err := db.WebhookDeliveries(ctx, "BuyerMSP", d.SubscriptionID, "", 0); greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
				t.Fatalf("WebhookDeliveries(another organisation) = %v, want not_found", err)
			}

			// A purge keeps what is pending and what is recent.
			if n, err := db.PurgeWebhookDeliveries(ctx, t0); err != nil || n != 0 {
				t.Fatalf("PurgeWebhookDeliveries(t0) = %d, %v; want 0", n, err)
			}
			n, err := db.PurgeWebhookDeliveries(ctx, t2.Add(time.Second))
			if err != nil || n != 4 {
				t.Fatalf("PurgeWebhookDeliveries = %d, %v; want the 4 delivered or failed", n, err)
			}
			left, _, err := db.WebhookDeliveries(ctx, "Miner1MSP", d.SubscriptionID, "", 0)
			if err != nil || len(left) != 2 || left[0].ID != r2.ID || left[1].ID != r1.ID {
				t.Fatalf("after the purge: %+v, %v; want the two pending replays", left, err)
			}
		})
	}
}

// TestClaimWebhookDeliveriesRace: concurrent claims never return the same
// delivery, and together return every due one.
func TestClaimWebhookDeliveriesRace(t *testing.T) {
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
			if _, err := db.CreateWebhookSubscription(ctx, store.WebhookSubscription{ID: "whk_r", Org: "Miner1MSP", URL: "https://a.example/", CreatedBy: "usr_1", CreatedAt: t0}); err != nil {
				t.Fatal(err)
			}
			var ds []store.WebhookDelivery
			for i := range 200 {
				ds = append(ds, delivery("whk_r", int64(i), 0))
			}
			if err := db.EnqueueWebhookDeliveries(ctx, pos(-1, -1), pos(199, 0), ds, t0); err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			claimed := map[int64]int{}
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						c, err := db.ClaimWebhookDeliveries(ctx, t0, time.Minute, 7)
						if err != nil {
							errs <- err
							return
						}
						if len(c) == 0 {
							return
						}
						mu.Lock()
						for _, d := range c {
							claimed[d.ID]++
						}
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if len(claimed) != 200 {
				t.Fatalf("claimed %d deliveries, want 200", len(claimed))
			}
			for id, n := range claimed {
				if n != 1 {
					t.Fatalf("delivery %d claimed %d times", id, n)
				}
			}
		})
	}
}

// TestEnqueueWebhookDeliveriesRace: two senders enqueuing the same events
// from the same cursor store each delivery once; the later finds the
// cursor moved.
func TestEnqueueWebhookDeliveriesRace(t *testing.T) {
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
			if _, err := db.CreateWebhookSubscription(ctx, store.WebhookSubscription{ID: "whk_r", Org: "Miner1MSP", URL: "https://a.example/", CreatedBy: "usr_1", CreatedAt: t0}); err != nil {
				t.Fatal(err)
			}
			var ds []store.WebhookDelivery
			for i := range 50 {
				ds = append(ds, delivery("whk_r", int64(i), 0))
			}
			var wg sync.WaitGroup
			results := make([]error, 4)
			for i := range results {
				wg.Add(1)
				go func() {
					defer wg.Done()
					results[i] = db.EnqueueWebhookDeliveries(ctx, pos(-1, -1), pos(49, 0), ds, t0)
				}()
			}
			wg.Wait()
			ok := 0
			for _, err := range results {
				switch greenmint.ErrorCode(err) {
				case "":
					ok++
				case greenmint.ECONFLICT:
				default:
					t.Fatalf("EnqueueWebhookDeliveries = %v", err)
				}
			}
			if ok != 1 {
				t.Fatalf("%d concurrent enqueues from one cursor succeeded, want 1 (%v)", ok, results)
			}
			n := 0
			for cursor := ""; ; {
				page, next, err := db.WebhookDeliveries(ctx, "Miner1MSP", "whk_r", cursor, 0)
				if err != nil {
					t.Fatal(err)
				}
				n += len(page)
				if cursor = next; cursor == "" {
					break
				}
			}
			if n != 50 {
				t.Fatalf("%d deliveries stored, want 50", n)
			}
		})
	}
}
