package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/greenmint/greenmint"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// This file persists webhooks (package webhook, migration 00012):
// organisations' subscriptions, the outbox of deliveries the sender posts,
// and the sender's cursor in rm_events. It enforces what must hold under
// concurrency (an event enqueued once per subscription, the cursor moved
// with the deliveries it covers, a delivery claimed by one sender at a
// time); what is delivered to whom, and when, is the webhook package's.

// Delivery states.
const (
	WebhookPending   = "pending"
	WebhookDelivered = "delivered"
	WebhookFailed    = "failed"
)

type webhookSubscriptionRow struct {
	ID         string `gorm:"column:id;primaryKey"`
	Org        string `gorm:"column:org"`
	URL        string `gorm:"column:url"`
	Functions  string `gorm:"column:functions"`
	Public     int    `gorm:"column:public"`
	AfterBlock int64  `gorm:"column:after_block"`
	AfterIdx   int64  `gorm:"column:after_idx"`
	CreatedBy  string `gorm:"column:created_by"`
	CreatedAt  int64  `gorm:"column:created_at"`
	DisabledAt int64  `gorm:"column:disabled_at"`
}

func (webhookSubscriptionRow) TableName() string { return "webhook_subscriptions" }

type webhookDeliveryRow struct {
	ID             int64  `gorm:"column:id;primaryKey;autoIncrement"`
	SubscriptionID string `gorm:"column:subscription_id"`
	Block          int64  `gorm:"column:block"`
	Idx            int64  `gorm:"column:idx"`
	TxID           string `gorm:"column:tx_id"`
	Function       string `gorm:"column:function"`
	Payload        []byte `gorm:"column:payload"`
	State          string `gorm:"column:state"`
	Attempts       int    `gorm:"column:attempts"`
	NextAttemptAt  int64  `gorm:"column:next_attempt_at"`
	Claim          string `gorm:"column:claim"`
	LastStatus     int    `gorm:"column:last_status"`
	LastError      string `gorm:"column:last_error"`
	CreatedAt      int64  `gorm:"column:created_at"`
	DeliveredAt    int64  `gorm:"column:delivered_at"`
	ReplayOf       int64  `gorm:"column:replay_of"`
}

func (webhookDeliveryRow) TableName() string { return "webhook_deliveries" }

type webhookCursorRow struct {
	ID    int64 `gorm:"column:id;primaryKey"`
	Block int64 `gorm:"column:block"`
	Idx   int64 `gorm:"column:idx"`
}

func (webhookCursorRow) TableName() string { return "webhook_cursor" }

// EventPosition is the position of a recorded event (rm_events): its
// block and its index among the block's events. {-1, -1} is before the
// first event.
type EventPosition struct {
	Block int64
	Index int64
}

// Before reports whether p comes before q.
func (p EventPosition) Before(q EventPosition) bool {
	return p.Block < q.Block || (p.Block == q.Block && p.Index < q.Index)
}

// WebhookSubscription is an organisation's webhook subscription.
type WebhookSubscription struct {
	ID  string
	Org string // the subscribing organisation's MSP ID
	URL string
	// Functions are the transactions (greenmint.Tx…) whose events are
	// wanted; empty for every one.
	Functions []string
	// Public asks also for every organisation's public events (mints,
	// reissues, retirements), beside the events touching Org's data.
	Public bool
	// After is the read model's last event when the subscription was
	// made (set by CreateWebhookSubscription): only later events are
	// delivered.
	After      EventPosition
	CreatedBy  string
	CreatedAt  time.Time
	DisabledAt time.Time // zero while active
}

// Active reports whether the subscription is not disabled.
func (s WebhookSubscription) Active() bool { return s.DisabledAt.IsZero() }

func webhookSubscriptionFromRow(r webhookSubscriptionRow) WebhookSubscription {
	s := WebhookSubscription{ID: r.ID, Org: r.Org, URL: r.URL, Public: r.Public != 0, After: EventPosition{Block: r.AfterBlock, Index: r.AfterIdx},
		CreatedBy: r.CreatedBy, CreatedAt: fromUnix(r.CreatedAt), DisabledAt: fromUnix(r.DisabledAt)}
	if r.Functions != "" {
		s.Functions = strings.Split(strings.Trim(r.Functions, ","), ",")
	}
	return s
}

