package auth

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/store"
)

// AccessTokenType is the `typ` header of every access token (RFC 9068).
const AccessTokenType = "at+jwt"

// refreshPrefix starts every refresh token.
const refreshPrefix = "gmr_"

// Claims are an access token's claims: the registered ones (iss, aud,
// sub: the user's ID, exp, nbf, iat, jti) and the user's organisation,
// role and admin flag at the time of issue.
type Claims struct {
	Org   string `json:"org"`
	Role  string `json:"role"`
	Admin bool   `json:"admin,omitempty"`
	jwt.RegisteredClaims
}

// IssueAccess returns a signed access token for u, valid from now for
// AccessTTL, and its claims.
func (s *Service) IssueAccess(u User) (string, *Claims, error) {
	const op = "auth.IssueAccess"
	jti, err := newID("at")
	if err != nil {
		return "", nil, greenmint.E(greenmint.EINTERNAL, op, err, "")
	}
	now := s.now().Truncate(time.Second)
	c := &Claims{Org: u.Org, Role: string(u.Role), Admin: u.Admin, RegisteredClaims: jwt.RegisteredClaims{
		Issuer: s.cfg.Issuer, Subject: u.ID, Audience: jwt.ClaimStrings{s.cfg.Audience},
		ExpiresAt: jwt.NewNumericDate(now.Add(s.cfg.AccessTTL)), NotBefore: jwt.NewNumericDate(now), IssuedAt: jwt.NewNumericDate(now), ID: jti,
	}}
	s.mu.RLock()
	kid, signer := s.keys.current, s.keys.signer
	s.mu.RUnlock()
	if kid == "" {
		return "", nil, greenmint.Errorf(greenmint.EUNAVAILABLE, "%s: no signing key", op)
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	t.Header["kid"] = kid
	t.Header["typ"] = AccessTokenType
	signed, err := t.SignedString(signer)
	if err != nil {
		return "", nil, greenmint.E(greenmint.EINTERNAL, op, err, "sign")
	}
	return signed, c, nil
}

// VerifyAccess returns the claims of a valid access token. It refuses,
// as unauthenticated: any algorithm but EdDSA (alg none, HS256 keyed with
// the public key, …), a `typ` other than at+jwt, a `kid` not in the key
// set, a bad signature, a wrong iss or aud, a missing or past exp, an nbf
// or iat in the future (each with a leeway of 30 s), and a token without
// sub, org, role or jti.
func (s *Service) VerifyAccess(token string) (*Claims, error) {
	const op = "auth.VerifyAccess"
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(s.cfg.Issuer),
		jwt.WithAudience(s.cfg.Audience),
		jwt.WithIssuedAt(),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(Leeway),
		jwt.WithTimeFunc(s.now),
	)
	var c Claims
	if _, err := p.ParseWithClaims(token, &c, s.verificationKey); err != nil {
		return nil, greenmint.E(greenmint.EUNAUTHENTICATED, op, err, "the access token is not valid")
	}
	if c.Subject == "" || c.Org == "" || c.Role == "" || c.ID == "" || c.IssuedAt == nil || c.NotBefore == nil {
		return nil, greenmint.Errorf(greenmint.EUNAUTHENTICATED, "%s: the access token lacks sub, org, role, jti, iat or nbf", op)
	}
	return &c, nil
}

// verificationKey is the parser's key function: the public key named by
// the token's kid, for an at+jwt token signed with EdDSA only.
func (s *Service) verificationKey(t *jwt.Token) (any, error) {
	if t.Method != jwt.SigningMethodEdDSA {
		return nil, fmt.Errorf("algorithm %v is not EdDSA", t.Header["alg"])
	}
	if typ, _ := t.Header["typ"].(string); typ != AccessTokenType {
		return nil, fmt.Errorf("typ %q is not %s", typ, AccessTokenType)
	}
	kid, _ := t.Header["kid"].(string)
	s.mu.RLock()
	key, ok := s.keys.public[kid]
	s.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("unknown kid %q", kid)
	}
	return ed25519.PublicKey(key), nil
}

// Session is what a login or a refresh returns: the user, a new access
// token and a new refresh token, each with its expiry. The refresh token
// is shown this once.
type Session struct {
	User             User
	AccessToken      string
	AccessExpiresAt  time.Time
	RefreshToken     string
	RefreshExpiresAt time.Time
}

// Login authenticates login and password (Authenticate) and starts a
// session: a new refresh family that lasts RefreshTTL from now.
func (s *Service) Login(ctx context.Context, login, password string) (Session, error) {
	u, err := s.Authenticate(ctx, login, password)
	if err != nil {
		return Session{}, fmt.Errorf("auth.Login: %w", err)
	}
	return s.StartSession(ctx, u)
}

