package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/greenmint/greenmint"
	"gorm.io/gorm"
)

// This file keeps the gateway's idempotency records (the Idempotency-Key
// header, draft-ietf-httpapi-idempotency-key-header; rule R10): the first
// request with a key claims it (pending), its answer is saved (done) and
// replayed to every retry until the record expires. The store decides only
// what must hold under concurrency: one claim per unexpired key. What the
// gateway answers (a replay, a conflict while pending, an error for another
// request hash) is the gateway's.

// Idempotency record states.
const (
	IdempotencyPending = "pending" // the first request is running
	IdempotencyDone    = "done"    // its answer is saved
)

// MaxIdempotencyKey is the longest idempotency key stored, in bytes.
const MaxIdempotencyKey = 128

type idempotencyRow struct {
	Principal   string `gorm:"column:principal;primaryKey"`
	Key         string `gorm:"column:idem_key;primaryKey"`
	RequestHash string `gorm:"column:request_hash"`
	State       string `gorm:"column:state"`
	Status      int    `gorm:"column:status"`
	Headers     string `gorm:"column:headers"`
	Body        []byte `gorm:"column:body"`
	CreatedAt   int64  `gorm:"column:created_at"`
	ExpiresAt   int64  `gorm:"column:expires_at"`
}

func (idempotencyRow) TableName() string { return "api_idempotency" }

// IdempotencyRecord is a stored idempotency key: whose it is (Principal: a
// user ID or an API-key ID), the key, the hex SHA-256 of the request that
// claimed it (method, route and body, as the gateway computes it), its
// state (IdempotencyPending or IdempotencyDone) and, once done, the answer
// to replay: status, a few response headers and the body. Times are kept
// to the second.
type IdempotencyRecord struct {
	Principal   string
	Key         string
	RequestHash string
	State       string
	Status      int
	Headers     map[string]string
	Body        []byte
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

func idempotencyFromRow(op string, r idempotencyRow) (IdempotencyRecord, error) {
	rec := IdempotencyRecord{Principal: r.Principal, Key: r.Key, RequestHash: r.RequestHash, State: r.State, Status: r.Status,
		CreatedAt: fromUnix(r.CreatedAt), ExpiresAt: fromUnix(r.ExpiresAt)}
	if len(r.Body) > 0 {
		rec.Body = r.Body
	}
	if err := json.Unmarshal([]byte(r.Headers), &rec.Headers); err != nil {
		return IdempotencyRecord{}, greenmint.E(greenmint.EINTERNAL, op, err, "the headers of idempotency key %q do not decode", r.Key)
	}
	return rec, nil
}

func encodeHeaders(op string, h map[string]string) (string, error) {
	if h == nil {
		return "{}", nil
	}
	raw, err := json.Marshal(h)
	if err != nil {
		return "", greenmint.E(greenmint.EINTERNAL, op, err, "cannot encode the headers")
	}
	return string(raw), nil
}

// BeginIdempotent claims rec's key for its principal: it stores rec as
// pending (its State, Status, Headers and Body are ignored) when no
// unexpired record has the same principal and key, replacing one that
// expired before rec.CreatedAt, and returns begun true (existing is then
// the zero record). Otherwise it stores nothing and returns the existing
// record with begun false: pending while its request runs, done with the
// answer to replay. Of concurrent calls with one principal and key exactly
// one begins: the claim is one INSERT … ON CONFLICT DO UPDATE … WHERE
// (expired), which PostgreSQL and SQLite apply atomically. A record without
// principal, request hash or times, a key empty or longer than
// MaxIdempotencyKey bytes, or one that expires before it is created is
// invalid.
func (db *DB) BeginIdempotent(ctx context.Context, rec IdempotencyRecord) (existing IdempotencyRecord, begun bool, err error) {
	const op = "store.BeginIdempotent"
	switch {
	case rec.Principal == "" || rec.RequestHash == "":
		return IdempotencyRecord{}, false, greenmint.Errorf(greenmint.EINVALID, "%s: an idempotency record needs a principal and a request hash", op)
	case rec.Key == "" || len(rec.Key) > MaxIdempotencyKey:
		return IdempotencyRecord{}, false, greenmint.Errorf(greenmint.EINVALID, "%s: an idempotency key has 1 to %d bytes", op, MaxIdempotencyKey)
	case rec.CreatedAt.IsZero() || !rec.ExpiresAt.After(rec.CreatedAt):
		return IdempotencyRecord{}, false, greenmint.Errorf(greenmint.EINVALID, "%s: an idempotency record needs a creation time and a later expiry", op)
	}
	err = db.gdb.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// On PostgreSQL a conflicting row is locked even when the WHERE
		// keeps it: nobody deletes it before the SELECT below reads it.
		res := tx.Exec(`INSERT INTO api_idempotency (principal, idem_key, request_hash, state, status, headers, body, created_at, expires_at)
VALUES (?, ?, ?, ?, 0, '{}', ?, ?, ?)
ON CONFLICT (principal, idem_key) DO UPDATE SET request_hash = excluded.request_hash, state = excluded.state, status = 0,
  headers = '{}', body = excluded.body, created_at = excluded.created_at, expires_at = excluded.expires_at
WHERE api_idempotency.expires_at < excluded.created_at`,
			rec.Principal, rec.Key, rec.RequestHash, IdempotencyPending, []byte{}, unix(rec.CreatedAt), unix(rec.ExpiresAt))
		if res.Error != nil {
			return translate(op, res.Error)
		}
		if res.RowsAffected > 0 {
			begun = true
			return nil
		}
		var rows []idempotencyRow
		if err := tx.Where("principal = ? AND idem_key = ?", rec.Principal, rec.Key).Limit(1).Find(&rows).Error; err != nil {
			return translate(op, err)
		}
		if len(rows) == 0 {
			return greenmint.Errorf(greenmint.EINTERNAL, "%s: idempotency key %q neither claimed nor found", op, rec.Key)
		}
		existing, err = idempotencyFromRow(op, rows[0])
		return err
	})
	if err != nil {
		return IdempotencyRecord{}, false, err
	}
	return existing, begun, nil
}