// WebhookDelivery is one message to one subscription: an event and the
// exact body posted, with the state of its delivery.
type WebhookDelivery struct {
	ID             int64
	SubscriptionID string
	Event          EventPosition
	TxID           string
	Function       string
	Payload        []byte
	State          string // WebhookPending, WebhookDelivered or WebhookFailed
	Attempts       int
	NextAttemptAt  time.Time // pending: due from then on
	LastStatus     int       // the last attempt's HTTP status; 0 for none or no answer
	LastError      string
	CreatedAt      time.Time
	DeliveredAt    time.Time // zero until delivered
	// ReplayOf is the delivery a replay copies (0 for an event's
	// original delivery).
	ReplayOf int64
	// Claim is the token of the claim that returned the delivery
	// (ClaimWebhookDeliveries), to record its attempt with.
	Claim string
}

func webhookDeliveryFromRow(r webhookDeliveryRow) WebhookDelivery {
	return WebhookDelivery{ID: r.ID, SubscriptionID: r.SubscriptionID, Event: EventPosition{Block: r.Block, Index: r.Idx}, TxID: r.TxID, Function: r.Function,
		Payload: r.Payload, State: r.State, Attempts: r.Attempts, NextAttemptAt: fromUnix(r.NextAttemptAt), LastStatus: r.LastStatus, LastError: r.LastError,
		CreatedAt: fromUnix(r.CreatedAt), DeliveredAt: fromUnix(r.DeliveredAt), ReplayOf: r.ReplayOf, Claim: r.Claim}
}

// CreateWebhookSubscription stores a new subscription, active from now on:
// its After is set to the read model's checkpoint (the last event applied),
// so only later events are delivered to it. An ID stored already is a
// conflict. It returns the subscription as stored.
func (db *DB) CreateWebhookSubscription(ctx context.Context, s WebhookSubscription) (WebhookSubscription, error) {
	const op = "store.CreateWebhookSubscription"
	if s.ID == "" || s.Org == "" || s.URL == "" || s.CreatedBy == "" || s.CreatedAt.IsZero() {
		return WebhookSubscription{}, greenmint.Errorf(greenmint.EINVALID, "%s: a subscription needs an ID, an organisation, a URL, a creator and a creation time", op)
	}
	functions := ""
	if len(s.Functions) > 0 {
		fs := slices.Clone(s.Functions)
		slices.Sort(fs)
		fs = slices.Compact(fs)
		for _, f := range fs {
			if f == "" || strings.Contains(f, ",") {
				return WebhookSubscription{}, greenmint.Errorf(greenmint.EINVALID, "%s: function %q", op, f)
			}
		}
		functions = "," + strings.Join(fs, ",") + ","
	}
	row := webhookSubscriptionRow{ID: s.ID, Org: s.Org, URL: s.URL, Functions: functions, Public: boolInt(s.Public), CreatedBy: s.CreatedBy, CreatedAt: unix(s.CreatedAt)}
	err := db.gdb.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		cp, err := readCheckpoint(tx)
		if err != nil {
			return err
		}
		row.AfterBlock, row.AfterIdx = -1, -1
		if !cp.Empty {
			row.AfterBlock, row.AfterIdx = int64(cp.Block), cp.Index
		}
		return translate(op, tx.Create(&row).Error)
	})
	if err != nil {
		return WebhookSubscription{}, err
	}
	return webhookSubscriptionFromRow(row), nil
}

// WebhookSubscription returns organisation org's subscription id;
// not_found when there is none (another organisation's included).
func (db *DB) WebhookSubscription(ctx context.Context, org, id string) (WebhookSubscription, error) {
	r, err := webhookSubscriptionOf(db.gdb.WithContext(ctx), "store.WebhookSubscription", org, id)
	if err != nil {
		return WebhookSubscription{}, err
	}
	return webhookSubscriptionFromRow(r), nil
}

func webhookSubscriptionOf(tx *gorm.DB, op, org, id string) (webhookSubscriptionRow, error) {
	var rows []webhookSubscriptionRow
	if err := tx.Where("id = ? AND org = ?", id, org).Limit(1).Find(&rows).Error; err != nil {
		return webhookSubscriptionRow{}, translate(op, err)
	}
	if len(rows) == 0 {
		return webhookSubscriptionRow{}, &greenmint.Error{Code: greenmint.ENOTFOUND, Op: op, Message: "no such webhook subscription " + strconv.Quote(id)}
	}
	return rows[0], nil
}

