package api

import (
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"
	"github.com/greenmint/greenmint"
)

// TokenConfig says which JWTs the service accepts: HS256 with the secret,
// issued by Issuer for Audience.
type TokenConfig struct {
	Secret   []byte
	Issuer   string
	Audience string
	Now      func() time.Time
}

// Claims are a collector's or meter's token claims; Subject names it.
type Claims struct {
	jwt.RegisteredClaims
}

// IssueToken makes a token for subject valid for ttl (operators hand these
// to collectors).
func (tc TokenConfig) IssueToken(subject string, ttl time.Duration) (string, error) {
	now := time.Now()
	if tc.Now != nil {
		now = tc.Now()
	}
	claims := Claims{jwt.RegisteredClaims{
		Issuer: tc.Issuer, Audience: jwt.ClaimStrings{tc.Audience}, Subject: subject,
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(tc.Secret)
}

// authenticate admits requests with a valid bearer token.
func authenticate(tc TokenConfig) gin.HandlerFunc {
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(tc.Issuer), jwt.WithAudience(tc.Audience), jwt.WithExpirationRequired(),
	}
	if tc.Now != nil {
		opts = append(opts, jwt.WithTimeFunc(tc.Now))
	}
	parser := jwt.NewParser(opts...)
	return func(c *gin.Context) {
		raw, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
		if !ok || raw == "" {
			fail(c, greenmint.Errorf(greenmint.EUNAUTHENTICATED, "a bearer token is required"))
			return
		}
		var claims Claims
		if _, err := parser.ParseWithClaims(raw, &claims, func(*jwt.Token) (any, error) { return tc.Secret, nil }); err != nil {
			fail(c, greenmint.Errorf(greenmint.EUNAUTHENTICATED, "token refused: %v", err))
			return
		}
		c.Set("subject", claims.Subject)
		c.Next()
	}
}
