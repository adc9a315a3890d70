package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/webhook"
)

// WebhookBody subscribes an integration to events.
type WebhookBody struct {
	URL       string   `json:"url" minLength:"1" maxLength:"2048" doc:"https URL the signed POSTs go to"`
	Functions []string `json:"functions,omitempty" maxItems:"40" doc:"Only the events of these transactions (e.g. Transfer, Retire); empty: every event your organisation may see"`
	Public    bool     `json:"public,omitempty" doc:"Also every organisation's mints, reissues and retirements (public objects only)"`
}

// WebhookView is a subscription. Its secret is shown when it is made.
type WebhookView struct {
	ID         string    `json:"id"`
	Org        string    `json:"org"`
	URL        string    `json:"url"`
	Functions  []string  `json:"functions"`
	Public     bool      `json:"public"`
	Secret     string    `json:"secret,omitempty" doc:"whsec_…: verify the webhook-signature header with it (Standard Webhooks); shown when made and by GET /v1/webhooks/{id}/secret"`
	CreatedBy  string    `json:"created_by"`
	CreatedAt  time.Time `json:"created_at"`
	DisabledAt time.Time `json:"disabled_at,omitzero"`
}

func webhookView(s webhook.Subscription, withSecret bool) WebhookView {
	v := WebhookView{ID: s.ID, Org: s.Org, URL: s.URL, Functions: s.Functions, Public: s.Public, CreatedBy: s.CreatedBy, CreatedAt: s.CreatedAt, DisabledAt: s.DisabledAt}
	if v.Functions == nil {
		v.Functions = []string{}
	}
	if withSecret {
		v.Secret = s.Secret
	}
	return v
}

// DeliveryView is one message to a subscription and how its delivery went.
type DeliveryView struct {
	ID            int64           `json:"id"`
	MessageID     string          `json:"message_id" doc:"The webhook-id header"`
	EventID       string          `json:"event_id" doc:"<block>-<index>: deduplicate on it"`
	TxID          string          `json:"tx_id"`
	Type          string          `json:"type"`
	Payload       json.RawMessage `json:"payload" doc:"The exact body sent"`
	State         string          `json:"state" enum:"pending,delivered,failed"`
	Attempts      int             `json:"attempts"`
	NextAttemptAt time.Time       `json:"next_attempt_at,omitzero"`
	LastStatus    int             `json:"last_status,omitempty"`
	LastError     string          `json:"last_error,omitempty"`
	CreatedAt     time.Time       `json:"created_at"`
	DeliveredAt   time.Time       `json:"delivered_at,omitzero"`
	ReplayOf      int64           `json:"replay_of,omitempty"`
}

func deliveryView(d webhook.Delivery) DeliveryView {
	return DeliveryView{ID: d.ID, MessageID: d.MessageID, EventID: d.EventID, TxID: d.TxID, Type: d.Function, Payload: d.Payload, State: d.State,
		Attempts: d.Attempts, NextAttemptAt: d.NextAttemptAt, LastStatus: d.LastStatus, LastError: d.LastError, CreatedAt: d.CreatedAt,
		DeliveredAt: d.DeliveredAt, ReplayOf: d.ReplayOf}
}

func (g *Gateway) webhooks() (*webhook.Service, error) {
	if g.cfg.Webhooks == nil {
		return nil, greenmint.Errorf(greenmint.EUNAVAILABLE, "this gateway sends no webhooks")
	}
	return g.cfg.Webhooks, nil
}

