package workspace

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/auth"
	"github.com/greenmint/greenmint/internal/store"
	"github.com/greenmint/greenmint/keyring"
	"github.com/greenmint/greenmint/oracle"
	"github.com/greenmint/greenmint/readmodel"
)

// Audience is the audience (aud) of the gateway's access tokens.
const Audience = "greenmint-api"

// authKEKInfo is the HKDF info that derives auth's key-encryption key from
// a configured KEK (docs/auth.md, "KEK handling").
const authKEKInfo = "greenmint/auth/signing-keys/v1"

// AuthKEK derives from a configured key-encryption key the 32-byte key
// that seals auth's token signing keys: HKDF-SHA256 of the KEK with no
// salt and the info "greenmint/auth/signing-keys/v1". The keyring seals
// users' ledger identities under the KEK itself; the derivation keeps the
// two uses of one configured secret apart (one key, one purpose).
func AuthKEK(k keyring.KEK) ([]byte, error) {
	key, err := hkdf.Key(sha256.New, k.Key, nil, authKEKInfo, keyring.KEKSize)
	if err != nil {
		return nil, greenmint.E(greenmint.EINTERNAL, "workspace.AuthKEK", err, "key-encryption key %q", k.ID)
	}
	return key, nil
}

// ServiceOptions configure Services.
type ServiceOptions struct {
	// DB is the one database of the gateway: users, API keys, ledger
	// identities, the read model, idempotency records and, with the
	// in-process oracle, its readings and attestations. Migrated already
	// (Config.OpenStore).
	DB *store.DB
	// PublicURL is the gateway's public URL: the access tokens' issuer.
	PublicURL string
	// KEKs are the configured key-encryption keys (keyring.ParseKEKs),
	// the current one first; the others open what was sealed before a
	// rotation, which Services completes (docs/keyring.md).
	KEKs []keyring.KEK
	// CA issues and revokes users' ledger identities (the keyring's CA):
	// e.g. the organisations' Fabric CAs (fabricca, docs/fabric-ca.md).
	// Nil: the consortium's own CAs (the workspace's identity.Store).
	CA keyring.CA
	// InProcessOracle runs the consortium's first oracle (oracle A) in
	// this process: its ingestion and its submitter, with as many of the
	// workspace's other oracles co-signing locally as the policy needs.
	InProcessOracle bool
	// PasswordParams are the argon2id parameters of new password hashes;
	// nil: auth.DefaultPasswordParams.
	PasswordParams *argon2id.Params
	Log            *slog.Logger
	Now            func() time.Time
}

// Services are the gateway's parts over a workspace, built by Services:
// auth, the keyring, the read model's projector and, optionally, the
// in-process oracle. Their database is the caller's to close.
type Services struct {
	DB        *store.DB
	Auth      *auth.Service
	Keyring   *keyring.Keyring
	Projector *readmodel.Projector
	// Ingester, Submitter and OracleID are the in-process oracle's; nil
	// and empty without one.
	Ingester  *oracle.Ingester
	Submitter *oracle.Submitter
	OracleID  string
	// RetiredSigningKeys are the token signing keys a KEK rotation retired
	// at start: DropRetiredSigningKeys removes them once the access tokens
	// they signed have expired.
	RetiredSigningKeys []string
	// DropAfter is how long DropRetiredSigningKeys waits: the access
	// tokens' lifetime (auth.DefaultAccessTTL) plus auth.Leeway.
	DropAfter time.Duration
	log       *slog.Logger
}

