package webhook

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/store"
)

// Event is the JSON body of a delivery: one ledger transaction's event as
// the read model recorded it.
type Event struct {
	Type      string   `json:"type"`      // the transaction (function), e.g. "Transfer"
	ID        string   `json:"id"`        // "<block>-<index>": the event's position, unique and ordered
	TxID      string   `json:"tx_id"`     // the ledger transaction
	Block     int64    `json:"block"`     // its block
	Index     int64    `json:"index"`     // its position among the block's events
	Timestamp string   `json:"timestamp"` // the transaction's timestamp (RFC 3339)
	Creator   string   `json:"creator"`   // the submitting organisation's MSP ID
	Objects   []string `json:"objects"`   // the changed objects the subscriber may see, "kind/attr/…"
}

// EventID returns the ID of the event at a position: "<block>-<index>".
func EventID(p store.EventPosition) string {
	return strconv.FormatInt(p.Block, 10) + "-" + strconv.FormatInt(p.Index, 10)
}

// MessageID returns the webhook-id of a delivery: "msg_<delivery ID>", the
// same on each of its attempts. A replay is a new delivery with its own ID;
// the body's "id" names the event.
func MessageID(deliveryID int64) string { return "msg_" + strconv.FormatInt(deliveryID, 10) }

// Functions lists the transactions a subscription may ask for.
func Functions() []string {
	return []string{
		greenmint.TxAdmitOrganization, greenmint.TxAmendMeter, greenmint.TxAmendSite, greenmint.TxApproveMeter, greenmint.TxApproveSite,
		greenmint.TxBootstrap, greenmint.TxCancelListing, greenmint.TxCancelUnits, greenmint.TxConfirmPayment, greenmint.TxFlagBatch,
		greenmint.TxListForSale, greenmint.TxMint, greenmint.TxOpenAccount, greenmint.TxPublishDataset, greenmint.TxRegisterMeter,
		greenmint.TxRegisterOracle, greenmint.TxRegisterSite, greenmint.TxReissueBatch, greenmint.TxReleaseReservation, greenmint.TxReserveListing,
		greenmint.TxResolveFlag, greenmint.TxRetire, greenmint.TxRevokeOracle, greenmint.TxRevokeOrganizationRole, greenmint.TxSetPolicy,
		greenmint.TxSuspendMeter, greenmint.TxSuspendSite, greenmint.TxTransfer, greenmint.TxWithdrawBatch,
	}
}

// Limits of subscriptions.
const (
	MaxSubscriptions = 20   // active subscriptions per organisation
	MaxURL           = 2048 // bytes of a subscription's URL
)

// Subscription is an organisation's webhook subscription.
type Subscription struct {
	ID        string
	Org       string // the subscribing organisation's MSP ID
	URL       string
	Functions []string // the transactions whose events are sent; empty for every one
	// Public asks also for every organisation's public events (Mint,
	// ReissueBatch, Retire), with their public objects only.
	Public bool
	// Secret is the subscription's signing secret, "whsec_…" (derived,
	// never stored; it changes when the gateway's key is rotated).
	Secret     string
	CreatedBy  string
	CreatedAt  time.Time
	DisabledAt time.Time // zero while active
}

// Delivery is one message to a subscription and the state of its delivery.
type Delivery struct {
	ID             int64
	SubscriptionID string
	MessageID      string // the webhook-id header
	EventID        string // the body's "id"
	TxID           string
	Function       string
	Payload        json.RawMessage // the exact body sent
	State          string          // pending, delivered or failed
	Attempts       int
	NextAttemptAt  time.Time // when pending: the next attempt
	LastStatus     int       // the last attempt's HTTP status; 0 for none or no answer
	LastError      string
	CreatedAt      time.Time
	DeliveredAt    time.Time
	ReplayOf       int64 // the original delivery a replay copies; 0 for an original
}

func deliveryOf(d store.WebhookDelivery) Delivery {
	out := Delivery{ID: d.ID, SubscriptionID: d.SubscriptionID, MessageID: MessageID(d.ID), EventID: EventID(d.Event), TxID: d.TxID, Function: d.Function,
		Payload: json.RawMessage(d.Payload), State: d.State, Attempts: d.Attempts, LastStatus: d.LastStatus, LastError: d.LastError,
		CreatedAt: d.CreatedAt, DeliveredAt: d.DeliveredAt, ReplayOf: d.ReplayOf}
	if d.State == store.WebhookPending {
		out.NextAttemptAt = d.NextAttemptAt
	}
	return out
}

