package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"
	"github.com/greenmint/greenmint"
)

// Token kinds: a route admits tokens of one kind only.
const (
	KindCollector  = "collector"   // a meter collector: POST /v1/readings
	KindPeerOracle = "peer-oracle" // another oracle asking for a co-signature: POST /v1/cosign
)

// Token limits used when a TokenConfig leaves them zero.
const (
	DefaultMaxTokenLifetime = 90 * 24 * time.Hour // the longest exp − iat issued or accepted
	DefaultTokenLeeway      = 30 * time.Second    // the clock skew allowed on iat, nbf and exp
	DefaultRevocationTTL    = 5 * time.Second     // how long a token's revocation status is cached
	minSecretBytes          = 32
	maxCachedTokens         = 10_000
)

// subjectPattern is what a token's subject may be: it is printed in
// listings and logs.
var subjectPattern = regexp.MustCompile(`^[A-Za-z0-9._:@-]{1,64}$`)

// TokenStore keeps the tokens an oracle issued and their revocations.
// *store.DB implements it.
type TokenStore interface {
	// SaveToken records an issued token (never the token itself).
	SaveToken(ctx context.Context, id, kind, subject string, issuedAt, expiresAt time.Time) error
	// TokenRevoked reports whether a token was revoked; not_found if it
	// was never issued.
	TokenRevoked(ctx context.Context, id string) (bool, error)
}

// TokenConfig says which JWTs the service accepts: HS256 with the secret,
// issued by Issuer for Audience, with an ID (jti) recorded in Store and not
// revoked, an issue time (iat) not in the future and a lifetime (exp − iat)
// of at most MaxLifetime.
type TokenConfig struct {
	Secret        []byte
	Issuer        string
	Audience      string
	Store         TokenStore
	MaxLifetime   time.Duration // default DefaultMaxTokenLifetime
	Leeway        time.Duration // default DefaultTokenLeeway
	RevocationTTL time.Duration // default DefaultRevocationTTL; negative: every request asks Store
	Now           func() time.Time
}

func (tc TokenConfig) now() time.Time {
	if tc.Now != nil {
		return tc.Now()
	}
	return time.Now()
}

func (tc TokenConfig) maxLifetime() time.Duration {
	if tc.MaxLifetime > 0 {
		return tc.MaxLifetime
	}
	return DefaultMaxTokenLifetime
}

func (tc TokenConfig) leeway() time.Duration {
	if tc.Leeway > 0 {
		return tc.Leeway
	}
	return DefaultTokenLeeway
}

// check reports a configuration that can neither issue nor check tokens.
func (tc TokenConfig) check() error {
	if len(tc.Secret) < minSecretBytes {
		return greenmint.Errorf(greenmint.EINTERNAL, "the token secret has %d bytes; at least %d are needed", len(tc.Secret), minSecretBytes)
	}
	if tc.Issuer == "" || tc.Audience == "" {
		return greenmint.Errorf(greenmint.EINTERNAL, "the token issuer and audience must be set")
	}
	if tc.Store == nil {
		return greenmint.Errorf(greenmint.EINTERNAL, "no token store is configured")
	}
	return nil
}

// Claims are a token's claims: Subject names the collector or peer oracle,
// ID (jti) the token's record, Kind what it may do.
type Claims struct {
	jwt.RegisteredClaims
	Kind string `json:"kind"`
}

