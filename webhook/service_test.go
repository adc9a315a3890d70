package webhook_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/webhook"
)

// TestSubscribe: what a subscription accepts, the limit per organisation,
// and that an organisation never reads or changes another's.
func TestSubscribe(t *testing.T) {
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
			svc, err := webhook.NewService(db, webhook.ServiceConfig{MasterKey: masterKey, Now: func() time.Time { return t0 }})
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				name string
				req  webhook.SubscribeRequest
				want string
			}{
				{"https", webhook.SubscribeRequest{URL: "https://hooks.example.com/greenmint?x=1"}, ""},
				{"https with port", webhook.SubscribeRequest{URL: "https://hooks.example.com:8443/in"}, ""},
				{"functions", webhook.SubscribeRequest{URL: "https://a.example/", Functions: []string{"Transfer", "Retire"}}, ""},
				{"http", webhook.SubscribeRequest{URL: "http://hooks.example.com/"}, greenmint.EINVALID},
				{"no URL", webhook.SubscribeRequest{}, greenmint.EINVALID},
				{"relative", webhook.SubscribeRequest{URL: "/hook"}, greenmint.EINVALID},
				{"no host", webhook.SubscribeRequest{URL: "https:///hook"}, greenmint.EINVALID},
				{"credentials", webhook.SubscribeRequest{URL: "https://user:pw@a.example/"}, greenmint.EINVALID},
				{"fragment", webhook.SubscribeRequest{URL: "https://a.example/#x"}, greenmint.EINVALID},
				{"ftp", webhook.SubscribeRequest{URL: "ftp://a.example/"}, greenmint.EINVALID},
				{"too long", webhook.SubscribeRequest{URL: "https://a.example/" + strings.Repeat("a", webhook.MaxURL)}, greenmint.EINVALID},
				{"unknown function", webhook.SubscribeRequest{URL: "https://a.example/", Functions: []string{"Steal"}}, greenmint.EINVALID},
				{"query as function", webhook.SubscribeRequest{URL: "https://a.example/", Functions: []string{"GetBatch"}}, greenmint.EINVALID},
				{"no creator", webhook.SubscribeRequest{URL: "https://a.example/", CreatedBy: "-"}, greenmint.EINVALID},
			} {
				t.Run(tc.name, func(t *testing.T) {
					r := tc.req
					r.Org = "Acme" + strings.ReplaceAll(tc.name, " ", "")
					if r.CreatedBy == "" {
						r.CreatedBy = "usr_1"
					} else if r.CreatedBy == "-" {
						r.CreatedBy = ""
					}
					s, err := svc.Subscribe(ctx, r)
					if greenmint.ErrorCode(err) != tc.want {
						t.Fatalf("Subscribe(%+v) = %+v, %v; want %q", r, s, err, tc.want)
					}
					if err == nil && (s.URL != r.URL || s.Org != r.Org || s.Secret != webhook.Secret(masterKey, s.ID) || !strings.HasPrefix(s.ID, "whk_") || !s.CreatedAt.Equal(t0)) {
						t.Fatalf("Subscribe(%+v) = %+v", r, s)
					}
				})
			}

			// At most MaxSubscriptions active ones; a disabled one frees a place.
			var first webhook.Subscription
			for i := range webhook.MaxSubscriptions {
				s, err := svc.Subscribe(ctx, webhook.SubscribeRequest{Org: "Many", CreatedBy: "usr_1", URL: fmt.Sprintf("https://a.example/%d", i)})
				if err != nil {
					t.Fatal(err)
				}
				if i == 0 {
					first = s
				}
			}
			if _, err := svc.Subscribe(ctx, webhook.SubscribeRequest{Org: "Many", CreatedBy: "usr_1", URL: "https://a.example/x"}); greenmint.ErrorCode(err) != greenmint.ECONFLICT {
				t.Fatalf("Subscribe(one too many) = %v, want conflict", err)
			}
			if _, err := svc.Unsubscribe(ctx, "Other", first.ID); greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
				t.Fatalf("Unsubscribe(another organisation's) = %v, want not_found", err)
			}
			if _, err := svc.Subscription(ctx, "Other", first.ID); greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
				t.Fatalf("Subscription(another organisation's) = %v, want not_found", err)
			}
			if s, err := svc.Unsubscribe(ctx, "Many", first.ID); err != nil || !s.DisabledAt.Equal(t0) {
				t.Fatalf("Unsubscribe = %+v, %v", s, err)
			}
			if _, err := svc.Subscribe(ctx, webhook.SubscribeRequest{Org: "Many", CreatedBy: "usr_1", URL: "https://a.example/x"}); err != nil {
				t.Fatalf("Subscribe(after a delete) = %v", err)
			}
			n := 0
			for cursor := ""; ; {
				page, next, err := svc.Subscriptions(ctx, "Many", cursor, 7)
				if err != nil {
					t.Fatal(err)
				}
				n += len(page)
				if cursor = next; cursor == "" {
					break
				}
			}
			if n != webhook.MaxSubscriptions+1 {
				t.Fatalf("Subscriptions(Many) listed %d, want %d (the disabled one too)", n, webhook.MaxSubscriptions+1)
			}
			if _, err := svc.Replay(ctx, "Many", first.ID, 1); greenmint.ErrorCode(err) == "" {
				t.Fatal("Replay on a disabled subscription succeeded")
			}
		})
	}
}

func TestNewServiceAndSenderNeedAKey(t *testing.T) {
	db := greenminttest.StoreDBs(t)["sqlite"]
	if _, err := webhook.NewService(db, webhook.ServiceConfig{MasterKey: []byte("short")}); greenmint.ErrorCode(err) != greenmint.EINVALID {
		t.Fatalf("NewService(short key) = %v, want invalid", err)
	}
	reads := func(context.Context, string) (bool, error) { return false, nil }
	if _, err := webhook.NewSender(db, webhook.Config{MasterKey: []byte("short"), ReadsEverything: reads}); greenmint.ErrorCode(err) != greenmint.EINVALID {
		t.Fatalf("NewSender(short key) = %v, want invalid", err)
	}
	if _, err := webhook.NewSender(db, webhook.Config{MasterKey: masterKey}); greenmint.ErrorCode(err) != greenmint.EINVALID {
		t.Fatalf("NewSender(no ReadsEverything) = %v, want invalid", err)
	}
	if _, err := webhook.NewSender(db, webhook.Config{MasterKey: masterKey, ReadsEverything: reads, Timeout: time.Minute, Lease: time.Minute}); greenmint.ErrorCode(err) != greenmint.EINVALID {
		t.Fatalf("NewSender(lease no longer than an attempt) = %v, want invalid", err)
	}
}
