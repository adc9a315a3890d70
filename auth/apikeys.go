package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/store"
)

// API-key scopes: what a machine's key may be used for. The gateway maps
// each route to the scope it needs; the contract still checks the
// organisation's role on every ledger write.
const (
	ScopeReadingsWrite     = "readings:write"     // a collector sends signed meter readings
	ScopeReadingsRead      = "readings:read"      // read readings and hourly matching
	ScopeAttestationsWrite = "attestations:write" // an oracle builds, co-signs and submits attestations
	ScopeLedgerRead        = "ledger:read"        // read sites, meters, batches, holdings, events
	ScopeCertificatesWrite = "certificates:write" // transfer and retire certificates
	ScopeMarketWrite       = "market:write"       // list, reserve and confirm on the marketplace
)

// Scopes returns every scope an API key may carry, sorted.
func Scopes() []string {
	s := []string{ScopeReadingsWrite, ScopeReadingsRead, ScopeAttestationsWrite, ScopeLedgerRead, ScopeCertificatesWrite, ScopeMarketWrite}
	slices.Sort(s)
	return s
}

// apiKeyPrefix starts every API key: gm_<id>_<secret>.
const apiKeyPrefix = "gm_"

// APIKey is a machine's API key as auth tells it, without its secret.
type APIKey struct {
	ID         string
	Org        string // the organisation (MSP ID) it acts for
	Name       string
	Scopes     []string // sorted
	CreatedBy  string   // the admin's user ID
	CreatedAt  time.Time
	RevokedAt  time.Time // zero while valid
	LastUsedAt time.Time // zero if never used; recorded at most once per Config.APIKeyTouch
}

// HasScope reports whether the key carries scope.
func (k APIKey) HasScope(scope string) bool { return slices.Contains(k.Scopes, scope) }

func apiKeyFromStore(k store.APIKey) APIKey {
	return APIKey{ID: k.ID, Org: k.Org, Name: k.Name, Scopes: k.Scopes, CreatedBy: k.CreatedBy, CreatedAt: k.CreatedAt, RevokedAt: k.RevokedAt, LastUsedAt: k.LastUsedAt}
}

// CreateAPIKey makes an API key for the admin actorID's organisation with
// a name (1 to 100 bytes) and one or more scopes of Scopes(), and returns
// it as gm_<id>_<secret>, shown this once (only the secret's SHA-256 is
// stored). A non-admin is forbidden, an unknown scope invalid.
func (s *Service) CreateAPIKey(ctx context.Context, actorID, name string, scopes []string) (string, APIKey, error) {
	const op = "auth.CreateAPIKey"
	a, err := s.admin(ctx, op, actorID)
	if err != nil {
		return "", APIKey{}, err
	}
	if name == "" || len(name) > 100 {
		return "", APIKey{}, greenmint.Errorf(greenmint.EINVALID, "%s: a name has 1 to 100 bytes, not %d", op, len(name))
	}
	if len(scopes) == 0 {
		return "", APIKey{}, greenmint.Errorf(greenmint.EINVALID, "%s: an API key needs at least one of the scopes %v", op, Scopes())
	}
	known := Scopes()
	var sc []string
	for _, x := range scopes {
		if !slices.Contains(known, x) {
			return "", APIKey{}, greenmint.Errorf(greenmint.EINVALID, "%s: scope %q is not one of %v", op, x, known)
		}
		sc = append(sc, x)
	}
	slices.Sort(sc)
	sc = slices.Compact(sc)
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", APIKey{}, greenmint.E(greenmint.EINTERNAL, op, err, "random")
	}
	id := hex.EncodeToString(b)
	secret, err := newSecret()
	if err != nil {
		return "", APIKey{}, greenmint.E(greenmint.EINTERNAL, op, err, "")
	}
	sk := store.APIKey{ID: id, SecretHash: hashSecret(secret), Org: a.Org, Name: name, Scopes: sc, CreatedBy: a.ID, CreatedAt: s.now()}
	if err := s.db.SaveAPIKey(ctx, sk); err != nil {
		return "", APIKey{}, fmt.Errorf("%s: %w", op, err)
	}
	k := apiKeyFromStore(sk)
	k.CreatedAt = k.CreatedAt.Truncate(time.Second)
	return apiKeyPrefix + id + "_" + secret, k, nil
}

