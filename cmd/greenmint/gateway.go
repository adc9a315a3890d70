package main

import (
	"context"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
	"io/fs"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/api"
	"github.com/greenmint/greenmint/keyring"
	"github.com/greenmint/greenmint/statement"
	"github.com/greenmint/greenmint/webhook"
	"github.com/greenmint/greenmint/workspace"
)

// gatewayOptions configure buildGateway: the services' options and the
// HTTP API's limits.
type gatewayOptions struct {
	workspace.ServiceOptions
	Limits api.Limits
	// MaxBody bounds a request's body; zero takes the gateway's default.
	MaxBody int64
	// SecureCookies marks the web app's cookies Secure (behind TLS).
	SecureCookies bool
	// Web is the web app's built assets, served at /; nil: none.
	Web fs.FS
}

// servedGateway is the REST gateway over a workspace and the services it
// runs on. The caller runs the projector (Projector.Run) and the webhook sender
// (Sender.Run), each once per deployment (with replicas: in the one
// package leader elects, while the others run Projector.Follow), serves
// API.Handler() and closes the database.
type servedGateway struct {
	*workspace.Services
	API      *api.Gateway
	Webhooks *webhook.Service
	Sender   *webhook.Sender
}

// buildGateway builds the REST gateway over w: its Services (one database for
// everything, auth, the keyring, the projector, the in-process oracle if
// asked) and the API, whose registry is the consortium file's registry
// organisation.
func buildGateway(ctx context.Context, w *workspace.Workspace, opts gatewayOptions) (*servedGateway, error) {
	s, err := w.Services(ctx, opts.ServiceOptions)
	if err != nil {
		return nil, err
	}
	cfg := api.GatewayConfig{
		Ledger: w.Ledger, DB: s.DB, Auth: s.Auth, Keyring: s.Keyring, Projector: s.Projector, RegistryMSP: w.File().RegistryMSP(),
		Limits: opts.Limits, MaxBody: opts.MaxBody, SecureCookies: opts.SecureCookies, Web: opts.Web, Log: opts.Log, Now: opts.Now,
		PublicURL: opts.PublicURL,
	}
	for i, k := range opts.KEKs {
		sk, err := statementKey(k)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			cfg.StatementKey = &sk
		} else {
			cfg.PreviousStatementKeys = append(cfg.PreviousStatementKeys, sk)
		}
	}
	if s.Ingester != nil {
		cfg.Oracle = &api.GatewayOracle{Ingester: s.Ingester, Submitter: s.Submitter, DB: s.DB}
	}
	out := &servedGateway{Services: s}
	if len(opts.KEKs) > 0 {
		master, err := hkdf.Key(sha256.New, opts.KEKs[0].Key, nil, webhookKeyInfo, webhook.MasterKeySize)
		if err != nil {
			return nil, greenmint.E(greenmint.EINTERNAL, "greenmint serve", err, "webhook key")
		}
		if out.Webhooks, err = webhook.NewService(s.DB, webhook.ServiceConfig{MasterKey: master, Now: opts.Now}); err != nil {
			return nil, err
		}
		if out.Sender, err = webhook.NewSender(s.DB, webhook.Config{MasterKey: master, ReadsEverything: webhook.RegistryAndAuditors(s.DB, w.File().RegistryMSP()),
			Changed: s.Projector.Changed, Logger: opts.Log, Now: opts.Now}); err != nil {
			return nil, err
		}
		cfg.Webhooks = out.Webhooks
	}
	g, err := api.NewGateway(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("greenmint serve: %w", err)
	}
	out.API = g
	return out, nil
}

// webhookKeyInfo is the HKDF info that derives the webhook master key
// (subscriptions' secrets derive from it) from the current key-encryption
// key: rotating the KEK changes every subscription's secret
// (docs/webhooks.md).
const webhookKeyInfo = "greenmint webhook master key v1"

// statementKeyInfo is the HKDF info that derives the statement-signing
// key from a key-encryption key.
const statementKeyInfo = "greenmint retirement statement signing key v1"

// statementKey is the Ed25519 key that signs retirement statements' JSON,
// derived from a key-encryption key with HKDF-SHA256 (nothing more to keep
// secret); its kid names the KEK it comes from. A KEK rotation makes a new
// statement key; the old one stays published while its KEK is configured
// (docs/statement.md).
func statementKey(k keyring.KEK) (statement.Key, error) {
	seed, err := hkdf.Key(sha256.New, k.Key, nil, statementKeyInfo, ed25519.SeedSize)
	if err != nil {
		return statement.Key{}, greenmint.E(greenmint.EINTERNAL, "greenmint serve", err, "key-encryption key %q", k.ID)
	}
	return statement.Key{ID: "statement-" + k.ID, Private: ed25519.NewKeyFromSeed(seed)}, nil
}