// Service manages organisations' subscriptions and their deliveries, for
// the gateway's routes. Every method acts for one organisation (org, an MSP
// ID) and never shows or changes another's: another organisation's
// subscription is not_found. It delivers nothing itself (see Sender).
type Service struct {
	db        *store.DB
	masterKey []byte
	now       func() time.Time
	allowHTTP bool
}

// ServiceConfig configures a Service.
type ServiceConfig struct {
	// MasterKey (MasterKeySize bytes) derives the subscriptions' secrets;
	// the Sender must be given the same.
	MasterKey []byte
	// AllowHTTP accepts http:// URLs beside https:// (for tests and
	// networks where TLS ends before the receiver).
	AllowHTTP bool
	Now       func() time.Time // time.Now when nil
}

// NewService returns a Service on db (migrated).
func NewService(db *store.DB, cfg ServiceConfig) (*Service, error) {
	if len(cfg.MasterKey) != MasterKeySize {
		return nil, greenmint.Errorf(greenmint.EINVALID, "webhook.NewService: the master key has %d bytes, want %d", len(cfg.MasterKey), MasterKeySize)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{db: db, masterKey: slices.Clone(cfg.MasterKey), now: cfg.Now, allowHTTP: cfg.AllowHTTP}, nil
}

// SubscribeRequest asks for a new subscription.
type SubscribeRequest struct {
	Org       string // the subscribing organisation
	CreatedBy string // who asks (a user or API key ID)
	URL       string
	Functions []string
	Public    bool
}

// Subscribe makes a subscription that receives the events recorded from
// now on. The URL must be absolute https (http with AllowHTTP), without
// credentials or fragment; functions must be transactions of Functions().
// An organisation with MaxSubscriptions active ones gets a conflict.
func (s *Service) Subscribe(ctx context.Context, r SubscribeRequest) (Subscription, error) {
	const op = "webhook.Subscribe"
	if r.Org == "" || r.CreatedBy == "" {
		return Subscription{}, greenmint.Errorf(greenmint.EINVALID, "%s: a subscription needs an organisation and a creator", op)
	}
	if err := s.checkURL(r.URL); err != nil {
		return Subscription{}, err
	}
	known := Functions()
	for _, f := range r.Functions {
		if !slices.Contains(known, f) {
			return Subscription{}, greenmint.Errorf(greenmint.EINVALID, "functions: %q is not a transaction (one of %s)", f, strings.Join(known, ", "))
		}
	}
	active, err := s.db.ActiveWebhookSubscriptions(ctx)
	if err != nil {
		return Subscription{}, fmt.Errorf("%s: %w", op, err)
	}
	n := 0
	for _, a := range active {
		if a.Org == r.Org {
			n++
		}
	}
	if n >= MaxSubscriptions {
		return Subscription{}, greenmint.Errorf(greenmint.ECONFLICT, "%s has %d active webhook subscriptions, the most allowed; delete one first", r.Org, n)
	}
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return Subscription{}, greenmint.E(greenmint.EINTERNAL, op, err, "random")
	}
	sub, err := s.db.CreateWebhookSubscription(ctx, store.WebhookSubscription{ID: "whk_" + hex.EncodeToString(b), Org: r.Org, URL: r.URL,
		Functions: r.Functions, Public: r.Public, CreatedBy: r.CreatedBy, CreatedAt: s.now()})
	if err != nil {
		return Subscription{}, fmt.Errorf("%s: %w", op, err)
	}
	return s.subscriptionOf(sub), nil
}

