package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/store"
)

// Defaults of a Sender.
const (
	DefaultPoll        = time.Second
	DefaultTimeout     = 10 * time.Second
	DefaultMaxAttempts = 14 // the last about 26.5 hours after the first (DefaultBackoff)
	DefaultRetention   = 30 * 24 * time.Hour
	// eventsPage is how many recorded events one transaction turns into
	// deliveries; claimPage how many deliveries one claim takes.
	eventsPage = store.MaxPageLimit
	claimPage  = store.MaxPageLimit
	// parallel is how many subscriptions are delivered to at once.
	parallel = 16
)

// DefaultBackoff is the wait after a failed attempt (attempt = 1 after the
// first): 30 s doubling to at most 6 h, each drawn at random between
// three quarters of that and all of it, so that retries to a receiver that
// was down do not arrive together.
func DefaultBackoff(attempt int) time.Duration {
	d := 30 * time.Second
	for i := 1; i < attempt && d < 6*time.Hour; i++ {
		d *= 2
	}
	d = min(d, 6*time.Hour)
	return d - time.Duration(rand.Int64N(int64(d/4)+1))
}

// Config configures a Sender.
type Config struct {
	// MasterKey (MasterKeySize bytes) derives the subscriptions' secrets,
	// as in ServiceConfig.
	MasterKey []byte
	// ReadsEverything reports whether an organisation reads every
	// organisation's data (required; see RegistryAndAuditors).
	ReadsEverything ReadsEverything
	// Changed, if set, returns a channel closed when new events are
	// recorded (readmodel.Projector.Changed); the sender also polls every
	// Poll.
	Changed func() <-chan struct{}
	Poll    time.Duration // DefaultPoll when 0
	// Timeout bounds one attempt, from connecting to the answer's status
	// (DefaultTimeout when 0).
	Timeout     time.Duration
	MaxAttempts int                             // DefaultMaxAttempts when 0; then the delivery fails
	Backoff     func(attempt int) time.Duration // DefaultBackoff when nil
	// Lease is how long a claimed delivery is held before another sender
	// may take it, should this one die (2 × Timeout + 30 s when 0).
	Lease time.Duration
	// Client sends the requests; when nil, a client that follows no
	// redirects and, unless AllowPrivateNetworks, connects only to public
	// addresses (no loopback, private, link-local or unspecified ones).
	Client               *http.Client
	AllowPrivateNetworks bool
	// Retention is how long delivered and failed deliveries are kept
	// (DefaultRetention when 0); the sender purges older ones hourly.
	Retention time.Duration
	Now       func() time.Time // time.Now when nil
	Logger    *slog.Logger     // discards when nil
}

// Sender follows the events the read model records (rm_events) from its
// cursor, turns each into deliveries for the subscriptions that may see
// it, and posts them, signed, retrying with backoff. One sender should run
// per deployment; two are safe (each event is enqueued once per
// subscription, each delivery attempted by one at a time) but may send a
// message twice when an attempt outlives its lease.
type Sender struct {
	db  *store.DB
	cfg Config
}

// NewSender returns a Sender on db (migrated, with the read model).
func NewSender(db *store.DB, cfg Config) (*Sender, error) {
	const op = "webhook.NewSender"
	if len(cfg.MasterKey) != MasterKeySize {
		return nil, greenmint.Errorf(greenmint.EINVALID, "%s: the master key has %d bytes, want %d", op, len(cfg.MasterKey), MasterKeySize)
	}
	if cfg.ReadsEverything == nil {
		return nil, greenmint.Errorf(greenmint.EINVALID, "%s: ReadsEverything is required", op)
	}
	cfg.MasterKey = slices.Clone(cfg.MasterKey)
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.Backoff == nil {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 2*cfg.Timeout + 30*time.Second
	}
	if cfg.Lease < cfg.Timeout+5*time.Second {
		return nil, greenmint.Errorf(greenmint.EINVALID, "%s: a lease of %v does not outlast an attempt of %v by 5 s", op, cfg.Lease, cfg.Timeout)
	}
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Client == nil {
		cfg.Client = newClient(cfg.AllowPrivateNetworks)
	}
	return &Sender{db: db, cfg: cfg}, nil
}

