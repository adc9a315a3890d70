package store

import (
	"context"
	"strings"
	"time"

	"github.com/greenmint/greenmint"
	"gorm.io/gorm"
)

// This file persists who is who (package auth): users, invitations,
// access-token signing keys, refresh tokens and API keys. It stores what
// auth gives it and enforces only what must hold under concurrency
// (unique logins, an invitation accepted once, a refresh token used once);
// the rules (roles, expiry, who may do what) are auth's.

// unix turns a time into the Unix seconds stored; the zero time is 0.
func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// fromUnix turns stored Unix seconds back into a time; 0 is the zero time.
func fromUnix(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(s, 0).UTC()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

type userRow struct {
	ID           string `gorm:"column:id;primaryKey"`
	Login        string `gorm:"column:login"`
	Org          string `gorm:"column:org"`
	Role         string `gorm:"column:role"`
	Admin        int    `gorm:"column:admin"`
	PasswordHash string `gorm:"column:password_hash"`
	CreatedAt    int64  `gorm:"column:created_at"`
}

func (userRow) TableName() string { return "users" }

// User is a stored user: an organisation's (MSP ID) member with one role,
// possibly its admin, and the argon2id hash of its password.
type User struct {
	ID           string
	Login        string
	Org          string
	Role         string
	Admin        bool
	PasswordHash string
	CreatedAt    time.Time
}

func userToRow(u User) userRow {
	return userRow{ID: u.ID, Login: u.Login, Org: u.Org, Role: u.Role, Admin: boolInt(u.Admin), PasswordHash: u.PasswordHash, CreatedAt: unix(u.CreatedAt)}
}

func userFromRow(r userRow) User {
	return User{ID: r.ID, Login: r.Login, Org: r.Org, Role: r.Role, Admin: r.Admin != 0, PasswordHash: r.PasswordHash, CreatedAt: fromUnix(r.CreatedAt)}
}

// CreateUser stores a new user. A login or ID stored already is a
// conflict.
func (db *DB) CreateUser(ctx context.Context, u User) error {
	if u.ID == "" || u.Login == "" || u.Org == "" || u.Role == "" || u.PasswordHash == "" {
		return greenmint.Errorf(greenmint.EINVALID, "store.CreateUser: a user needs an ID, a login, an organisation, a role and a password hash")
	}
	row := userToRow(u)
	return translate("store.CreateUser", db.gdb.WithContext(ctx).Create(&row).Error)
}

// UserByID returns the user with this ID; an unknown ID is not_found.
func (db *DB) UserByID(ctx context.Context, id string) (User, error) {
	return db.user(ctx, "store.UserByID", "id = ?", id)
}

// UserByLogin returns the user with this login; an unknown login is
// not_found.
func (db *DB) UserByLogin(ctx context.Context, login string) (User, error) {
	return db.user(ctx, "store.UserByLogin", "login = ?", login)
}

func (db *DB) user(ctx context.Context, op, where, arg string) (User, error) {
	var rows []userRow
	if err := db.gdb.WithContext(ctx).Where(where, arg).Limit(1).Find(&rows).Error; err != nil {
		return User{}, translate(op, err)
	}
	if len(rows) == 0 {
		return User{}, &greenmint.Error{Code: greenmint.ENOTFOUND, Op: op, Message: "no such user"}
	}
	return userFromRow(rows[0]), nil
}

// UsersByOrg returns the users of an organisation (MSP ID) in login
// order; none for an organisation without users.
func (db *DB) UsersByOrg(ctx context.Context, org string) ([]User, error) {
	var rows []userRow
	if err := db.gdb.WithContext(ctx).Where("org = ?", org).Order("login").Find(&rows).Error; err != nil {
		return nil, translate("store.UsersByOrg", err)
	}
	out := make([]User, len(rows))
	for i, r := range rows {
		out[i] = userFromRow(r)
	}
	return out, nil
}

// SetUserRole sets a user's role and admin flag; an unknown ID is
// not_found.
func (db *DB) SetUserRole(ctx context.Context, id, role string, admin bool) error {
	res := db.gdb.WithContext(ctx).Model(&userRow{}).Where("id = ?", id).Updates(map[string]any{"role": role, "admin": boolInt(admin)})
	if res.Error != nil {
		return translate("store.SetUserRole", res.Error)
	}
	if res.RowsAffected == 0 {
		return &greenmint.Error{Code: greenmint.ENOTFOUND, Op: "store.SetUserRole", Message: "no such user"}
	}
	return nil
}

// SetUserPassword replaces a user's password hash; an unknown ID is
// not_found.
func (db *DB) SetUserPassword(ctx context.Context, id, passwordHash string) error {
	res := db.gdb.WithContext(ctx).Model(&userRow{}).Where("id = ?", id).Update("password_hash", passwordHash)
	if res.Error != nil {
		return translate("store.SetUserPassword", res.Error)
	}
	if res.RowsAffected == 0 {
		return &greenmint.Error{Code: greenmint.ENOTFOUND, Op: "store.SetUserPassword", Message: "no such user"}
	}
	return nil
}

type invitationRow struct {
	SecretHash string `gorm:"column:secret_hash;primaryKey"`
	Login      string `gorm:"column:login"`
	Org        string `gorm:"column:org"`
	Role       string `gorm:"column:role"`
	Admin      int    `gorm:"column:admin"`
	InvitedBy  string `gorm:"column:invited_by"`
	CreatedAt  int64  `gorm:"column:created_at"`
	ExpiresAt  int64  `gorm:"column:expires_at"`
	AcceptedAt int64  `gorm:"column:accepted_at"`
}

func (invitationRow) TableName() string { return "invitations" }

// Invitation is a stored invitation: the hash of its secret, the user it
// will create and by whom, until when it can be accepted and when it was
// (zero while not accepted).
type Invitation struct {
	SecretHash string
	Login      string
	Org        string
	Role       string
	Admin      bool
	InvitedBy  string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	AcceptedAt time.Time
}

// SaveInvitation stores a new invitation; a secret hash stored already is
// a conflict.
func (db *DB) SaveInvitation(ctx context.Context, inv Invitation) error {
	if inv.SecretHash == "" || inv.Login == "" || inv.Org == "" || inv.Role == "" || inv.InvitedBy == "" {
		return greenmint.Errorf(greenmint.EINVALID, "store.SaveInvitation: an invitation needs a secret hash, a login, an organisation, a role and its inviter")
	}
	row := invitationRow{SecretHash: inv.SecretHash, Login: inv.Login, Org: inv.Org, Role: inv.Role, Admin: boolInt(inv.Admin),
		InvitedBy: inv.InvitedBy, CreatedAt: unix(inv.CreatedAt), ExpiresAt: unix(inv.ExpiresAt)}
	return translate("store.SaveInvitation", db.gdb.WithContext(ctx).Create(&row).Error)
}

// InvitationByHash returns the invitation whose secret has this hash; an
// unknown hash is not_found.
func (db *DB) InvitationByHash(ctx context.Context, secretHash string) (Invitation, error) {
	var rows []invitationRow
	if err := db.gdb.WithContext(ctx).Where("secret_hash = ?", secretHash).Limit(1).Find(&rows).Error; err != nil {
		return Invitation{}, translate("store.InvitationByHash", err)
	}
	if len(rows) == 0 {
		return Invitation{}, &greenmint.Error{Code: greenmint.ENOTFOUND, Op: "store.InvitationByHash", Message: "no such invitation"}
	}
	r := rows[0]
	return Invitation{SecretHash: r.SecretHash, Login: r.Login, Org: r.Org, Role: r.Role, Admin: r.Admin != 0, InvitedBy: r.InvitedBy,
		CreatedAt: fromUnix(r.CreatedAt), ExpiresAt: fromUnix(r.ExpiresAt), AcceptedAt: fromUnix(r.AcceptedAt)}, nil
}

// AcceptInvitation marks the invitation accepted at now and creates the
// user u, in one transaction: an invitation accepted already (also by a
// concurrent call) or expired by now is a conflict, an unknown one
// not_found, and a login taken meanwhile a conflict that accepts nothing.
func (db *DB) AcceptInvitation(ctx context.Context, secretHash string, now time.Time, u User) error {
	const op = "store.AcceptInvitation"
	return db.gdb.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&invitationRow{}).Where("secret_hash = ? AND accepted_at = 0 AND expires_at > ?", secretHash, now.Unix()).
			Update("accepted_at", max(now.Unix(), 1))
		if res.Error != nil {
			return translate(op, res.Error)
		}
		if res.RowsAffected == 0 {
			// Inside the transaction: SQLite has one connection.
			var n int64
			if err := tx.Model(&invitationRow{}).Where("secret_hash = ?", secretHash).Count(&n).Error; err != nil {
				return translate(op, err)
			}
			if n == 0 {
				return &greenmint.Error{Code: greenmint.ENOTFOUND, Op: op, Message: "no such invitation"}
			}
			return &greenmint.Error{Code: greenmint.ECONFLICT, Op: op, Message: "the invitation was accepted already or has expired"}
		}
		row := userToRow(u)
		return translate(op, tx.Create(&row).Error)
	})
}