// errAPIKey is the one failure of an API key that does not hold: the
// caller cannot tell an unknown ID from a wrong secret or a revoked key.
func errAPIKey(op string) error {
	return greenmint.Errorf(greenmint.EUNAUTHENTICATED, "%s: the API key is not valid", op)
}

// VerifyAPIKey returns the API key whose gm_<id>_<secret> this is, and
// records its use (at most one write per key per Config.APIKeyTouch). A
// malformed, unknown, wrong-secret or revoked key is unauthenticated,
// with one message for all; the secret is compared in constant time.
func (s *Service) VerifyAPIKey(ctx context.Context, key string) (APIKey, error) {
	const op = "auth.VerifyAPIKey"
	rest, ok := strings.CutPrefix(key, apiKeyPrefix)
	if !ok {
		return APIKey{}, errAPIKey(op)
	}
	id, secret, ok := strings.Cut(rest, "_")
	if !ok || len(id) != 24 || secret == "" {
		return APIKey{}, errAPIKey(op)
	}
	sk, err := s.db.APIKeyByID(ctx, id)
	if greenmint.ErrorCode(err) == greenmint.ENOTFOUND {
		return APIKey{}, errAPIKey(op)
	}
	if err != nil {
		return APIKey{}, fmt.Errorf("%s: %w", op, err)
	}
	if subtle.ConstantTimeCompare([]byte(hashSecret(secret)), []byte(sk.SecretHash)) != 1 || !sk.RevokedAt.IsZero() {
		return APIKey{}, errAPIKey(op)
	}
	now := s.now()
	if s.shouldTouch(id, now) {
		if err := s.db.TouchAPIKey(ctx, id, now, s.cfg.APIKeyTouch); err != nil {
			return APIKey{}, fmt.Errorf("%s: %w", op, err)
		}
		if sk.LastUsedAt.IsZero() || now.Sub(sk.LastUsedAt) >= s.cfg.APIKeyTouch {
			sk.LastUsedAt = now.Truncate(time.Second)
		}
	}
	return apiKeyFromStore(sk), nil
}

// shouldTouch reports whether this Service has not recorded a use of the
// key for APIKeyTouch, and notes now if so. The database's own condition
// (TouchAPIKey) throttles across several Services.
func (s *Service) shouldTouch(id string, now time.Time) bool {
	s.touchMu.Lock()
	defer s.touchMu.Unlock()
	if last, ok := s.touched[id]; ok && now.Sub(last) < s.cfg.APIKeyTouch {
		return false
	}
	s.touched[id] = now
	return true
}

// APIKey returns an API key by its ID, for an admin of its organisation
// (forbidden otherwise).
func (s *Service) APIKey(ctx context.Context, actorID, id string) (APIKey, error) {
	const op = "auth.APIKey"
	a, err := s.admin(ctx, op, actorID)
	if err != nil {
		return APIKey{}, err
	}
	sk, err := s.db.APIKeyByID(ctx, id)
	if err != nil {
		return APIKey{}, fmt.Errorf("%s: %w", op, err)
	}
	if sk.Org != a.Org {
		return APIKey{}, greenmint.Errorf(greenmint.EFORBIDDEN, "%s: %s is an admin of %s, not of %s", op, a.Login, a.Org, sk.Org)
	}
	return apiKeyFromStore(sk), nil
}

// ListAPIKeys returns the API keys of the admin actorID's own
// organisation, revoked ones too, oldest first, without their secrets (auth
// never has them) or their hashes. A non-admin is forbidden, an unknown
// actor unauthenticated; no admin sees another organisation's keys.
func (s *Service) ListAPIKeys(ctx context.Context, actorID string) ([]APIKey, error) {
	const op = "auth.ListAPIKeys"
	a, err := s.admin(ctx, op, actorID)
	if err != nil {
		return nil, err
	}
	ks, err := s.db.APIKeysByOrg(ctx, a.Org)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	out := make([]APIKey, len(ks))
	for i, k := range ks {
		out[i] = apiKeyFromStore(k)
	}
	return out, nil
}

// RevokeAPIKey revokes an API key at once, for an admin of its
// organisation (forbidden otherwise). Revoking again changes nothing; an
// unknown ID is not_found.
func (s *Service) RevokeAPIKey(ctx context.Context, actorID, id string) error {
	const op = "auth.RevokeAPIKey"
	if _, err := s.APIKey(ctx, actorID, id); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := s.db.RevokeAPIKey(ctx, id, s.now()); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}