// WebhookSubscriptions returns a page of organisation org's subscriptions
// (disabled ones too) in ID order, and the cursor of the next page (""
// after the last). limit is 1 to MaxPageLimit (0: MaxPageLimit).
func (db *DB) WebhookSubscriptions(ctx context.Context, org, cursor string, limit int) ([]WebhookSubscription, string, error) {
	const op = "store.WebhookSubscriptions"
	n, err := (Filter{Limit: limit}).limit()
	if err != nil {
		return nil, "", err
	}
	q := db.gdb.WithContext(ctx).Where("org = ?", org)
	if cursor != "" {
		c, err := decodeCursor(cursor, 1)
		if err != nil {
			return nil, "", err
		}
		q = q.Where("id > ?", c[0])
	}
	var rows []webhookSubscriptionRow
	if err := q.Order("id").Limit(n + 1).Find(&rows).Error; err != nil {
		return nil, "", translate(op, err)
	}
	rows, next := page(rows, n, func(r webhookSubscriptionRow) []string { return []string{r.ID} })
	out := make([]WebhookSubscription, len(rows))
	for i, r := range rows {
		out[i] = webhookSubscriptionFromRow(r)
	}
	return out, next, nil
}

// ActiveWebhookSubscriptions returns every subscription not disabled, of
// every organisation, in ID order: whom the sender delivers to.
func (db *DB) ActiveWebhookSubscriptions(ctx context.Context) ([]WebhookSubscription, error) {
	var rows []webhookSubscriptionRow
	if err := db.gdb.WithContext(ctx).Where("disabled_at = 0").Order("id").Find(&rows).Error; err != nil {
		return nil, translate("store.ActiveWebhookSubscriptions", err)
	}
	out := make([]WebhookSubscription, len(rows))
	for i, r := range rows {
		out[i] = webhookSubscriptionFromRow(r)
	}
	return out, nil
}

// DisableWebhookSubscription disables organisation org's subscription id
// at the given time, and fails its pending deliveries ("subscription
// disabled"), in one transaction. Disabling a disabled subscription
// changes nothing; an unknown one (or another organisation's) is
// not_found. It returns the subscription as stored.
func (db *DB) DisableWebhookSubscription(ctx context.Context, org, id string, at time.Time) (WebhookSubscription, error) {
	const op = "store.DisableWebhookSubscription"
	var out WebhookSubscription
	err := db.gdb.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&webhookSubscriptionRow{}).Where("id = ? AND org = ? AND disabled_at = 0", id, org).Update("disabled_at", max(at.Unix(), 1))
		if res.Error != nil {
			return translate(op, res.Error)
		}
		if res.RowsAffected > 0 {
			if err := tx.Model(&webhookDeliveryRow{}).Where("subscription_id = ? AND state = ?", id, WebhookPending).
				Updates(map[string]any{"state": WebhookFailed, "last_error": "subscription disabled", "claim": ""}).Error; err != nil {
				return translate(op, err)
			}
		}
		r, err := webhookSubscriptionOf(tx, op, org, id)
		out = webhookSubscriptionFromRow(r)
		return err
	})
	return out, err
}

// WebhookCursor returns the last recorded event the sender turned into
// deliveries ({-1, -1} before the first).
func (db *DB) WebhookCursor(ctx context.Context) (EventPosition, error) {
	return webhookCursor(db.gdb.WithContext(ctx), "store.WebhookCursor")
}

func webhookCursor(tx *gorm.DB, op string) (EventPosition, error) {
	var rows []webhookCursorRow
	if err := tx.Where("id = 1").Limit(1).Find(&rows).Error; err != nil {
		return EventPosition{}, translate(op, err)
	}
	if len(rows) == 0 {
		return EventPosition{}, greenmint.Errorf(greenmint.EINTERNAL, "%s: the webhook cursor row is missing", op)
	}
	return EventPosition{Block: rows[0].Block, Index: rows[0].Idx}, nil
}