type signingKeyRow struct {
	KID       string `gorm:"column:kid;primaryKey"`
	Sealed    []byte `gorm:"column:sealed"`
	CreatedAt int64  `gorm:"column:created_at"`
	RetiredAt int64  `gorm:"column:retired_at"`
}

func (signingKeyRow) TableName() string { return "signing_keys" }

// SigningKey is a stored access-token signing key: its key ID, its
// private key sealed by auth (never stored in the clear), when it was made
// and when it was retired (zero for the current key).
type SigningKey struct {
	KID       string
	Sealed    []byte
	CreatedAt time.Time
	RetiredAt time.Time
}

// AddSigningKey stores k as the current signing key and retires, at k's
// creation time, the key that was current, in one transaction. A key ID
// stored already is a conflict.
func (db *DB) AddSigningKey(ctx context.Context, k SigningKey) error {
	const op = "store.AddSigningKey"
	if k.KID == "" || len(k.Sealed) == 0 {
		return greenmint.Errorf(greenmint.EINVALID, "%s: a signing key needs a key ID and its sealed private key", op)
	}
	return db.gdb.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Model(&signingKeyRow{}).Where("retired_at = 0").Update("retired_at", max(k.CreatedAt.Unix(), 1)).Error; err != nil {
			return translate(op, err)
		}
		row := signingKeyRow{KID: k.KID, Sealed: k.Sealed, CreatedAt: unix(k.CreatedAt)}
		return translate(op, tx.Create(&row).Error)
	})
}