// CompleteIdempotent saves the answer of the request that claimed a key
// (status, headers, body) and marks its record done. No record is
// not_found; a record done already is a conflict and keeps its answer.
func (db *DB) CompleteIdempotent(ctx context.Context, principal, key string, status int, headers map[string]string, body []byte) error {
	const op = "store.CompleteIdempotent"
	h, err := encodeHeaders(op, headers)
	if err != nil {
		return err
	}
	if body == nil {
		body = []byte{}
	}
	res := db.gdb.WithContext(ctx).Model(&idempotencyRow{}).Where("principal = ? AND idem_key = ? AND state = ?", principal, key, IdempotencyPending).
		Updates(map[string]any{"state": IdempotencyDone, "status": status, "headers": h, "body": body})
	if res.Error != nil {
		return translate(op, res.Error)
	}
	if res.RowsAffected == 0 {
		return db.idempotencyMiss(ctx, op, principal, key)
	}
	return nil
}

// AbandonIdempotent deletes the pending record of a key, so that the
// client may retry with it (after an answer not worth replaying: 5xx,
// 429). No record is not_found; a done record is a conflict and is kept.
func (db *DB) AbandonIdempotent(ctx context.Context, principal, key string) error {
	const op = "store.AbandonIdempotent"
	res := db.gdb.WithContext(ctx).Where("principal = ? AND idem_key = ? AND state = ?", principal, key, IdempotencyPending).Delete(&idempotencyRow{})
	if res.Error != nil {
		return translate(op, res.Error)
	}
	if res.RowsAffected == 0 {
		return db.idempotencyMiss(ctx, op, principal, key)
	}
	return nil
}

// idempotencyMiss says why a key's pending record was not there: not_found
// when there is no record, a conflict when it is done.
func (db *DB) idempotencyMiss(ctx context.Context, op, principal, key string) error {
	var n int64
	if err := db.gdb.WithContext(ctx).Model(&idempotencyRow{}).Where("principal = ? AND idem_key = ?", principal, key).Count(&n).Error; err != nil {
		return translate(op, err)
	}
	if n == 0 {
		return &greenmint.Error{Code: greenmint.ENOTFOUND, Op: op, Message: "no such idempotency key"}
	}
	return &greenmint.Error{Code: greenmint.ECONFLICT, Op: op, Message: "the idempotency key's answer is saved already"}
}

// PurgeIdempotent deletes every record that expired before the given time,
// pending or done, and returns how many it deleted.
func (db *DB) PurgeIdempotent(ctx context.Context, before time.Time) (int64, error) {
	res := db.gdb.WithContext(ctx).Where("expires_at < ?", before.Unix()).Delete(&idempotencyRow{})
	return res.RowsAffected, translate("store.PurgeIdempotent", res.Error)
}
