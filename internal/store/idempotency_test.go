package store_test

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/internal/store"
)

// TestIdempotency holds the life of an idempotency key on every database
// Greenmint ships: the first request claims it, a second finds it pending,
// its answer is saved once and replayed, an abandoned claim frees the key,
// an expired record is claimed anew, and a purge deletes only what expired.
func TestIdempotency(t *testing.T) {
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
			rec := store.IdempotencyRecord{Principal: "usr_1", Key: "k-1", RequestHash: "aa", CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour)}
			if got, begun, err := db.BeginIdempotent(ctx, rec); err != nil || !begun || got.Key != "" {
				t.Fatalf("BeginIdempotent(new) = %+v, %v, %v; want begun", got, begun, err)
			}
			retry := rec
			retry.RequestHash, retry.CreatedAt = "bb", t0.Add(time.Minute)
			got, begun, err := db.BeginIdempotent(ctx, retry)
			want := store.IdempotencyRecord{Principal: "usr_1", Key: "k-1", RequestHash: "aa", State: store.IdempotencyPending, Headers: map[string]string{}, CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour)}
			if err != nil || begun || !sameRecord(got, want) {
				t.Fatalf("BeginIdempotent(pending) = %+v, %v, %v; want %+v", got, begun, err, want)
			}
			// Keys are per principal.
			other := rec
			other.Principal = "key_9"
			if _, begun, err := db.BeginIdempotent(ctx, other); err != nil || !begun {
				t.Fatalf("BeginIdempotent(other principal) = %v, %v; want begun", begun, err)
			}

			headers := map[string]string{"Location": "/v1/transfers/T1", "Content-Type": "application/json"}
			body := []byte(`{"id":"T1"}`)
			if err := db.CompleteIdempotent(ctx, "usr_1", "k-1", 201, headers, body); err != nil {
				t.Fatal(err)
			}
			if err := db.CompleteIdempotent(ctx, "usr_1", "k-1", 500, nil, nil); greenmint.ErrorCode(err) != greenmint.ECONFLICT {
				t.Fatalf("CompleteIdempotent(done) = %v, want conflict", err)
			}
			if err := db.CompleteIdempotent(ctx, "usr_1", "nope", 201, nil, nil); greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
				t.Fatalf("CompleteIdempotent(unknown) = %v, want not_found", err)
			}
			want.State, want.Status, want.Headers, want.Body = store.IdempotencyDone, 201, headers, body
			if got, begun, err := db.BeginIdempotent(ctx, retry); err != nil || begun || !sameRecord(got, want) {
				t.Fatalf("BeginIdempotent(done) = %+v, %v, %v; want %+v", got, begun, err, want)
			}
			if err := db.AbandonIdempotent(ctx, "usr_1", "k-1"); greenmint.ErrorCode(err) != greenmint.ECONFLICT {
				t.Fatalf("AbandonIdempotent(done) = %v, want conflict", err)
			}

			if err := db.AbandonIdempotent(ctx, "key_9", "k-1"); err != nil {
				t.Fatal(err)
			}
			if err := db.AbandonIdempotent(ctx, "key_9", "k-1"); greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
				t.Fatalf("AbandonIdempotent(again) = %v, want not_found", err)
			}
			if _, begun, err := db.BeginIdempotent(ctx, other); err != nil || !begun {
				t.Fatalf("BeginIdempotent(abandoned) = %v, %v; want begun", begun, err)
			}

			// Expired: at its expiry the record still holds; a second later
			// a new request claims the key.
			at := rec
			at.RequestHash, at.CreatedAt, at.ExpiresAt = "cc", t0.Add(24*time.Hour), t0.Add(48*time.Hour)
			if _, begun, err := db.BeginIdempotent(ctx, at); err != nil || begun {
				t.Fatalf("BeginIdempotent(at expiry) = %v, %v; want the record", begun, err)
			}
			later := at
			later.CreatedAt = t0.Add(24*time.Hour + time.Second)
			if _, begun, err := db.BeginIdempotent(ctx, later); err != nil || !begun {
				t.Fatalf("BeginIdempotent(expired) = %v, %v; want begun", begun, err)
			}
			want = store.IdempotencyRecord{Principal: "usr_1", Key: "k-1", RequestHash: "cc", State: store.IdempotencyPending, Headers: map[string]string{}, CreatedAt: later.CreatedAt, ExpiresAt: later.ExpiresAt}
			if got, _, err := db.BeginIdempotent(ctx, retry); err != nil || !sameRecord(got, want) {
				t.Fatalf("the replaced record = %+v, %v; want %+v", got, err, want)
			}

			// key_9's record expires at t0+24h, usr_1's at t0+48h.
			if n, err := db.PurgeIdempotent(ctx, t0.Add(24*time.Hour)); err != nil || n != 0 {
				t.Fatalf("PurgeIdempotent(at expiry) = %d, %v; want 0", n, err)
			}
			if n, err := db.PurgeIdempotent(ctx, t0.Add(25*time.Hour)); err != nil || n != 1 {
				t.Fatalf("PurgeIdempotent = %d, %v; want 1", n, err)
			}
			if err := db.AbandonIdempotent(ctx, "key_9", "k-1"); greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
				t.Fatalf("a purged record: %v, want not_found", err)
			}
			if err := db.CompleteIdempotent(ctx, "usr_1", "k-1", 200, nil, nil); err != nil {
				t.Fatalf("the unexpired record was purged: %v", err)
			}
		})
	}
}