// SigningKeys returns every stored signing key, newest first.
func (db *DB) SigningKeys(ctx context.Context) ([]SigningKey, error) {
	var rows []signingKeyRow
	if err := db.gdb.WithContext(ctx).Order("created_at DESC, retired_at, kid").Find(&rows).Error; err != nil {
		return nil, translate("store.SigningKeys", err)
	}
	out := make([]SigningKey, len(rows))
	for i, r := range rows {
		out[i] = SigningKey{KID: r.KID, Sealed: r.Sealed, CreatedAt: fromUnix(r.CreatedAt), RetiredAt: fromUnix(r.RetiredAt)}
	}
	return out, nil
}

// DeleteSigningKey drops a retired signing key; the current key is a
// conflict, an unknown key ID not_found.
func (db *DB) DeleteSigningKey(ctx context.Context, kid string) error {
	const op = "store.DeleteSigningKey"
	res := db.gdb.WithContext(ctx).Where("kid = ? AND retired_at <> 0", kid).Delete(&signingKeyRow{})
	if res.Error != nil {
		return translate(op, res.Error)
	}
	if res.RowsAffected == 0 {
		var n int64
		if err := db.gdb.WithContext(ctx).Model(&signingKeyRow{}).Where("kid = ?", kid).Count(&n).Error; err != nil {
			return translate(op, err)
		}
		if n == 0 {
			return &greenmint.Error{Code: greenmint.ENOTFOUND, Op: op, Message: "no such signing key"}
		}
		return &greenmint.Error{Code: greenmint.ECONFLICT, Op: op, Message: "the current signing key cannot be dropped; rotate first"}
	}
	return nil
}

type refreshTokenRow struct {
	TokenHash string `gorm:"column:token_hash;primaryKey"`
	Family    string `gorm:"column:family"`
	UserID    string `gorm:"column:user_id"`
	IssuedAt  int64  `gorm:"column:issued_at"`
	ExpiresAt int64  `gorm:"column:expires_at"`
	UsedAt    int64  `gorm:"column:used_at"`
	RevokedAt int64  `gorm:"column:revoked_at"`
}