// StartSession starts a session for a user authenticated otherwise: a new
// refresh family and an access token.
func (s *Service) StartSession(ctx context.Context, u User) (Session, error) {
	const op = "auth.StartSession"
	family, err := newID("fam")
	if err != nil {
		return Session{}, greenmint.E(greenmint.EINTERNAL, op, err, "")
	}
	refresh, err := newSecret()
	if err != nil {
		return Session{}, greenmint.E(greenmint.EINTERNAL, op, err, "")
	}
	refresh = refreshPrefix + refresh
	now := s.now()
	rt := store.RefreshToken{TokenHash: hashSecret(refresh), Family: family, UserID: u.ID, IssuedAt: now, ExpiresAt: now.Add(s.cfg.RefreshTTL)}
	if err := s.db.SaveRefreshToken(ctx, rt); err != nil {
		return Session{}, fmt.Errorf("%s: %w", op, err)
	}
	return s.session(u, refresh, rt.ExpiresAt)
}

func (s *Service) session(u User, refresh string, refreshExpires time.Time) (Session, error) {
	access, c, err := s.IssueAccess(u)
	if err != nil {
		return Session{}, err
	}
	return Session{User: u, AccessToken: access, AccessExpiresAt: c.ExpiresAt.Time, RefreshToken: refresh, RefreshExpiresAt: refreshExpires.Truncate(time.Second)}, nil
}

// errRefresh is the failure of a refresh token that does not hold.
func errRefresh(op, why string) error {
	return greenmint.Errorf(greenmint.EUNAUTHENTICATED, "%s: the refresh token %s", op, why)
}

// Refresh rotates a refresh token: it becomes used, and the returned
// session carries its successor in the same family (same absolute expiry)
// and a new access token with the user's current role. A token used
// already is a reuse (a stolen copy, or the thief's): the whole family is
// revoked, so neither the thief nor the user can go on without logging in
// again. Unknown, revoked, expired or reused tokens are unauthenticated.
func (s *Service) Refresh(ctx context.Context, token string) (Session, error) {
	const op = "auth.Refresh"
	h := hashSecret(token)
	rt, err := s.db.RefreshTokenByHash(ctx, h)
	if greenmint.ErrorCode(err) == greenmint.ENOTFOUND {
		return Session{}, errRefresh(op, "is unknown")
	}
	if err != nil {
		return Session{}, fmt.Errorf("%s: %w", op, err)
	}
	now := s.now()
	switch {
	case !rt.RevokedAt.IsZero():
		return Session{}, errRefresh(op, "was revoked")
	case !rt.UsedAt.IsZero():
		return Session{}, s.reused(ctx, op, rt.Family, now)
	case !now.Before(rt.ExpiresAt):
		return Session{}, errRefresh(op, "expired")
	}
	su, err := s.db.UserByID(ctx, rt.UserID)
	if greenmint.ErrorCode(err) == greenmint.ENOTFOUND {
		return Session{}, errRefresh(op, "belongs to no user")
	}
	if err != nil {
		return Session{}, fmt.Errorf("%s: %w", op, err)
	}
	next, err := newSecret()
	if err != nil {
		return Session{}, greenmint.E(greenmint.EINTERNAL, op, err, "")
	}
	next = refreshPrefix + next
	nrt := store.RefreshToken{TokenHash: hashSecret(next), Family: rt.Family, UserID: rt.UserID, IssuedAt: now, ExpiresAt: rt.ExpiresAt}
	if err := s.db.RotateRefreshToken(ctx, h, now, nrt); err != nil {
		if greenmint.ErrorCode(err) == greenmint.ECONFLICT {
			// Used (or revoked) by a concurrent call between the read and
			// the rotation: a reuse like any other.
			return Session{}, s.reused(ctx, op, rt.Family, now)
		}
		return Session{}, fmt.Errorf("%s: %w", op, err)
	}
	return s.session(userFromStore(su), next, nrt.ExpiresAt)
}

// reused revokes a family whose used token came back.
func (s *Service) reused(ctx context.Context, op, family string, now time.Time) error {
	if err := s.db.RevokeRefreshFamily(ctx, family, now); err != nil {
		return fmt.Errorf("%s: revoking the family of a reused refresh token: %w", op, err)
	}
	return errRefresh(op, "was used already: reuse detected, every token of its family is revoked")
}

// Logout revokes the family of a refresh token (every token of that
// login). Access tokens already issued stay valid until they expire
// (AccessTTL at most). An unknown token is unauthenticated.
func (s *Service) Logout(ctx context.Context, token string) error {
	const op = "auth.Logout"
	rt, err := s.db.RefreshTokenByHash(ctx, hashSecret(token))
	if greenmint.ErrorCode(err) == greenmint.ENOTFOUND {
		return errRefresh(op, "is unknown")
	}
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := s.db.RevokeRefreshFamily(ctx, rt.Family, s.now()); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}
