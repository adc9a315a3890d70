package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/store"
)

// Defaults of Config.
const (
	DefaultAccessTTL     = 10 * time.Minute
	DefaultRefreshTTL    = 30 * 24 * time.Hour
	DefaultInvitationTTL = 7 * 24 * time.Hour
	DefaultAPIKeyTouch   = time.Minute
	// Leeway is the clock skew allowed on an access token's exp, nbf and iat.
	Leeway = 30 * time.Second
)

// Password limits: a password has MinPasswordLen to MaxPasswordLen bytes
// (the upper bound keeps one login from costing more than one hash).
const (
	MinPasswordLen = 12
	MaxPasswordLen = 256
)

// DefaultPasswordParams are the argon2id parameters of new password
// hashes: 64 MiB of memory, one pass, two lanes, a 16-byte salt and a
// 32-byte key (argon2id.DefaultParams with the lanes fixed, not the
// machine's CPU count). Every hash carries its own parameters, so raising
// them later keeps old hashes verifiable.
var DefaultPasswordParams = argon2id.Params{Memory: 64 * 1024, Iterations: 1, Parallelism: 2, SaltLength: 16, KeyLength: 32}

// Config is what a Service needs. Issuer, Audience and KEK are required;
// zero durations take the defaults above.
type Config struct {
	Issuer   string // the access tokens' iss, e.g. the gateway's URL
	Audience string // the access tokens' aud, e.g. "greenmint-api"
	// KEK is the 32-byte key-encryption key that seals the signing keys
	// (AES-256-GCM). PreviousKEKs still open keys sealed before a KEK
	// rotation (docs/auth.md); new keys are always sealed under KEK.
	KEK          []byte
	PreviousKEKs [][]byte
	// RegistryOrg, when set, is the only organisation (MSP ID) whose users
	// may hold the registry role.
	RegistryOrg   string
	AccessTTL     time.Duration
	RefreshTTL    time.Duration // a refresh family's absolute lifetime from login
	InvitationTTL time.Duration // an invitation's lifetime when the admin gives none
	APIKeyTouch   time.Duration // at most one last-use write per API key per APIKeyTouch
	// PasswordParams are the argon2id parameters of new hashes; nil means
	// DefaultPasswordParams.
	PasswordParams *argon2id.Params
	Now            func() time.Time // nil means time.Now
}

// Service authenticates users and machines over a store.DB. It is safe
// for concurrent use.
type Service struct {
	db        *store.DB
	cfg       Config
	dummyHash string // compared against for unknown logins, so they cost one hash too

	mu   sync.RWMutex
	keys keySet

	touchMu sync.Mutex
	touched map[string]time.Time // API key ID → last recorded use
}