func (refreshTokenRow) TableName() string { return "refresh_tokens" }

// RefreshToken is a stored refresh token: the hash of the opaque token,
// its family (one login's chain of rotations), its user, the family's
// absolute expiry, and when it was used (rotated) or revoked (zero if not).
type RefreshToken struct {
	TokenHash string
	Family    string
	UserID    string
	IssuedAt  time.Time
	ExpiresAt time.Time
	UsedAt    time.Time
	RevokedAt time.Time
}

func refreshToRow(t RefreshToken) refreshTokenRow {
	return refreshTokenRow{TokenHash: t.TokenHash, Family: t.Family, UserID: t.UserID, IssuedAt: unix(t.IssuedAt), ExpiresAt: unix(t.ExpiresAt)}
}

// SaveRefreshToken stores a new, unused refresh token (the first of its
// family); a hash stored already is a conflict.
func (db *DB) SaveRefreshToken(ctx context.Context, t RefreshToken) error {
	if t.TokenHash == "" || t.Family == "" || t.UserID == "" {
		return greenmint.Errorf(greenmint.EINVALID, "store.SaveRefreshToken: a refresh token needs a hash, a family and a user")
	}
	row := refreshToRow(t)
	return translate("store.SaveRefreshToken", db.gdb.WithContext(ctx).Create(&row).Error)
}

// RefreshTokenByHash returns the refresh token with this hash; an unknown
// hash is not_found.
func (db *DB) RefreshTokenByHash(ctx context.Context, tokenHash string) (RefreshToken, error) {
	var rows []refreshTokenRow
	if err := db.gdb.WithContext(ctx).Where("token_hash = ?", tokenHash).Limit(1).Find(&rows).Error; err != nil {
		return RefreshToken{}, translate("store.RefreshTokenByHash", err)
	}
	if len(rows) == 0 {
		return RefreshToken{}, &greenmint.Error{Code: greenmint.ENOTFOUND, Op: "store.RefreshTokenByHash", Message: "no such refresh token"}
	}
	r := rows[0]
	return RefreshToken{TokenHash: r.TokenHash, Family: r.Family, UserID: r.UserID, IssuedAt: fromUnix(r.IssuedAt), ExpiresAt: fromUnix(r.ExpiresAt),
		UsedAt: fromUnix(r.UsedAt), RevokedAt: fromUnix(r.RevokedAt)}, nil
}

// RotateRefreshToken marks the token with oldHash used at now and stores
// next, in one transaction. Only an unused, unrevoked token rotates: one
// used or revoked already (also by a concurrent call) is a conflict and
// stores nothing.
func (db *DB) RotateRefreshToken(ctx context.Context, oldHash string, now time.Time, next RefreshToken) error {
	const op = "store.RotateRefreshToken"
	return db.gdb.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&refreshTokenRow{}).Where("token_hash = ? AND used_at = 0 AND revoked_at = 0", oldHash).Update("used_at", max(now.Unix(), 1))
		if res.Error != nil {
			return translate(op, res.Error)
		}
		if res.RowsAffected == 0 {
			return &greenmint.Error{Code: greenmint.ECONFLICT, Op: op, Message: "the refresh token was used or revoked already"}
		}
		row := refreshToRow(next)
		return translate(op, tx.Create(&row).Error)
	})
}

// RevokeRefreshFamily revokes, at now, every refresh token of a family
// not revoked yet. An unknown family changes nothing.
func (db *DB) RevokeRefreshFamily(ctx context.Context, family string, now time.Time) error {
	err := db.gdb.WithContext(ctx).Model(&refreshTokenRow{}).Where("family = ? AND revoked_at = 0", family).Update("revoked_at", max(now.Unix(), 1)).Error
	return translate("store.RevokeRefreshFamily", err)
}

type apiKeyRow struct {
	ID         string `gorm:"column:id;primaryKey"`
	SecretHash string `gorm:"column:secret_hash"`
	Org        string `gorm:"column:org"`
	Name       string `gorm:"column:name"`
	Scopes     string `gorm:"column:scopes"`
	CreatedBy  string `gorm:"column:created_by"`
	CreatedAt  int64  `gorm:"column:created_at"`
	RevokedAt  int64  `gorm:"column:revoked_at"`
	LastUsedAt int64  `gorm:"column:last_used_at"`
}

