package workspace

import (
	"context"
	"fmt"
	"io/fs"

	"github.com/greenmint/greenmint/api"
)

// GatewayOptions configure Gateway: the services' options and the HTTP
// API's limits.
type GatewayOptions struct {
	ServiceOptions
	Limits api.Limits
	// MaxBody bounds a request's body; zero takes the gateway's default.
	MaxBody int64
	// SecureCookies marks the web app's cookies Secure (behind TLS).
	SecureCookies bool
	// Web is the web app's built assets, served at /; nil: none.
	Web fs.FS
}

// Gateway is the REST gateway over a workspace and the services it runs
// on. The caller runs the projector (Projector.Run), serves API.Handler()
// and closes the database.
type Gateway struct {
	*Services
	API *api.Gateway
}

// Gateway builds the REST gateway over w: its Services (one database for
// everything, auth, the keyring, the projector, the in-process oracle if
// asked) and the API, whose registry is the consortium file's registry
// organisation.
func (w *Workspace) Gateway(ctx context.Context, opts GatewayOptions) (*Gateway, error) {
	s, err := w.Services(ctx, opts.ServiceOptions)
	if err != nil {
		return nil, err
	}
	cfg := api.GatewayConfig{
		Ledger: w.Ledger, DB: s.DB, Auth: s.Auth, Keyring: s.Keyring, Projector: s.Projector, RegistryMSP: w.File().RegistryMSP(),
		Limits: opts.Limits, MaxBody: opts.MaxBody, SecureCookies: opts.SecureCookies, Web: opts.Web, Log: opts.Log, Now: opts.Now,
	}
	if s.Ingester != nil {
		cfg.Oracle = &api.GatewayOracle{Ingester: s.Ingester, Submitter: s.Submitter, DB: s.DB}
	}
	g, err := api.NewGateway(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("workspace.Gateway: %w", err)
	}
	return &Gateway{Services: s, API: g}, nil
}