// EnqueueWebhookDeliveries moves the sender's cursor from `from` to `to`
// and stores the deliveries of the events in between, in one transaction:
// a crash keeps both or neither. If the cursor is no longer at `from`
// (another sender moved it), nothing is stored and the error is a
// conflict. Each delivery is stored pending, due at now; an event already
// enqueued for a subscription is not enqueued again (only its first
// delivery is kept). Deliveries need a subscription, a transaction ID, a
// function and a payload; their other fields are ignored.
func (db *DB) EnqueueWebhookDeliveries(ctx context.Context, from, to EventPosition, ds []WebhookDelivery, now time.Time) error {
	const op = "store.EnqueueWebhookDeliveries"
	if to.Before(from) {
		return greenmint.Errorf(greenmint.EINVALID, "%s: the cursor cannot move back from %v to %v", op, from, to)
	}
	rows := make([]webhookDeliveryRow, len(ds))
	for i, d := range ds {
		if d.SubscriptionID == "" || d.TxID == "" || d.Function == "" || len(d.Payload) == 0 {
			return greenmint.Errorf(greenmint.EINVALID, "%s: a delivery needs a subscription, a transaction, a function and a payload", op)
		}
		if !from.Before(d.Event) || to.Before(d.Event) {
			return greenmint.Errorf(greenmint.EINVALID, "%s: event %v is not after %v and up to %v", op, d.Event, from, to)
		}
		rows[i] = webhookDeliveryRow{SubscriptionID: d.SubscriptionID, Block: d.Event.Block, Idx: d.Event.Index, TxID: d.TxID, Function: d.Function,
			Payload: d.Payload, State: WebhookPending, NextAttemptAt: now.Unix(), CreatedAt: now.Unix()}
	}
	return db.gdb.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// The cursor first: on PostgreSQL its row lock orders concurrent
		// senders, and the later one finds the cursor moved.
		res := tx.Model(&webhookCursorRow{}).Where("id = 1 AND block = ? AND idx = ?", from.Block, from.Index).
			Updates(map[string]any{"block": to.Block, "idx": to.Index})
		if res.Error != nil {
			return translate(op, res.Error)
		}
		if res.RowsAffected == 0 {
			return &greenmint.Error{Code: greenmint.ECONFLICT, Op: op, Message: "the webhook cursor moved"}
		}
		for _, c := range chunks(rows, 100) {
			if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&c).Error; err != nil {
				return translate(op, err)
			}
		}
		return nil
	})
}

// ClaimWebhookDeliveries claims up to limit (1 to MaxPageLimit) pending
// deliveries of active subscriptions that are due at now, oldest first,
// for lease: until now+lease no other claim returns them (their
// next_attempt_at is moved there, so a sender that dies mid-attempt
// leaves them due again then). Concurrent claims never return the same
// delivery. Each returned delivery carries the claim's token, which
// RecordWebhookAttempt and ReleaseWebhookDeliveries need.
func (db *DB) ClaimWebhookDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]WebhookDelivery, error) {
	const op = "store.ClaimWebhookDeliveries"
	if limit < 1 || limit > MaxPageLimit {
		return nil, greenmint.Errorf(greenmint.EINVALID, "%s: limit %d is out of range (1 to %d)", op, limit, MaxPageLimit)
	}
	if lease < time.Second {
		return nil, greenmint.Errorf(greenmint.EINVALID, "%s: a lease of %v is shorter than a second", op, lease)
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, greenmint.E(greenmint.EINTERNAL, op, err, "random")
	}
	token := hex.EncodeToString(b)
	var rows []webhookDeliveryRow
	err := db.gdb.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		due := `SELECT d.id FROM webhook_deliveries d JOIN webhook_subscriptions s ON s.id = d.subscription_id
  WHERE d.state = ? AND d.next_attempt_at <= ? AND s.disabled_at = 0 ORDER BY d.id LIMIT ?`
		var res *gorm.DB
		if db.dialect == "postgres" {
			// Locked rows are skipped, and the due rows are chosen once (a
			// LIMIT in an IN subquery may be evaluated more than once).
			// The conditions are checked again on the row updated, so a
			// delivery another claim took meanwhile is left.
			res = tx.Exec(`WITH c AS MATERIALIZED (`+due+` FOR UPDATE OF d SKIP LOCKED)
UPDATE webhook_deliveries w SET claim = ?, next_attempt_at = ? FROM c WHERE w.id = c.id AND w.state = ? AND w.next_attempt_at <= ?`,
				WebhookPending, now.Unix(), limit, token, now.Add(lease).Unix(), WebhookPending, now.Unix())
		} else { // SQLite runs one write at a time
			res = tx.Exec(`UPDATE webhook_deliveries SET claim = ?, next_attempt_at = ? WHERE id IN (`+due+`)`,
				token, now.Add(lease).Unix(), WebhookPending, now.Unix(), limit)
		}
		if res.Error != nil {
			return translate(op, res.Error)
		}
		if res.RowsAffected == 0 {
			return nil
		}
		return translate(op, tx.Where("claim = ?", token).Order("id").Find(&rows).Error)
	})
	if err != nil {
		return nil, err
	}
	out := make([]WebhookDelivery, len(rows))
	for i, r := range rows {
		out[i] = webhookDeliveryFromRow(r)
	}
	return out, nil
}

