package auth

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/store"
)

// invitationPrefix starts every invitation secret, so that one pasted in
// the wrong place is recognised.
const invitationPrefix = "gmi_"

// MaxInvitationTTL bounds how long an invitation can wait to be accepted.
const MaxInvitationTTL = 30 * 24 * time.Hour

// Invite is what an admin's invitation says: the login, role and admin
// flag of the user it will create in the admin's organisation, and how
// long it can be accepted (zero: Config.InvitationTTL).
type Invite struct {
	Login string
	Role  greenmint.Role
	Admin bool
	TTL   time.Duration
}

// Invitation is an invitation as auth tells it, without its secret.
type Invitation struct {
	Login     string
	Org       string
	Role      greenmint.Role
	Admin     bool
	InvitedBy string // the admin's user ID
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Invite makes an invitation from the admin actorID into the admin's own
// organisation and returns its secret, shown this once (only its SHA-256
// is stored). A non-admin is forbidden; a login taken already is a
// conflict (checked again on acceptance).
func (s *Service) Invite(ctx context.Context, actorID string, in Invite) (string, Invitation, error) {
	const op = "auth.Invite"
	a, err := s.admin(ctx, op, actorID)
	if err != nil {
		return "", Invitation{}, err
	}
	if err := checkLogin(in.Login); err != nil {
		return "", Invitation{}, fmt.Errorf("%s: %w", op, err)
	}
	if err := s.checkRole(a.Org, in.Role); err != nil {
		return "", Invitation{}, fmt.Errorf("%s: %w", op, err)
	}
	ttl := in.TTL
	if ttl == 0 {
		ttl = s.cfg.InvitationTTL
	}
	if ttl < 0 || ttl > MaxInvitationTTL {
		return "", Invitation{}, greenmint.Errorf(greenmint.EINVALID, "%s: an invitation lasts up to %s, not %s", op, MaxInvitationTTL, ttl)
	}
	if _, err := s.db.UserByLogin(ctx, in.Login); err == nil {
		return "", Invitation{}, greenmint.Errorf(greenmint.ECONFLICT, "%s: login %q is taken", op, in.Login)
	} else if greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
		return "", Invitation{}, fmt.Errorf("%s: %w", op, err)
	}
	secret, err := newSecret()
	if err != nil {
		return "", Invitation{}, greenmint.E(greenmint.EINTERNAL, op, err, "")
	}
	secret = invitationPrefix + secret
	now := s.now()
	si := store.Invitation{SecretHash: hashSecret(secret), Login: in.Login, Org: a.Org, Role: string(in.Role), Admin: in.Admin,
		InvitedBy: a.ID, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if err := s.db.SaveInvitation(ctx, si); err != nil {
		return "", Invitation{}, fmt.Errorf("%s: %w", op, err)
	}
	return secret, Invitation{Login: in.Login, Org: a.Org, Role: in.Role, Admin: in.Admin, InvitedBy: a.ID,
		CreatedAt: si.CreatedAt, ExpiresAt: si.ExpiresAt.Truncate(time.Second)}, nil
}

// Accept accepts an invitation with the secret it was shown once, creating
// its user with this password. An unknown secret, an expired invitation
// and one accepted already (a replay) are unauthenticated and create
// nothing; a login taken meanwhile is a conflict.
func (s *Service) Accept(ctx context.Context, secret, password string) (User, error) {
	const op = "auth.Accept"
	if !strings.HasPrefix(secret, invitationPrefix) {
		return User{}, greenmint.Errorf(greenmint.EUNAUTHENTICATED, "%s: not an invitation secret", op)
	}
	h := hashSecret(secret)
	inv, err := s.db.InvitationByHash(ctx, h)
	if greenmint.ErrorCode(err) == greenmint.ENOTFOUND {
		return User{}, greenmint.Errorf(greenmint.EUNAUTHENTICATED, "%s: no such invitation", op)
	}
	if err != nil {
		return User{}, fmt.Errorf("%s: %w", op, err)
	}
	now := s.now()
	if !inv.AcceptedAt.IsZero() {
		return User{}, greenmint.Errorf(greenmint.EUNAUTHENTICATED, "%s: the invitation was accepted already", op)
	}
	if !now.Before(inv.ExpiresAt) {
		return User{}, greenmint.Errorf(greenmint.EUNAUTHENTICATED, "%s: the invitation expired at %s", op, inv.ExpiresAt.Format(time.RFC3339))
	}
	hash, err := s.hashPassword(password)
	if err != nil {
		return User{}, fmt.Errorf("%s: %w", op, err)
	}
	id, err := newID("usr")
	if err != nil {
		return User{}, greenmint.E(greenmint.EINTERNAL, op, err, "")
	}
	su := store.User{ID: id, Login: inv.Login, Org: inv.Org, Role: inv.Role, Admin: inv.Admin, PasswordHash: hash, CreatedAt: now}
	if err := s.db.AcceptInvitation(ctx, h, now, su); err != nil {
		return User{}, greenmint.E("", op, err, "login %q", inv.Login)
	}
	return userFromStore(su), nil
}