func sameRecord(a, b store.IdempotencyRecord) bool {
	return a.Principal == b.Principal && a.Key == b.Key && a.RequestHash == b.RequestHash && a.State == b.State && a.Status == b.Status &&
		maps.Equal(a.Headers, b.Headers) && bytes.Equal(a.Body, b.Body) && a.CreatedAt.Equal(b.CreatedAt) && a.ExpiresAt.Equal(b.ExpiresAt)
}

// TestBeginIdempotentInvalid refuses records the table cannot hold.
func TestBeginIdempotentInvalid(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ok := store.IdempotencyRecord{Principal: "usr_1", Key: "k", RequestHash: "aa", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			for _, tc := range []struct {
				name   string
				change func(*store.IdempotencyRecord)
			}{
				{"no principal", func(r *store.IdempotencyRecord) { r.Principal = "" }},
				{"no key", func(r *store.IdempotencyRecord) { r.Key = "" }},
				{"long key", func(r *store.IdempotencyRecord) { r.Key = strings.Repeat("k", store.MaxIdempotencyKey+1) }},
				{"no request hash", func(r *store.IdempotencyRecord) { r.RequestHash = "" }},
				{"no creation time", func(r *store.IdempotencyRecord) { r.CreatedAt = time.Time{} }},
				{"expires when created", func(r *store.IdempotencyRecord) { r.ExpiresAt = r.CreatedAt }},
			} {
				rec := ok
				tc.change(&rec)
				if _, begun, err := db.BeginIdempotent(context.Background(), rec); greenmint.ErrorCode(err) != greenmint.EINVALID || begun {
					t.Errorf("BeginIdempotent(%s) = %v, %v; want invalid", tc.name, begun, err)
				}
			}
			longest := ok
			longest.Key = strings.Repeat("k", store.MaxIdempotencyKey)
			if _, begun, err := db.BeginIdempotent(context.Background(), longest); err != nil || !begun {
				t.Errorf("BeginIdempotent(%d-byte key) = %v, %v; want begun", store.MaxIdempotencyKey, begun, err)
			}
		})
	}
}

// TestBeginIdempotentRace: of many concurrent claims of one key exactly one
// begins, and every other sees the winner's record; likewise when they race
// to replace an expired record.
func TestBeginIdempotentRace(t *testing.T) {
	const n = 16
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			race := func(round int, created time.Time) {
				t.Helper()
				var wg sync.WaitGroup
				begun := make([]bool, n)
				seen := make([]store.IdempotencyRecord, n)
				errs := make([]error, n)
				start := make(chan struct{})
				for i := range n {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						rec := store.IdempotencyRecord{Principal: "usr_1", Key: "race", RequestHash: fmt.Sprintf("h%d-%d", round, i), CreatedAt: created, ExpiresAt: created.Add(time.Hour)}
						seen[i], begun[i], errs[i] = db.BeginIdempotent(ctx, rec)
					}()
				}
				close(start)
				wg.Wait()
				winner := -1
				for i := range n {
					if errs[i] != nil {
						t.Fatalf("round %d: BeginIdempotent #%d: %v", round, i, errs[i])
					}
					if begun[i] {
						if winner >= 0 {
							t.Fatalf("round %d: #%d and #%d both began", round, winner, i)
						}
						winner = i
					}
				}
				if winner < 0 {
					t.Fatalf("round %d: nobody began", round)
				}
				for i := range n {
					if want := fmt.Sprintf("h%d-%d", round, winner); i != winner && seen[i].RequestHash != want {
						t.Fatalf("round %d: #%d saw request %q, want the winner's %q", round, i, seen[i].RequestHash, want)
					}
				}
			}
			race(1, t0)
			race(2, t0.Add(2*time.Hour)) // the first round's record has expired
		})
	}
}