// Issued is a token just issued: the bearer token, shown once and never
// stored, and what its record holds.
type Issued struct {
	Token     string    `json:"token"`
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	Subject   string    `json:"subject"`
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Issue makes a token of kind for subject, valid for lifetime (at most
// MaxLifetime), and records it in Store before returning it.
func (tc TokenConfig) Issue(ctx context.Context, kind, subject string, lifetime time.Duration) (Issued, error) {
	if err := tc.check(); err != nil {
		return Issued{}, err
	}
	if kind != KindCollector && kind != KindPeerOracle {
		return Issued{}, greenmint.Errorf(greenmint.EINVALID, "token kind must be %s or %s, not %q", KindCollector, KindPeerOracle, kind)
	}
	if !subjectPattern.MatchString(subject) {
		return Issued{}, greenmint.Errorf(greenmint.EINVALID, "token subject must be 1 to 64 of A-Z a-z 0-9 . _ : @ -")
	}
	if lifetime <= 0 || lifetime > tc.maxLifetime() {
		return Issued{}, greenmint.Errorf(greenmint.EINVALID, "token lifetime must be positive and at most %s, not %s", tc.maxLifetime(), lifetime)
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return Issued{}, err
	}
	now := tc.now().Truncate(time.Second)
	is := Issued{ID: hex.EncodeToString(b), Kind: kind, Subject: subject, IssuedAt: now.UTC(), ExpiresAt: now.Add(lifetime).UTC()}
	claims := Claims{Kind: kind, RegisteredClaims: jwt.RegisteredClaims{
		ID: is.ID, Issuer: tc.Issuer, Audience: jwt.ClaimStrings{tc.Audience}, Subject: subject,
		IssuedAt: jwt.NewNumericDate(is.IssuedAt), NotBefore: jwt.NewNumericDate(is.IssuedAt), ExpiresAt: jwt.NewNumericDate(is.ExpiresAt),
	}}
	raw, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(tc.Secret)
	if err != nil {
		return Issued{}, greenmint.E(greenmint.EINTERNAL, "", err, "signing the token")
	}
	if err := tc.Store.SaveToken(ctx, is.ID, is.Kind, is.Subject, is.IssuedAt, is.ExpiresAt); err != nil {
		return Issued{}, err
	}
	is.Token = raw
	return is, nil
}

// InspectToken reads a token's claims without checking its signature: what
// an oracle holding a peer's token can know of it (its kind, subject and
// expiry) without the peer's secret. Never use it to admit a request.
func InspectToken(raw string) (Claims, error) {
	var c Claims
	if _, _, err := jwt.NewParser().ParseUnverified(raw, &c); err != nil {
		return Claims{}, greenmint.E(greenmint.EINVALID, "", err, "the token does not parse as a JWT")
	}
	return c, nil
}

// authenticator checks bearer tokens: the signature, issuer, audience,
// times and lifetime, the record in the store (revocations cached briefly)
// and the route's kind.
type authenticator struct {
	tc     TokenConfig
	parser *jwt.Parser
	err    error // the configuration's fault: every token is refused

	mu    sync.Mutex
	cache map[string]revocation // by token ID
}

type revocation struct {
	revoked bool
	until   time.Time
}

func newAuthenticator(tc TokenConfig) *authenticator {
	return &authenticator{
		tc: tc, err: tc.check(), cache: map[string]revocation{},
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithIssuer(tc.Issuer), jwt.WithAudience(tc.Audience),
			jwt.WithIssuedAt(), jwt.WithExpirationRequired(),
			jwt.WithLeeway(tc.leeway()), jwt.WithTimeFunc(tc.now),
		),
	}
}

// authenticate checks raw (the bearer token) and returns its claims; kind
// is the kind the route needs.
func (a *authenticator) authenticate(ctx context.Context, raw, kind string) (*Claims, error) {
	if a.err != nil {
		return nil, a.err
	}
	if raw == "" {
		return nil, greenmint.Errorf(greenmint.EUNAUTHENTICATED, "a bearer token is required")
	}
	var c Claims
	if _, err := a.parser.ParseWithClaims(raw, &c, func(*jwt.Token) (any, error) { return a.tc.Secret, nil }); err != nil {
		return nil, greenmint.E(greenmint.EUNAUTHENTICATED, "", err, "token refused")
	}
	switch {
	case c.ID == "":
		return nil, greenmint.Errorf(greenmint.EUNAUTHENTICATED, "token refused: it has no ID (jti)")
	case c.IssuedAt == nil:
		return nil, greenmint.Errorf(greenmint.EUNAUTHENTICATED, "token refused: it has no issue time (iat)")
	case c.ExpiresAt.Sub(c.IssuedAt.Time) > a.tc.maxLifetime():
		return nil, greenmint.Errorf(greenmint.EUNAUTHENTICATED, "token refused: its lifetime %s is longer than the maximum %s",
			c.ExpiresAt.Sub(c.IssuedAt.Time), a.tc.maxLifetime())
	case c.Kind != KindCollector && c.Kind != KindPeerOracle:
		return nil, greenmint.Errorf(greenmint.EUNAUTHENTICATED, "token refused: unknown kind %q", c.Kind)
	}
	revoked, err := a.revoked(ctx, c.ID)
	if greenmint.ErrorCode(err) == greenmint.ENOTFOUND {
		return nil, greenmint.Errorf(greenmint.EUNAUTHENTICATED, "token refused: this oracle has no record of token %s", c.ID)
	}
	if err != nil {
		return nil, greenmint.E(greenmint.EUNAVAILABLE, "", err, "checking the token")
	}
	if revoked {
		return nil, greenmint.Errorf(greenmint.EUNAUTHENTICATED, "token refused: token %s was revoked", c.ID)
	}
	if c.Kind != kind {
		return nil, greenmint.Errorf(greenmint.EFORBIDDEN, "a %s token may not be used here; this route needs a %s token", c.Kind, kind)
	}
	return &c, nil
}

// revoked asks the store whether token id was revoked, remembering the
// answer for RevocationTTL at most. Only tokens with a valid signature get
// here, and the cache holds at most maxCachedTokens answers.
func (a *authenticator) revoked(ctx context.Context, id string) (bool, error) {
	ttl := a.tc.RevocationTTL
	if ttl == 0 {
		ttl = DefaultRevocationTTL
	}
	now := time.Now()
	if ttl > 0 {
		a.mu.Lock()
		e, ok := a.cache[id]
		a.mu.Unlock()
		if ok && now.Before(e.until) {
			return e.revoked, nil
		}
	}
	revoked, err := a.tc.Store.TokenRevoked(ctx, id)
	if err != nil || ttl < 0 {
		return revoked, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.cache) >= maxCachedTokens {
		for k, e := range a.cache {
			if !now.Before(e.until) {
				delete(a.cache, k)
			}
		}
		if len(a.cache) >= maxCachedTokens {
			clear(a.cache)
		}
	}
	a.cache[id] = revocation{revoked: revoked, until: now.Add(ttl)}
	return revoked, nil
}

// require admits requests with a valid bearer token of kind, within its
// credential's rate limit; a request that does not authenticate counts
// against its address's limit instead. Answers are never cached.
func (a *authenticator) require(kind string, lim *limits) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Header("Cache-Control", "no-store")
		raw, _ := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
		claims, err := a.authenticate(c.Request.Context(), raw, kind)
		if err != nil {
			if code := greenmint.ErrorCode(err); code == greenmint.EUNAUTHENTICATED || code == greenmint.EFORBIDDEN {
				if wait, ok := lim.anonymous.allow(addressKey(c)); !ok {
					fail(c, tooMany(wait))
					return
				}
			}
			var ge *greenmint.Error
			if errors.As(err, &ge) && ge.Code == greenmint.EUNAUTHENTICATED {
				c.Header("WWW-Authenticate", `Bearer realm="greenmint-oracle"`)
			}
			fail(c, err)
			return
		}
		if wait, ok := lim.credential.allow(claims.ID); !ok {
			fail(c, tooMany(wait))
			return
		}
		c.Set("subject", claims.Subject)
		c.Set("token_id", claims.ID)
		c.Next()
	}
}