func (g *Gateway) webhookRoutes() {
	admin := access{admin: true}
	const tag = "events"
	huma.Register(g.api, operation(http.MethodPost, "/webhooks", "subscribeWebhook", "Subscribe an integration to your organisation's events: signed POSTs (Standard Webhooks) with retries; the secret is shown once", tag, admin),
		func(ctx context.Context, in *struct {
			IdemHeader
			Body WebhookBody
		}) (*bodyOf[WebhookView], error) {
			w, err := g.webhooks()
			if err != nil {
				return nil, err
			}
			p := principalOf(ctx)
			s, err := w.Subscribe(ctx, webhook.SubscribeRequest{Org: p.Org, CreatedBy: p.ID, URL: in.Body.URL, Functions: in.Body.Functions, Public: in.Body.Public})
			if err != nil {
				return nil, err
			}
			return &bodyOf[WebhookView]{webhookView(s, true)}, nil
		})
	huma.Register(g.api, operation(http.MethodGet, "/webhooks", "listWebhooks", "Your organisation's webhook subscriptions", tag, admin),
		func(ctx context.Context, in *struct{ PageParams }) (*listOutput[WebhookView], error) {
			w, err := g.webhooks()
			if err != nil {
				return nil, err
			}
			ss, next, err := w.Subscriptions(ctx, principalOf(ctx).Org, in.Cursor, in.Limit)
			if err != nil {
				return nil, err
			}
			out := make([]WebhookView, 0, len(ss))
			for _, s := range ss {
				out = append(out, webhookView(s, false))
			}
			return page(ctx, out, next), nil
		})
	// One subscription: shown, shown with its secret, or stopped.
	for _, r := range []struct {
		method, path, id, summary string
		secret                    bool
		do                        func(*webhook.Service, context.Context, string, string) (webhook.Subscription, error)
	}{
		{http.MethodGet, "/webhooks/{id}", "getWebhook", "A webhook subscription", false, (*webhook.Service).Subscription},
		{http.MethodGet, "/webhooks/{id}/secret", "getWebhookSecret", "A subscription with its signing secret (after a key rotation the secret changes: fetch it again)", true, (*webhook.Service).Subscription},
		{http.MethodDelete, "/webhooks/{id}", "unsubscribeWebhook", "Stop a subscription: nothing more is sent, pending deliveries fail", false, (*webhook.Service).Unsubscribe},
	} {
		huma.Register(g.api, operation(r.method, r.path, r.id, r.summary, tag, admin),
			func(ctx context.Context, in *IDPath) (*bodyOf[WebhookView], error) {
				w, err := g.webhooks()
				if err != nil {
					return nil, err
				}
				s, err := r.do(w, ctx, principalOf(ctx).Org, in.ID)
				if err != nil {
					return nil, err
				}
				return &bodyOf[WebhookView]{webhookView(s, r.secret)}, nil
			})
	}
	huma.Register(g.api, operation(http.MethodGet, "/webhooks/{id}/deliveries", "listWebhookDeliveries", "A subscription's deliveries, newest first", tag, admin),
		func(ctx context.Context, in *struct {
			PageParams
			ID string `path:"id" minLength:"1" maxLength:"128"`
		}) (*listOutput[DeliveryView], error) {
			w, err := g.webhooks()
			if err != nil {
				return nil, err
			}
			ds, next, err := w.Deliveries(ctx, principalOf(ctx).Org, in.ID, in.Cursor, in.Limit)
			if err != nil {
				return nil, err
			}
			out := make([]DeliveryView, 0, len(ds))
			for _, d := range ds {
				out = append(out, deliveryView(d))
			}
			return page(ctx, out, next), nil
		})
	huma.Register(g.api, operation(http.MethodPost, "/webhooks/{id}/deliveries/{delivery}/replay", "replayWebhookDelivery", "Send a delivery again (a new delivery, same body, new webhook-id)", tag, admin),
		func(ctx context.Context, in *struct {
			IDPath
			Delivery string `path:"delivery" minLength:"1" maxLength:"20" doc:"The delivery's id"`
		}) (*bodyOf[DeliveryView], error) {
			w, err := g.webhooks()
			if err != nil {
				return nil, err
			}
			id, err := strconv.ParseInt(in.Delivery, 10, 64)
			if err != nil || id < 1 {
				return nil, greenmint.Errorf(greenmint.ENOTFOUND, "no delivery %q", in.Delivery)
			}
			d, err := w.Replay(ctx, principalOf(ctx).Org, in.ID, id)
			if err != nil {
				return nil, err
			}
			return &bodyOf[DeliveryView]{deliveryView(d)}, nil
		})
}