// WebhookAttempt is the outcome of one attempt to deliver.
type WebhookAttempt struct {
	At     time.Time
	Status int    // the HTTP status answered; 0 for none
	Error  string // why it failed; "" when delivered
	// State is the delivery's state after the attempt: WebhookDelivered,
	// WebhookPending (to be tried again at Next) or WebhookFailed (given
	// up).
	State string
	Next  time.Time
}

// RecordWebhookAttempt records an attempt at a delivery claimed with the
// token claim: one attempt more, its status and error, and the delivery's
// new state. A delivery no longer held by that claim (its lease ran out
// and another sender claimed it, or its subscription was disabled) is a
// conflict and is left as it is; an unknown one is not_found.
func (db *DB) RecordWebhookAttempt(ctx context.Context, id int64, claim string, a WebhookAttempt) error {
	const op = "store.RecordWebhookAttempt"
	set := map[string]any{"attempts": gorm.Expr("attempts + 1"), "last_status": a.Status, "last_error": a.Error, "state": a.State, "claim": ""}
	switch a.State {
	case WebhookDelivered:
		set["delivered_at"] = max(a.At.Unix(), 1)
	case WebhookPending:
		if a.Next.IsZero() {
			return greenmint.Errorf(greenmint.EINVALID, "%s: a delivery to try again needs a time", op)
		}
		set["next_attempt_at"] = a.Next.Unix()
	case WebhookFailed:
	default:
		return greenmint.Errorf(greenmint.EINVALID, "%s: state %q", op, a.State)
	}
	if claim == "" {
		return greenmint.Errorf(greenmint.EINVALID, "%s: no claim", op)
	}
	res := db.gdb.WithContext(ctx).Model(&webhookDeliveryRow{}).Where("id = ? AND claim = ? AND state = ?", id, claim, WebhookPending).Updates(set)
	if res.Error != nil {
		return translate(op, res.Error)
	}
	if res.RowsAffected == 0 {
		var n int64
		if err := db.gdb.WithContext(ctx).Model(&webhookDeliveryRow{}).Where("id = ?", id).Count(&n).Error; err != nil {
			return translate(op, err)
		}
		if n == 0 {
			return &greenmint.Error{Code: greenmint.ENOTFOUND, Op: op, Message: "no such delivery " + strconv.FormatInt(id, 10)}
		}
		return &greenmint.Error{Code: greenmint.ECONFLICT, Op: op, Message: "the delivery is no longer held by this claim"}
	}
	return nil
}

// ReleaseWebhookDeliveries gives back deliveries claimed with the token
// claim and not attempted: they are due again at the given time, their
// attempts unchanged. Deliveries no longer held by the claim are left.
func (db *DB) ReleaseWebhookDeliveries(ctx context.Context, claim string, ids []int64, at time.Time) error {
	if claim == "" || len(ids) == 0 {
		return nil
	}
	res := db.gdb.WithContext(ctx).Model(&webhookDeliveryRow{}).Where("claim = ? AND state = ? AND id IN ?", claim, WebhookPending, ids).
		Updates(map[string]any{"claim": "", "next_attempt_at": at.Unix()})
	return translate("store.ReleaseWebhookDeliveries", res.Error)
}

