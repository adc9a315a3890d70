package store

import (
	"context"
	"time"

	"github.com/greenmint/greenmint"
)

type tokenRow struct {
	ID        string `gorm:"column:id;primaryKey"`
	Kind      string `gorm:"column:kind"`
	Subject   string `gorm:"column:subject"`
	IssuedAt  int64  `gorm:"column:issued_at"`
	ExpiresAt int64  `gorm:"column:expires_at"`
	RevokedAt int64  `gorm:"column:revoked_at"`
}

func (tokenRow) TableName() string { return "tokens" }

// Token is the record of a bearer token the oracle issued: its ID (the
// JWT's jti), kind, subject and lifetime. The token itself is never stored.
type Token struct {
	ID        string
	Kind      string
	Subject   string
	IssuedAt  time.Time
	ExpiresAt time.Time
	RevokedAt time.Time // zero while not revoked
}

func tokenFromRow(r tokenRow) Token {
	t := Token{ID: r.ID, Kind: r.Kind, Subject: r.Subject, IssuedAt: time.Unix(r.IssuedAt, 0).UTC(), ExpiresAt: time.Unix(r.ExpiresAt, 0).UTC()}
	if r.RevokedAt != 0 {
		t.RevokedAt = time.Unix(r.RevokedAt, 0).UTC()
	}
	return t
}

// SaveToken records an issued token. An ID stored already is a conflict.
func (db *DB) SaveToken(ctx context.Context, id, kind, subject string, issuedAt, expiresAt time.Time) error {
	if id == "" || kind == "" || subject == "" {
		return greenmint.Errorf(greenmint.EINVALID, "a token record needs an ID, a kind and a subject")
	}
	row := tokenRow{ID: id, Kind: kind, Subject: subject, IssuedAt: issuedAt.Unix(), ExpiresAt: expiresAt.Unix()}
	return translate("store.SaveToken", db.gdb.WithContext(ctx).Create(&row).Error)
}

// TokenRevoked reports whether the token with this ID was revoked; a token
// never issued (no record) is not_found.
func (db *DB) TokenRevoked(ctx context.Context, id string) (bool, error) {
	var rows []tokenRow
	if err := db.gdb.WithContext(ctx).Where("id = ?", id).Limit(1).Find(&rows).Error; err != nil {
		return false, translate("store.TokenRevoked", err)
	}
	if len(rows) == 0 {
		return false, greenmint.Errorf(greenmint.ENOTFOUND, "no token %q was issued", id)
	}
	return rows[0].RevokedAt != 0, nil
}

// RevokeToken revokes the token with this ID from now on. Revoking a
// revoked token again changes nothing; an unknown ID is not_found.
func (db *DB) RevokeToken(ctx context.Context, id string, now time.Time) error {
	res := db.gdb.WithContext(ctx).Model(&tokenRow{}).Where("id = ? AND revoked_at = 0", id).Update("revoked_at", max(now.Unix(), 1))
	if res.Error != nil {
		return translate("store.RevokeToken", res.Error)
	}
	if res.RowsAffected == 0 {
		if _, err := db.TokenRevoked(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// Tokens returns every issued token's record, oldest first.
func (db *DB) Tokens(ctx context.Context) ([]Token, error) {
	var rows []tokenRow
	if err := db.gdb.WithContext(ctx).Order("issued_at, id").Find(&rows).Error; err != nil {
		return nil, translate("store.Tokens", err)
	}
	out := make([]Token, len(rows))
	for i, r := range rows {
		out[i] = tokenFromRow(r)
	}
	return out, nil
}