// Services builds the gateway's parts over w: auth (issuer the public URL,
// audience Audience, the registry's organisation the only one whose users
// may hold the registry role, signing keys sealed under AuthKEK of the
// current KEK), the keyring (users' ledger identities issued by opts.CA or
// the consortium's CAs, sealed under the current KEK), the read model's
// projector (not running: the caller runs it) and, if asked, the
// in-process oracle. With more than one KEK configured it completes a KEK
// rotation: identities still sealed under an older KEK are re-sealed under
// the current one, and auth's signing key is replaced by one sealed under
// it (docs/keyring.md).
func (w *Workspace) Services(ctx context.Context, opts ServiceOptions) (*Services, error) {
	const op = "workspace.Services"
	if opts.DB == nil || len(opts.KEKs) == 0 || opts.PublicURL == "" {
		return nil, greenmint.Errorf(greenmint.EINVALID, "%s: a database, a key-encryption key and a public URL are required", op)
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Services{DB: opts.DB, DropAfter: auth.DefaultAccessTTL + auth.Leeway, log: log}
	var ca keyring.CA = w.Consortium.Store
	if opts.CA != nil {
		ca = opts.CA
	}
	kr, err := keyring.New(opts.DB, ca, keyring.Options{KEKs: opts.KEKs, Now: opts.Now})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if len(opts.KEKs) > 1 {
		n, err := kr.Rotate(ctx, opts.KEKs[0])
		if err != nil {
			return nil, fmt.Errorf("%s: re-sealing ledger identities under key-encryption key %q: %w", op, opts.KEKs[0].ID, err)
		}
		if n > 0 {
			log.Info("key-encryption key rotation: ledger identities re-sealed", "kek", opts.KEKs[0].ID, "identities", n)
		}
	}
	s.Keyring = kr
	if err := s.openAuth(ctx, w, opts); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if s.Projector, err = readmodel.New(ctx, w.Ledger, opts.DB); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if opts.InProcessOracle {
		if err := s.openOracle(w, opts.DB); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
	}
	return s, nil
}

// openAuth makes the auth service. With previous KEKs configured, it first
// tries the current KEK alone: if it opens every signing key, nothing is
// left to rotate. Otherwise the previous KEKs open the old keys, a new
// signing key sealed under the current KEK becomes current, and the old
// ones are retired (RetiredSigningKeys), to be dropped when the tokens
// they signed have expired.
func (s *Services) openAuth(ctx context.Context, w *Workspace, opts ServiceOptions) error {
	current, err := AuthKEK(opts.KEKs[0])
	if err != nil {
		return err
	}
	cfg := auth.Config{Issuer: opts.PublicURL, Audience: Audience, KEK: current, RegistryOrg: w.File().RegistryMSP(),
		PasswordParams: opts.PasswordParams, Now: opts.Now}
	if len(opts.KEKs) == 1 {
		s.Auth, err = auth.New(ctx, s.DB, cfg)
		return err
	}
	if s.Auth, err = auth.New(ctx, s.DB, cfg); err == nil {
		return nil
	} else if greenmint.ErrorCode(err) != greenmint.EINTERNAL {
		return err
	}
	for _, k := range opts.KEKs[1:] {
		prev, err := AuthKEK(k)
		if err != nil {
			return err
		}
		cfg.PreviousKEKs = append(cfg.PreviousKEKs, prev)
	}
	if s.Auth, err = auth.New(ctx, s.DB, cfg); err != nil {
		return err
	}
	kid, err := s.Auth.RotateKey(ctx)
	if err != nil {
		return err
	}
	keys, err := s.DB.SigningKeys(ctx)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if k.KID != kid {
			s.RetiredSigningKeys = append(s.RetiredSigningKeys, k.KID)
		}
	}
	s.log.Info("key-encryption key rotation: a new token signing key is sealed under the current key-encryption key; the old ones verify until their tokens expire",
		"kek", opts.KEKs[0].ID, "kid", kid, "retired", len(s.RetiredSigningKeys))
	return nil
}

// DropRetiredSigningKeys waits until the access tokens signed by the keys
// a KEK rotation retired have expired (DropAfter), then drops those keys, so that nothing sealed under an old
// KEK is left. It returns at once when there is nothing to drop, and early
// (dropping nothing) when ctx ends; the next start takes it up again.
func (s *Services) DropRetiredSigningKeys(ctx context.Context) error {
	if len(s.RetiredSigningKeys) == 0 {
		return nil
	}
	t := time.NewTimer(s.DropAfter)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return nil
	case <-t.C:
	}
	for _, kid := range s.RetiredSigningKeys {
		if err := s.Auth.DropKey(ctx, kid); err != nil && greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
			return fmt.Errorf("workspace.DropRetiredSigningKeys: %w", err)
		}
	}
	s.log.Info("key-encryption key rotation complete: no token signing key is sealed under a previous key-encryption key; remove them from the configuration", "dropped", len(s.RetiredSigningKeys))
	s.RetiredSigningKeys = nil
	return nil
}

// SigningKeysEvery is how often FollowSigningKeys reads the token signing
// keys again.
const SigningKeysEvery = 30 * time.Second

// FollowSigningKeys reads auth's token signing keys from the database
// every interval until ctx ends, so that in a replica the keys another
// replica made verify the tokens it signed, and the newest one signs here
// too: a KEK rotation completed by the first replica restarted with the
// new KEK (each replica restarted in turn may make one more), or two
// first starts at once. A read that fails (a key sealed under a KEK this
// replica is not given) keeps the keys in memory and is logged.
func (s *Services) FollowSigningKeys(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.Auth.Reload(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("the token signing keys in the database cannot be read; keeping those in memory (give every replica the same key-encryption keys)", "err", err)
		}
	}
}

// openOracle makes the consortium's first oracle whose key this workspace
// holds the in-process oracle: ingestion of readings checked against the
// ledger's meters, and attestation with local co-signers (Submitter).
func (s *Services) openOracle(w *Workspace, db *store.DB) error {
	signers, err := w.Oracles()
	if err != nil {
		return err
	}
	if len(signers) == 0 {
		return greenmint.Errorf(greenmint.ENOTFOUND, "the in-process oracle needs an oracle key of the consortium, and this workspace holds none (run it with the oracle remote)")
	}
	a := signers[0]
	s.Ingester = oracle.NewIngester(db, &oracle.LedgerMeters{Ledger: w.Ledger, ID: a.ID, TTL: 30 * time.Second}, nil)
	if s.Submitter, err = w.Submitter(db, a.MSPID+":"+a.User); err != nil {
		return err
	}
	s.OracleID = a.OracleID
	return nil
}