func (apiKeyRow) TableName() string { return "api_keys" }

// APIKey is a stored API key of a machine: its ID, the hash of its secret,
// its organisation, name and scopes, who created it and when, when it was
// revoked and last used (zero if never).
type APIKey struct {
	ID         string
	SecretHash string
	Org        string
	Name       string
	Scopes     []string
	CreatedBy  string
	CreatedAt  time.Time
	RevokedAt  time.Time
	LastUsedAt time.Time
}

// SaveAPIKey stores a new API key; an ID stored already is a conflict.
func (db *DB) SaveAPIKey(ctx context.Context, k APIKey) error {
	if k.ID == "" || k.SecretHash == "" || k.Org == "" || k.CreatedBy == "" {
		return greenmint.Errorf(greenmint.EINVALID, "store.SaveAPIKey: an API key needs an ID, a secret hash, an organisation and its creator")
	}
	row := apiKeyRow{ID: k.ID, SecretHash: k.SecretHash, Org: k.Org, Name: k.Name, Scopes: strings.Join(k.Scopes, " "), CreatedBy: k.CreatedBy, CreatedAt: unix(k.CreatedAt)}
	return translate("store.SaveAPIKey", db.gdb.WithContext(ctx).Create(&row).Error)
}

func apiKeyFromRow(r apiKeyRow) APIKey {
	return APIKey{ID: r.ID, SecretHash: r.SecretHash, Org: r.Org, Name: r.Name, Scopes: strings.Fields(r.Scopes), CreatedBy: r.CreatedBy,
		CreatedAt: fromUnix(r.CreatedAt), RevokedAt: fromUnix(r.RevokedAt), LastUsedAt: fromUnix(r.LastUsedAt)}
}

// APIKeyByID returns the API key with this ID; an unknown ID is not_found.
func (db *DB) APIKeyByID(ctx context.Context, id string) (APIKey, error) {
	var rows []apiKeyRow
	if err := db.gdb.WithContext(ctx).Where("id = ?", id).Limit(1).Find(&rows).Error; err != nil {
		return APIKey{}, translate("store.APIKeyByID", err)
	}
	if len(rows) == 0 {
		return APIKey{}, &greenmint.Error{Code: greenmint.ENOTFOUND, Op: "store.APIKeyByID", Message: "no such API key"}
	}
	return apiKeyFromRow(rows[0]), nil
}

// APIKeysByOrg returns the API keys of an organisation (MSP ID), revoked
// ones too, oldest first; none for an organisation without keys.
func (db *DB) APIKeysByOrg(ctx context.Context, org string) ([]APIKey, error) {
	var rows []apiKeyRow
	if err := db.gdb.WithContext(ctx).Where("org = ?", org).Order("created_at, id").Find(&rows).Error; err != nil {
		return nil, translate("store.APIKeysByOrg", err)
	}
	out := make([]APIKey, len(rows))
	for i, r := range rows {
		out[i] = apiKeyFromRow(r)
	}
	return out, nil
}

// RevokeAPIKey revokes an API key from now on; revoking again keeps the
// first time, an unknown ID is not_found.
func (db *DB) RevokeAPIKey(ctx context.Context, id string, now time.Time) error {
	res := db.gdb.WithContext(ctx).Model(&apiKeyRow{}).Where("id = ? AND revoked_at = 0", id).Update("revoked_at", max(now.Unix(), 1))
	if res.Error != nil {
		return translate("store.RevokeAPIKey", res.Error)
	}
	if res.RowsAffected == 0 {
		_, err := db.APIKeyByID(ctx, id)
		return err
	}
	return nil
}

// TouchAPIKey records that an API key was used at now, unless its last
// recorded use is less than every ago (the write is throttled).
func (db *DB) TouchAPIKey(ctx context.Context, id string, now time.Time, every time.Duration) error {
	err := db.gdb.WithContext(ctx).Model(&apiKeyRow{}).Where("id = ? AND last_used_at <= ?", id, now.Add(-every).Unix()).Update("last_used_at", max(now.Unix(), 1)).Error
	return translate("store.TouchAPIKey", err)
}