// WebhookDeliveries returns a page of the deliveries of organisation
// org's subscription subID, newest first, and the cursor of the next page
// ("" after the last). limit is 1 to MaxPageLimit (0: MaxPageLimit). An
// unknown subscription (or another organisation's) is not_found.
func (db *DB) WebhookDeliveries(ctx context.Context, org, subID, cursor string, limit int) ([]WebhookDelivery, string, error) {
	const op = "store.WebhookDeliveries"
	n, err := (Filter{Limit: limit}).limit()
	if err != nil {
		return nil, "", err
	}
	// The cursor is checked first: a malformed request is invalid
	// whatever it names.
	before := int64(0)
	if cursor != "" {
		c, err := decodeCursor(cursor, 1)
		if err == nil {
			before, err = strconv.ParseInt(c[0], 10, 64)
			if err != nil {
				err = greenmint.Errorf(greenmint.EINVALID, "cursor %q is not one this list returned", cursor)
			}
		}
		if err != nil {
			return nil, "", err
		}
	}
	q := db.gdb.WithContext(ctx)
	if _, err := webhookSubscriptionOf(q, op, org, subID); err != nil {
		return nil, "", err
	}
	q = q.Where("subscription_id = ?", subID)
	if cursor != "" {
		q = q.Where("id < ?", before)
	}
	var rows []webhookDeliveryRow
	if err := q.Order("id DESC").Limit(n + 1).Find(&rows).Error; err != nil {
		return nil, "", translate(op, err)
	}
	rows, next := page(rows, n, func(r webhookDeliveryRow) []string { return []string{strconv.FormatInt(r.ID, 10)} })
	out := make([]WebhookDelivery, len(rows))
	for i, r := range rows {
		out[i] = webhookDeliveryFromRow(r)
		out[i].Claim = ""
	}
	return out, next, nil
}

// WebhookDelivery returns delivery id of organisation org's subscription
// subID; not_found when there is none (another subscription's included).
func (db *DB) WebhookDelivery(ctx context.Context, org, subID string, id int64) (WebhookDelivery, error) {
	const op = "store.WebhookDelivery"
	q := db.gdb.WithContext(ctx)
	if _, err := webhookSubscriptionOf(q, op, org, subID); err != nil {
		return WebhookDelivery{}, err
	}
	r, err := webhookDeliveryOf(q, op, subID, id)
	if err != nil {
		return WebhookDelivery{}, err
	}
	d := webhookDeliveryFromRow(r)
	d.Claim = ""
	return d, nil
}

func webhookDeliveryOf(tx *gorm.DB, op, subID string, id int64) (webhookDeliveryRow, error) {
	var rows []webhookDeliveryRow
	if err := tx.Where("id = ? AND subscription_id = ?", id, subID).Limit(1).Find(&rows).Error; err != nil {
		return webhookDeliveryRow{}, translate(op, err)
	}
	if len(rows) == 0 {
		return webhookDeliveryRow{}, &greenmint.Error{Code: greenmint.ENOTFOUND, Op: op, Message: "no such delivery " + strconv.FormatInt(id, 10)}
	}
	return rows[0], nil
}

// ReplayWebhookDelivery enqueues a copy of delivery id of organisation
// org's subscription subID: the same event and payload, pending, due at
// now, its ReplayOf naming the event's original delivery. A disabled
// subscription is a conflict; an unknown delivery or subscription (or
// another organisation's) is not_found. It returns the new delivery.
func (db *DB) ReplayWebhookDelivery(ctx context.Context, org, subID string, id int64, now time.Time) (WebhookDelivery, error) {
	const op = "store.ReplayWebhookDelivery"
	var row webhookDeliveryRow
	err := db.gdb.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		s, err := webhookSubscriptionOf(tx, op, org, subID)
		if err != nil {
			return err
		}
		if s.DisabledAt != 0 {
			return &greenmint.Error{Code: greenmint.ECONFLICT, Op: op, Message: "the webhook subscription is disabled"}
		}
		orig, err := webhookDeliveryOf(tx, op, subID, id)
		if err != nil {
			return err
		}
		of := orig.ID
		if orig.ReplayOf != 0 {
			of = orig.ReplayOf
		}
		row = webhookDeliveryRow{SubscriptionID: subID, Block: orig.Block, Idx: orig.Idx, TxID: orig.TxID, Function: orig.Function, Payload: orig.Payload,
			State: WebhookPending, NextAttemptAt: now.Unix(), CreatedAt: now.Unix(), ReplayOf: of}
		return translate(op, tx.Create(&row).Error)
	})
	if err != nil {
		return WebhookDelivery{}, err
	}
	return webhookDeliveryFromRow(row), nil
}

// PurgeWebhookDeliveries deletes the delivered and failed deliveries made
// before the given time, and returns how many it deleted. Pending ones are
// kept whatever their age.
func (db *DB) PurgeWebhookDeliveries(ctx context.Context, before time.Time) (int64, error) {
	res := db.gdb.WithContext(ctx).Where("state IN ? AND created_at < ?", []string{WebhookDelivered, WebhookFailed}, before.Unix()).Delete(&webhookDeliveryRow{})
	return res.RowsAffected, translate("store.PurgeWebhookDeliveries", res.Error)
}