// newClient returns a client that follows no redirect (a 3xx is a failed
// attempt) and, unless private is set, refuses to connect to addresses
// that are not public, whatever the URL's host resolves to.
func newClient(private bool) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second}
	if !private {
		d.Control = func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("webhook: address %s: %w", address, err)
			}
			if ip := ap.Addr().Unmap(); !publicAddr(ip) {
				return fmt.Errorf("webhook: %s is not a public address (private networks are not allowed)", ip)
			}
			return nil
		}
	}
	t := &http.Transport{DialContext: d.DialContext, TLSHandshakeTimeout: 10 * time.Second, MaxIdleConnsPerHost: 4, IdleConnTimeout: 90 * time.Second}
	return &http.Client{Transport: t, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func publicAddr(ip netip.Addr) bool {
	return ip.IsGlobalUnicast() && !ip.IsPrivate() && !ip.IsLoopback() && !ip.IsLinkLocalUnicast() &&
		!netip.MustParsePrefix("100.64.0.0/10").Contains(ip) && !netip.MustParsePrefix("fc00::/7").Contains(ip)
}

// Run enqueues and delivers until ctx ends; it returns nil then. Errors on
// the way (a database or the read model unavailable) are logged and the
// work tried again at the next poll.
func (s *Sender) Run(ctx context.Context) error {
	wake := make(chan struct{}, 1)
	var wg sync.WaitGroup
	wg.Go(func() { s.follow(ctx, wake) })
	s.deliverLoop(ctx, wake)
	wg.Wait()
	return nil
}

// follow turns newly recorded events into deliveries, waking the delivery
// loop when it made any.
func (s *Sender) follow(ctx context.Context, wake chan<- struct{}) {
	t := time.NewTicker(s.cfg.Poll)
	defer t.Stop()
	for {
		var changed <-chan struct{}
		if s.cfg.Changed != nil {
			changed = s.cfg.Changed() // before reading, so that no signal is missed
		}
		n, err := s.enqueue(ctx)
		if err != nil && ctx.Err() == nil {
			s.cfg.Logger.Error("webhook: enqueuing events", "err", err)
		}
		if n > 0 {
			select {
			case wake <- struct{}{}:
			default:
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-t.C:
		}
	}
}

// enqueue turns every event recorded after the cursor into deliveries, a
// page at a time, each page in one transaction with the cursor; it returns
// how many deliveries it stored.
func (s *Sender) enqueue(ctx context.Context) (int, error) {
	total := 0
	for ctx.Err() == nil {
		cur, err := s.db.WebhookCursor(ctx)
		if err != nil {
			return total, err
		}
		evs, err := s.db.ReadModelEvents(ctx, cur.Block, cur.Index, eventsPage)
		if err != nil || len(evs) == 0 {
			return total, err
		}
		subs, err := s.db.ActiveWebhookSubscriptions(ctx)
		if err != nil {
			return total, err
		}
		aud := newAudience(s.db, s.cfg.ReadsEverything)
		var ds []store.WebhookDelivery
		for _, ev := range evs {
			p := store.EventPosition{Block: int64(ev.Block), Index: ev.Index}
			for _, sub := range subs {
				if !sub.After.Before(p) {
					continue
				}
				objects, ok, err := aud.objects(ctx, sub, ev)
				if err != nil {
					return total, err
				}
				if !ok {
					continue
				}
				if objects == nil {
					objects = []string{}
				}
				body, err := json.Marshal(Event{Type: ev.Function, ID: EventID(p), TxID: ev.TxID, Block: p.Block, Index: p.Index, Timestamp: ev.Timestamp, Creator: ev.Creator, Objects: objects})
				if err != nil {
					return total, greenmint.E(greenmint.EINTERNAL, "webhook.enqueue", err, "encoding event %s", EventID(p))
				}
				ds = append(ds, store.WebhookDelivery{SubscriptionID: sub.ID, Event: p, TxID: ev.TxID, Function: ev.Function, Payload: body})
			}
		}
		last := evs[len(evs)-1]
		err = s.db.EnqueueWebhookDeliveries(ctx, cur, store.EventPosition{Block: int64(last.Block), Index: last.Index}, ds, s.cfg.Now())
		switch {
		case greenmint.ErrorCode(err) == greenmint.ECONFLICT:
			continue // another sender moved the cursor: read it again
		case err != nil:
			return total, err
		}
		total += len(ds)
	}
	return total, ctx.Err()
}

// deliverLoop delivers what is due, whenever woken and at every poll, and
// purges what is past its retention every hour.
func (s *Sender) deliverLoop(ctx context.Context, wake <-chan struct{}) {
	t := time.NewTicker(s.cfg.Poll)
	defer t.Stop()
	var purged time.Time
	for {
		if now := s.cfg.Now(); now.Sub(purged) >= time.Hour {
			n, err := s.db.PurgeWebhookDeliveries(ctx, now.Add(-s.cfg.Retention))
			switch {
			case err != nil && ctx.Err() == nil:
				s.cfg.Logger.Error("webhook: purging deliveries", "err", err)
			case n > 0:
				s.cfg.Logger.Info("webhook: purged deliveries", "count", n)
			}
			purged = now
		}
		n, err := s.deliverDue(ctx)
		if err != nil && ctx.Err() == nil {
			s.cfg.Logger.Error("webhook: delivering", "err", err)
		}
		if n == claimPage && err == nil {
			continue // there may be more due
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-t.C:
		}
	}
}

// deliverDue claims a page of due deliveries and attempts them: the
// deliveries of one subscription one after the other, in event order, and
// several subscriptions at once. It returns how many it claimed.
func (s *Sender) deliverDue(ctx context.Context) (int, error) {
	claimedAt := s.cfg.Now()
	ds, err := s.db.ClaimWebhookDeliveries(ctx, claimedAt, s.cfg.Lease, claimPage)
	if err != nil || len(ds) == 0 {
		return 0, err
	}
	subs, err := s.db.ActiveWebhookSubscriptions(ctx)
	if err != nil {
		_ = s.db.ReleaseWebhookDeliveries(context.WithoutCancel(ctx), ds[0].Claim, ids(ds), claimedAt)
		return len(ds), err
	}
	urls := map[string]string{}
	for _, sub := range subs {
		urls[sub.ID] = sub.URL
	}
	var order []string
	bySub := map[string][]store.WebhookDelivery{}
	for _, d := range ds {
		if _, ok := bySub[d.SubscriptionID]; !ok {
			order = append(order, d.SubscriptionID)
		}
		bySub[d.SubscriptionID] = append(bySub[d.SubscriptionID], d)
	}
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for _, id := range order {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			s.deliverAll(ctx, urls[id], bySub[id], claimedAt)
		})
	}
	wg.Wait()
	return len(ds), nil
}