// New returns a Service over db, loading its signing keys and making the
// first one if there is none. A KEK that is not 32 bytes, or stored keys
// no configured KEK opens, are refused.
func New(ctx context.Context, db *store.DB, cfg Config) (*Service, error) {
	const op = "auth.New"
	if cfg.Issuer == "" || cfg.Audience == "" {
		return nil, greenmint.Errorf(greenmint.EINVALID, "%s: an issuer and an audience are required", op)
	}
	for _, k := range append([][]byte{cfg.KEK}, cfg.PreviousKEKs...) {
		if len(k) != 32 {
			return nil, greenmint.Errorf(greenmint.EINVALID, "%s: a key-encryption key has %d bytes, want 32 (AES-256)", op, len(k))
		}
	}
	if cfg.AccessTTL <= 0 {
		cfg.AccessTTL = DefaultAccessTTL
	}
	if cfg.RefreshTTL <= 0 {
		cfg.RefreshTTL = DefaultRefreshTTL
	}
	if cfg.InvitationTTL <= 0 {
		cfg.InvitationTTL = DefaultInvitationTTL
	}
	if cfg.APIKeyTouch <= 0 {
		cfg.APIKeyTouch = DefaultAPIKeyTouch
	}
	if cfg.PasswordParams == nil {
		p := DefaultPasswordParams
		cfg.PasswordParams = &p
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Service{db: db, cfg: cfg, touched: map[string]time.Time{}}
	secret, err := newSecret()
	if err != nil {
		return nil, greenmint.E(greenmint.EINTERNAL, op, err, "")
	}
	if s.dummyHash, err = argon2id.CreateHash(secret, cfg.PasswordParams); err != nil {
		return nil, greenmint.E(greenmint.EINTERNAL, op, err, "hash")
	}
	if err := s.Reload(ctx); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if s.currentKID() == "" {
		if _, err := s.RotateKey(ctx); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
	}
	return s, nil
}

// User is a user as auth tells it: never its password hash.
type User struct {
	ID        string
	Login     string
	Org       string // the organisation's MSP ID
	Role      greenmint.Role
	Admin     bool // the organisation's admin: invites users, sets roles, makes API keys
	CreatedAt time.Time
}

func userFromStore(u store.User) User {
	return User{ID: u.ID, Login: u.Login, Org: u.Org, Role: greenmint.Role(u.Role), Admin: u.Admin, CreatedAt: u.CreatedAt}
}

// NewUser is what CreateUser needs.
type NewUser struct {
	Login    string
	Org      string
	Role     greenmint.Role
	Admin    bool
	Password string
}

// CreateUser creates a user directly, without an invitation: the
// operator's path (seeding an organisation's first admin). A taken login
// is a conflict.
func (s *Service) CreateUser(ctx context.Context, nu NewUser) (User, error) {
	const op = "auth.CreateUser"
	if err := checkLogin(nu.Login); err != nil {
		return User{}, fmt.Errorf("%s: %w", op, err)
	}
	if err := checkOrg(nu.Org); err != nil {
		return User{}, fmt.Errorf("%s: %w", op, err)
	}
	if err := s.checkRole(nu.Org, nu.Role); err != nil {
		return User{}, fmt.Errorf("%s: %w", op, err)
	}
	hash, err := s.hashPassword(nu.Password)
	if err != nil {
		return User{}, fmt.Errorf("%s: %w", op, err)
	}
	id, err := newID("usr")
	if err != nil {
		return User{}, greenmint.E(greenmint.EINTERNAL, op, err, "")
	}
	su := store.User{ID: id, Login: nu.Login, Org: nu.Org, Role: string(nu.Role), Admin: nu.Admin, PasswordHash: hash, CreatedAt: s.now()}
	if err := s.db.CreateUser(ctx, su); err != nil {
		return User{}, greenmint.E("", op, err, "login %q", nu.Login)
	}
	return userFromStore(su), nil
}

// User returns the user with this ID; an unknown ID is not_found.
func (s *Service) User(ctx context.Context, id string) (User, error) {
	u, err := s.db.UserByID(ctx, id)
	if err != nil {
		return User{}, fmt.Errorf("auth.User: %w", err)
	}
	return userFromStore(u), nil
}

// errLogin is the one failure of a login, whatever failed: the caller
// cannot tell an unknown login from a wrong password.
func errLogin(op string) error {
	return greenmint.Errorf(greenmint.EUNAUTHENTICATED, "%s: wrong login or password", op)
}

// Authenticate returns the user whose login and password these are. An
// unknown login costs one argon2id hash like a known one and fails with
// the same unauthenticated error as a wrong password.
func (s *Service) Authenticate(ctx context.Context, login, password string) (User, error) {
	const op = "auth.Authenticate"
	if len(password) > MaxPasswordLen {
		return User{}, errLogin(op)
	}
	u, err := s.db.UserByLogin(ctx, login)
	if greenmint.ErrorCode(err) == greenmint.ENOTFOUND {
		_, _ = argon2id.ComparePasswordAndHash(password, s.dummyHash)
		return User{}, errLogin(op)
	}
	if err != nil {
		return User{}, fmt.Errorf("%s: %w", op, err)
	}
	ok, err := argon2id.ComparePasswordAndHash(password, u.PasswordHash)
	if err != nil {
		return User{}, greenmint.E(greenmint.EINTERNAL, op, err, "the stored hash of %s", u.ID)
	}
	if !ok {
		return User{}, errLogin(op)
	}
	return userFromStore(u), nil
}

// ChangePassword sets a user's password after checking the current one.
func (s *Service) ChangePassword(ctx context.Context, userID, current, next string) error {
	const op = "auth.ChangePassword"
	u, err := s.db.UserByID(ctx, userID)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if ok, err := argon2id.ComparePasswordAndHash(current, u.PasswordHash); err != nil || !ok {
		return errLogin(op)
	}
	hash, err := s.hashPassword(next)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := s.db.SetUserPassword(ctx, userID, hash); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// admin returns the acting user when it is an organisation's admin;
// anyone else is forbidden, an unknown actor unauthenticated.
func (s *Service) admin(ctx context.Context, op, actorID string) (User, error) {
	a, err := s.db.UserByID(ctx, actorID)
	if greenmint.ErrorCode(err) == greenmint.ENOTFOUND {
		return User{}, greenmint.Errorf(greenmint.EUNAUTHENTICATED, "%s: no user %q", op, actorID)
	}
	if err != nil {
		return User{}, fmt.Errorf("%s: %w", op, err)
	}
	if !a.Admin {
		return User{}, greenmint.Errorf(greenmint.EFORBIDDEN, "%s: %s is not an admin of %s", op, a.Login, a.Org)
	}
	return userFromStore(a), nil
}

// ListUsers returns the users of the admin actorID's own organisation, in
// login order and without their password hashes. A non-admin is
// forbidden, an unknown actor unauthenticated; no admin sees another
// organisation's users.
func (s *Service) ListUsers(ctx context.Context, actorID string) ([]User, error) {
	const op = "auth.ListUsers"
	a, err := s.admin(ctx, op, actorID)
	if err != nil {
		return nil, err
	}
	us, err := s.db.UsersByOrg(ctx, a.Org)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	out := make([]User, len(us))
	for i, u := range us {
		out[i] = userFromStore(u)
	}
	return out, nil
}

// SetRole sets a user's role and admin flag. Only an admin of the user's
// own organisation may (forbidden otherwise), and an admin cannot take
// their own admin flag away (the organisation would be left without one).
// The change shows in the user's next access token (at the latest after
// AccessTTL: tokens already issued keep their claims).
func (s *Service) SetRole(ctx context.Context, actorID, userID string, role greenmint.Role, admin bool) error {
	const op = "auth.SetRole"
	a, err := s.admin(ctx, op, actorID)
	if err != nil {
		return err
	}
	u, err := s.db.UserByID(ctx, userID)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if u.Org != a.Org {
		return greenmint.Errorf(greenmint.EFORBIDDEN, "%s: %s is an admin of %s, not of %s", op, a.Login, a.Org, u.Org)
	}
	if u.ID == a.ID && !admin {
		return greenmint.Errorf(greenmint.EINVALID, "%s: an admin cannot take their own admin flag away", op)
	}
	if err := s.checkRole(u.Org, role); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := s.db.SetUserRole(ctx, userID, string(role), admin); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

func (s *Service) hashPassword(password string) (string, error) {
	if len(password) < MinPasswordLen || len(password) > MaxPasswordLen {
		return "", greenmint.Errorf(greenmint.EINVALID, "a password has %d to %d bytes, this one %d", MinPasswordLen, MaxPasswordLen, len(password))
	}
	h, err := argon2id.CreateHash(password, s.cfg.PasswordParams)
	if err != nil {
		return "", greenmint.E(greenmint.EINTERNAL, "auth.hashPassword", err, "")
	}
	return h, nil
}

// checkRole refuses a role outside DOMAIN.md's, and the registry role
// outside Config.RegistryOrg when that is set.
func (s *Service) checkRole(org string, r greenmint.Role) error {
	switch r {
	case greenmint.RoleRegistry:
		if s.cfg.RegistryOrg != "" && org != s.cfg.RegistryOrg {
			return greenmint.Errorf(greenmint.EFORBIDDEN, "only users of %s may hold the registry role, not of %s", s.cfg.RegistryOrg, org)
		}
		return nil
	case greenmint.RoleMiner, greenmint.RoleOracle, greenmint.RoleAuditor, greenmint.RoleBuyer:
		return nil
	}
	return greenmint.Errorf(greenmint.EINVALID, "role %q is not one of registry, miner, oracle, auditor, buyer", r)
}

// checkLogin accepts 3 to 64 of a-z, 0-9, '.', '_', '-' and '@'.
func checkLogin(login string) error {
	if len(login) < 3 || len(login) > 64 {
		return greenmint.Errorf(greenmint.EINVALID, "a login has 3 to 64 characters, %q has %d", login, len(login))
	}
	for _, c := range login {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' || c == '@') {
			return greenmint.Errorf(greenmint.EINVALID, "login %q: %q is not one of a-z, 0-9, '.', '_', '-', '@'", login, c)
		}
	}
	return nil
}

// checkOrg accepts an MSP ID: 1 to 64 of A-Z, a-z, 0-9, '.' and '-'.
func checkOrg(org string) error {
	if org == "" || len(org) > 64 {
		return greenmint.Errorf(greenmint.EINVALID, "an organisation (MSP ID) has 1 to 64 characters, %q has %d", org, len(org))
	}
	for _, c := range org {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return greenmint.Errorf(greenmint.EINVALID, "organisation %q: %q is not one of A-Z, a-z, 0-9, '.', '-'", org, c)
		}
	}
	return nil
}

// newSecret returns 256 random bits, base64url without padding.
func newSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// newID returns prefix_ and 96 random bits in hex.
func newID(prefix string) (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return prefix + "_" + hex.EncodeToString(b), nil
}

// hashSecret is the stored form of a high-entropy secret: hex SHA-256 (a
// slow hash adds nothing to 256 random bits).
func hashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}