func (s *Service) checkURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case raw == "" || len(raw) > MaxURL:
		return greenmint.Errorf(greenmint.EINVALID, "url: 1 to %d bytes", MaxURL)
	case err != nil:
		return greenmint.Errorf(greenmint.EINVALID, "url: %q is not a URL", raw)
	case u.Scheme != "https" && !(s.allowHTTP && u.Scheme == "http"):
		if s.allowHTTP {
			return greenmint.Errorf(greenmint.EINVALID, "url: %q is not an https or http URL", raw)
		}
		return greenmint.Errorf(greenmint.EINVALID, "url: %q is not an https URL", raw)
	case u.Host == "" || u.Hostname() == "":
		return greenmint.Errorf(greenmint.EINVALID, "url: %q has no host", raw)
	case u.User != nil:
		return greenmint.Errorf(greenmint.EINVALID, "url: credentials in the URL are not accepted")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return greenmint.Errorf(greenmint.EINVALID, "url: %q has a fragment", raw)
	}
	return nil
}

func (s *Service) subscriptionOf(sub store.WebhookSubscription) Subscription {
	return Subscription{ID: sub.ID, Org: sub.Org, URL: sub.URL, Functions: sub.Functions, Public: sub.Public, Secret: Secret(s.masterKey, sub.ID),
		CreatedBy: sub.CreatedBy, CreatedAt: sub.CreatedAt, DisabledAt: sub.DisabledAt}
}

// Subscription returns one of org's subscriptions.
func (s *Service) Subscription(ctx context.Context, org, id string) (Subscription, error) {
	sub, err := s.db.WebhookSubscription(ctx, org, id)
	if err != nil {
		return Subscription{}, fmt.Errorf("webhook.Subscription: %w", err)
	}
	return s.subscriptionOf(sub), nil
}

// Subscriptions returns a page of org's subscriptions (disabled ones too)
// in ID order and the next page's cursor ("" after the last); limit 1 to
// 100, 0 for 100.
func (s *Service) Subscriptions(ctx context.Context, org, cursor string, limit int) ([]Subscription, string, error) {
	subs, next, err := s.db.WebhookSubscriptions(ctx, org, cursor, limit)
	if err != nil {
		return nil, "", fmt.Errorf("webhook.Subscriptions: %w", err)
	}
	out := make([]Subscription, len(subs))
	for i, sub := range subs {
		out[i] = s.subscriptionOf(sub)
	}
	return out, next, nil
}

// Unsubscribe disables one of org's subscriptions: nothing more is
// delivered to it and its pending deliveries fail. Disabling it again
// changes nothing. It returns the subscription.
func (s *Service) Unsubscribe(ctx context.Context, org, id string) (Subscription, error) {
	sub, err := s.db.DisableWebhookSubscription(ctx, org, id, s.now())
	if err != nil {
		return Subscription{}, fmt.Errorf("webhook.Unsubscribe: %w", err)
	}
	return s.subscriptionOf(sub), nil
}

// Deliveries returns a page of the deliveries of one of org's
// subscriptions, newest first, and the next page's cursor ("" after the
// last); limit 1 to 100, 0 for 100.
func (s *Service) Deliveries(ctx context.Context, org, id, cursor string, limit int) ([]Delivery, string, error) {
	ds, next, err := s.db.WebhookDeliveries(ctx, org, id, cursor, limit)
	if err != nil {
		return nil, "", fmt.Errorf("webhook.Deliveries: %w", err)
	}
	out := make([]Delivery, len(ds))
	for i, d := range ds {
		out[i] = deliveryOf(d)
	}
	return out, next, nil
}

// Delivery returns one delivery of one of org's subscriptions.
func (s *Service) Delivery(ctx context.Context, org, id string, deliveryID int64) (Delivery, error) {
	d, err := s.db.WebhookDelivery(ctx, org, id, deliveryID)
	if err != nil {
		return Delivery{}, fmt.Errorf("webhook.Delivery: %w", err)
	}
	return deliveryOf(d), nil
}

// Replay sends a delivery of one of org's subscriptions again: a new
// delivery, pending now, with the same body and a new webhook-id (the
// body's "id" still names the event). A disabled subscription is a
// conflict. It returns the new delivery.
func (s *Service) Replay(ctx context.Context, org, id string, deliveryID int64) (Delivery, error) {
	d, err := s.db.ReplayWebhookDelivery(ctx, org, id, deliveryID, s.now())
	if err != nil {
		return Delivery{}, fmt.Errorf("webhook.Replay: %w", err)
	}
	return deliveryOf(d), nil
}