func ids(ds []store.WebhookDelivery) []int64 {
	out := make([]int64, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}

// deliverAll attempts one subscription's claimed deliveries in order. What
// it cannot attempt within the claim's lease (or once ctx ends) it gives
// back, due at once.
func (s *Sender) deliverAll(ctx context.Context, target string, ds []store.WebhookDelivery, claimedAt time.Time) {
	for i, d := range ds {
		late := s.cfg.Now().Sub(claimedAt)+s.cfg.Timeout+5*time.Second > s.cfg.Lease
		if target == "" || late || ctx.Err() != nil { // disabled meanwhile, out of time or stopping
			if err := s.db.ReleaseWebhookDeliveries(context.WithoutCancel(ctx), d.Claim, ids(ds[i:]), s.cfg.Now()); err != nil {
				s.cfg.Logger.Error("webhook: releasing deliveries", "subscription", d.SubscriptionID, "err", err)
			}
			return
		}
		a := s.attempt(ctx, target, d)
		if ctx.Err() != nil && a.State != store.WebhookDelivered {
			// Stopped mid-attempt: give it back unattempted.
			_ = s.db.ReleaseWebhookDeliveries(context.WithoutCancel(ctx), d.Claim, ids(ds[i:]), s.cfg.Now())
			return
		}
		err := s.db.RecordWebhookAttempt(context.WithoutCancel(ctx), d.ID, d.Claim, a)
		switch {
		case greenmint.ErrorCode(err) == greenmint.ECONFLICT:
			s.cfg.Logger.Warn("webhook: a delivery's claim was lost during its attempt", "delivery", d.ID)
		case err != nil:
			s.cfg.Logger.Error("webhook: recording an attempt", "delivery", d.ID, "err", err)
		}
	}
}

// attempt posts one delivery and returns the attempt's outcome.
func (s *Sender) attempt(ctx context.Context, target string, d store.WebhookDelivery) store.WebhookAttempt {
	now := s.cfg.Now()
	status, err := s.post(ctx, target, d, now)
	a := store.WebhookAttempt{At: now, Status: status}
	if err == nil {
		a.State = store.WebhookDelivered
		return a
	}
	a.Error = err.Error()
	if len(a.Error) > 500 {
		a.Error = a.Error[:500]
	}
	if d.Attempts+1 >= s.cfg.MaxAttempts {
		a.State = store.WebhookFailed
		s.cfg.Logger.Warn("webhook: delivery failed for good", "delivery", d.ID, "subscription", d.SubscriptionID, "attempts", d.Attempts+1, "err", a.Error)
		return a
	}
	a.State, a.Next = store.WebhookPending, now.Add(s.cfg.Backoff(d.Attempts+1))
	return a
}

// post sends a delivery's body, signed at now, and returns the answer's
// status; an error unless it is 2xx.
func (s *Sender) post(ctx context.Context, target string, d store.WebhookDelivery, now time.Time) (int, error) {
	h, err := Headers(Secret(s.cfg.MasterKey, d.SubscriptionID), MessageID(d.ID), now, d.Payload)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(d.Payload))
	if err != nil {
		return 0, err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Greenmint-Webhooks/1")
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL, which the subscription shows already
		}
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, errors.New("HTTP " + strconv.Itoa(resp.StatusCode))
	}
	return resp.StatusCode, nil
}
