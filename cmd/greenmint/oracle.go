package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/api"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/internal/store"
	"github.com/greenmint/greenmint/oracle"
	"github.com/greenmint/greenmint/refdata"
	"github.com/greenmint/greenmint/workspace"
	"github.com/spf13/cobra"
	"golang.org/x/time/rate"
)

// peerTokenWarning is how long before its expiry `oracle serve` warns that
// the peer token must be renewed.
const peerTokenWarning = 7 * 24 * time.Hour

// serveConfig is what `oracle serve` reads from its flags.
type serveConfig struct {
	listen                        string
	peerURL, peerToken, peerCA    string
	attestStart, attestInstrument string
	attestSites                   []string
	attestEvery, attestLag        time.Duration
	as                            string
	server                        api.ServerConfig
	limits                        api.Limits
	tokenRate, anonymousRate      float64
	maxBody                       int64
	revocationTTL                 time.Duration
}

func (m *Main) oracleCommand() *cobra.Command {
	oracleCmd := &cobra.Command{Use: "oracle", Short: "The oracle service and its tokens"}
	oracleCmd.AddCommand(m.serveCommand(), m.tokenCommand())
	return oracleCmd
}

func (m *Main) serveCommand() *cobra.Command {
	var ws wsFlags
	var sc serveConfig
	serve := &cobra.Command{
		Use:   "serve",
		Short: "Serve readings ingestion, co-signing, health and metrics over HTTP (HTTPS with --tls-cert and --tls-key)",
		Long: "Serves POST /v1/readings (collector tokens), POST /v1/cosign (peer-oracle tokens), GET /healthz and\n" +
			"GET /metrics. It prints no token: issue them with `greenmint oracle token issue`. It prints one line\n" +
			"when it listens (with --json a JSON object: oracle_id, url) and logs to standard error (with --json\n" +
			"as JSON lines).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return m.serve(cmd.Context(), ws.config(), sc) },
	}
	ws.bind(serve, true, true)
	f := serve.Flags()
	f.StringVar(&sc.listen, "listen", "127.0.0.1:8081", "listen address")
	f.StringVar(&sc.server.TLSCert, "tls-cert", "", "PEM certificate (chain) to serve HTTPS with; needs --tls-key")
	f.StringVar(&sc.server.TLSKey, "tls-key", "", "PEM private key of --tls-cert")
	f.DurationVar(&sc.server.ReadHeaderTimeout, "read-header-timeout", 5*time.Second, "time allowed to send a request's headers")
	f.DurationVar(&sc.server.ReadTimeout, "read-timeout", 60*time.Second, "time allowed to send a whole request, body included")
	f.DurationVar(&sc.server.WriteTimeout, "write-timeout", 120*time.Second, "time allowed to answer, from the end of the headers")
	f.DurationVar(&sc.server.IdleTimeout, "idle-timeout", 30*time.Second, "how long an idle keep-alive connection is kept")
	f.IntVar(&sc.server.MaxConns, "max-conns", 256, "connections open at once; more wait to be accepted")
	f.Int64Var(&sc.maxBody, "max-body", 32<<20, "bytes a readings request may carry")
	f.Float64Var(&sc.tokenRate, "token-rate", 20, "requests a second each token may make (sustained)")
	f.IntVar(&sc.limits.CredentialBurst, "token-burst", 100, "requests each token may make at once")
	f.Float64Var(&sc.anonymousRate, "anonymous-rate", 5, "requests a second per client address without a valid token (and to /healthz, /metrics)")
	f.IntVar(&sc.limits.AnonymousBurst, "anonymous-burst", 20, "requests at once per client address without a valid token")
	f.IntVar(&sc.limits.Cosigns, "max-cosigns", 2, "co-signatures computed at once (each rebuilds an attestation); more are answered 429")
	f.DurationVar(&sc.revocationTTL, "revocation-cache", api.DefaultRevocationTTL, "how long a token's revocation status is cached (a revocation takes effect within it)")
	f.StringSliceVar(&sc.attestSites, "attest-site", nil, "attest this site's closed periods on a schedule (repeatable)")
	f.DurationVar(&sc.attestEvery, "attest-every", time.Hour, "how often scheduled attestation runs")
	f.DurationVar(&sc.attestLag, "attest-lag", 30*time.Minute, "how long after an hour closes its readings are awaited")
	f.StringVar(&sc.attestStart, "attest-start", "2023-01-01T00:00:00Z", "where sites with no attestation yet begin")
	f.StringVar(&sc.attestInstrument, "attest-instrument", "CO2E", "EAC or CO2E")
	f.StringVar(&sc.peerURL, "peer", "", "a peer oracle's base URL, asked to co-sign scheduled attestations")
	f.StringVar(&sc.peerToken, "peer-token", "", "a peer-oracle token the peer issued (default: $GREENMINT_PEER_TOKEN)")
	f.StringVar(&sc.peerCA, "peer-ca", "", "PEM file of the CA (or certificate) the peer's TLS certificate chains to, when it is not a public one")
	f.StringVar(&sc.as, "as", consortium.OracleAMSP+":oracle", "the oracle's identity")
	return serve
}

func (m *Main) serve(ctx context.Context, cfg workspace.Config, sc serveConfig) error {
	log := slog.New(slog.NewTextHandler(m.Err, nil))
	if m.asJSON {
		log = slog.New(slog.NewJSONHandler(m.Err, nil))
	}
	var peer *api.HTTPCosigner
	if sc.peerURL != "" {
		p, err := peerCosigner(sc.peerURL, sc.peerToken, sc.peerCA)
		if err != nil {
			return err
		}
		claims, _ := api.CheckPeerToken(p.Token, time.Now())
		if left := time.Until(claims.ExpiresAt.Time); left < peerTokenWarning {
			log.Warn("the peer token expires soon; issue a new one on the peer with `greenmint oracle token issue --kind peer-oracle`",
				"token_id", claims.ID, "expires_at", greenmint.FormatTime(claims.ExpiresAt.Time))
		}
		peer = p
	}
	settings, err := cfg.Settings()
	if err != nil {
		return err
	}
	tokens, err := tokens(settings)
	if err != nil {
		return err
	}
	w, err := workspace.Open(cfg)
	if err != nil {
		return err
	}
	defer w.Close()
	l := w.Ledger
	db, err := cfg.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	tokens.Store = db
	tokens.RevocationTTL = sc.revocationTTL
	if sc.revocationTTL == 0 {
		tokens.RevocationTTL = -1
	}
	self, err := w.Oracle(sc.as)
	if err != nil {
		return err
	}
	in := oracle.NewIngester(db, &oracle.LedgerMeters{Ledger: l, ID: self.ID, TTL: 30 * time.Second}, nil)
	cs, err := w.Cosigner(db, sc.as)
	if err != nil {
		return err
	}
	limits := sc.limits
	limits.CredentialRate, limits.AnonymousRate = rate.Limit(sc.tokenRate), rate.Limit(sc.anonymousRate)
	h := api.NewOracleHandler(api.OracleConfig{Tokens: tokens, Cosigner: cs, Log: log, MaxBody: sc.maxBody, Limits: limits}, in)
	srv, err := api.NewServer(h, sc.server, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", sc.listen)
	if err != nil {
		return &greenmint.Error{Code: greenmint.EUNAVAILABLE, Message: "cannot listen on " + sc.listen, Err: err}
	}
	scheme := "http"
	if srv.TLS() {
		scheme = "https"
	}
	url := fmt.Sprintf("%s://%s", scheme, ln.Addr())
	if m.asJSON {
		err = json.NewEncoder(m.Out).Encode(map[string]string{"oracle_id": self.OracleID, "url": url})
	} else {
		_, err = fmt.Fprintf(m.Out, "oracle %s serving on %s (tokens: greenmint oracle token issue --dir %s)\n", self.OracleID, url, cfg.Dir)
	}
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if len(sc.attestSites) > 0 {
		start, err := greenmint.ParseHour(sc.attestStart)
		if err != nil {
			return fmt.Errorf("--attest-start: %w", err)
		}
		sub, err := w.Submitter(db, sc.as)
		if err != nil {
			return err
		}
		sub.Peers = nil
		if peer != nil {
			sub.Peers = append(sub.Peers, peer)
		}
		sched := &oracle.Scheduler{Submitter: sub, Store: db, Sites: sc.attestSites, Instrument: greenmint.Instrument(sc.attestInstrument),
			Dataset: greenmint.DatasetPin{ID: refdata.DefaultDatasetID, Version: refdata.DefaultDatasetVersion}, Start: start, Lag: sc.attestLag}
		go sched.Run(ctx, sc.attestEvery, time.Now, func(o oracle.Outcome) {
			if o.Err != nil {
				log.Warn("scheduled attestation failed", "site", o.SiteID, "err", o.Err)
				return
			}
			log.Info("scheduled attestation minted", "site", o.SiteID, "from", o.From, "to", o.To, "batch", o.Result.BatchID, "units", o.Result.Quantity)
		})
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}

// peerCosigner is the HTTP co-signer of the peer at url: token (or
// $GREENMINT_PEER_TOKEN) must be a peer-oracle token that has not expired,
// and caFile, when given, is what the peer's TLS certificate must chain to.
func peerCosigner(url, token, caFile string) (*api.HTTPCosigner, error) {
	if token == "" {
		token = os.Getenv("GREENMINT_PEER_TOKEN")
	}
	if _, err := api.CheckPeerToken(token, time.Now()); err != nil {
		return nil, fmt.Errorf("--peer-token: %w", err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, &greenmint.Error{Code: greenmint.EINVALID, Message: "--peer-ca", Err: err}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, greenmint.Errorf(greenmint.EINVALID, "--peer-ca: %s holds no PEM certificate", caFile)
		}
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	}
	return &api.HTTPCosigner{URL: strings.TrimSuffix(url, "/"), Token: token, Client: &http.Client{Transport: tr, Timeout: api.DefaultCosignTimeout}}, nil
}

func (m *Main) tokenCommand() *cobra.Command {
	var ws wsFlags
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Issue, list and revoke the bearer tokens this oracle accepts",
		Long: "Tokens are JWTs signed with the workspace's secret (oracle.json). Each has an ID recorded in the\n" +
			"oracle's database; oracle serve accepts a token only while its record exists and is not revoked.\n" +
			"Kinds: collector (POST /v1/readings) and peer-oracle (POST /v1/cosign, for another oracle).",
	}
	cmd.PersistentFlags().StringVar(&ws.dir, "dir", ".data", "the workspace directory (greenmint init)")
	cmd.PersistentFlags().StringVar(&ws.db, "db", "", "the oracle's database: a postgres:// DSN, or a SQLite file (default: $GREENMINT_DB, else oracle.db in the workspace)")

	var kind, subject string
	var lifetime time.Duration
	issue := &cobra.Command{
		Use:   "issue",
		Short: "Issue a token: printed once on standard output, never stored",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			tokens, db, err := tokenStore(ctx, ws.config())
			if err != nil {
				return err
			}
			defer db.Close()
			is, err := tokens.Issue(ctx, kind, subject, lifetime)
			if err != nil {
				return err
			}
			if m.asJSON {
				return m.emitJSON(is)
			}
			fmt.Fprintf(m.Err, "issued %s token %s for %s, valid until %s; it is shown once:\n", is.Kind, is.ID, is.Subject, greenmint.FormatTime(is.ExpiresAt))
			_, err = fmt.Fprintln(m.Out, is.Token)
			return err
		},
	}
	issue.Flags().StringVar(&kind, "kind", api.KindCollector, "collector or peer-oracle")
	issue.Flags().StringVar(&subject, "subject", "", "who holds it: a collector's name, or the peer oracle's ID (1 to 64 of A-Z a-z 0-9 . _ : @ -)")
	issue.Flags().DurationVar(&lifetime, "lifetime", 30*24*time.Hour, fmt.Sprintf("how long it is valid; at most %s", api.DefaultMaxTokenLifetime))
	_ = issue.MarkFlagRequired("subject")

	list := &cobra.Command{
		Use:   "list",
		Short: "List issued tokens (IDs, kinds, subjects, lifetimes, revocations; never the tokens)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := ws.config().OpenStore(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			toks, err := db.Tokens(cmd.Context())
			if err != nil {
				return err
			}
			now := time.Now()
			type row struct {
				ID        string `json:"id"`
				Kind      string `json:"kind"`
				Subject   string `json:"subject"`
				IssuedAt  string `json:"issued_at"`
				ExpiresAt string `json:"expires_at"`
				RevokedAt string `json:"revoked_at,omitempty"`
				Status    string `json:"status"`
			}
			rows := make([]row, 0, len(toks))
			for _, t := range toks {
				r := row{ID: t.ID, Kind: t.Kind, Subject: t.Subject, IssuedAt: greenmint.FormatTime(t.IssuedAt), ExpiresAt: greenmint.FormatTime(t.ExpiresAt), Status: "active"}
				switch {
				case !t.RevokedAt.IsZero():
					r.RevokedAt, r.Status = greenmint.FormatTime(t.RevokedAt), "revoked"
				case !now.Before(t.ExpiresAt):
					r.Status = "expired"
				}
				rows = append(rows, r)
			}
			if m.asJSON {
				return m.emitJSON(rows)
			}
			tw := tabwriter.NewWriter(m.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tKIND\tSUBJECT\tISSUED\tEXPIRES\tSTATUS")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Kind, r.Subject, r.IssuedAt, r.ExpiresAt, r.Status)
			}
			return tw.Flush()
		},
	}

	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token by its ID; oracle serve refuses it within --revocation-cache (5 s)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := ws.config().OpenStore(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			if err := db.RevokeToken(cmd.Context(), args[0], time.Now()); err != nil {
				return err
			}
			return m.emit(map[string]string{"revoked": args[0]}, "revoked token "+args[0])
		},
	}
	cmd.AddCommand(issue, list, revoke)
	return cmd
}

// tokenStore returns the workspace's token configuration with the oracle's
// database as its store; the caller closes the database.
func tokenStore(ctx context.Context, cfg workspace.Config) (api.TokenConfig, *store.DB, error) {
	settings, err := cfg.Settings()
	if err != nil {
		return api.TokenConfig{}, nil, err
	}
	tokens, err := tokens(settings)
	if err != nil {
		return api.TokenConfig{}, nil, err
	}
	db, err := cfg.OpenStore(ctx)
	if err != nil {
		return api.TokenConfig{}, nil, err
	}
	tokens.Store = db
	return tokens, db, nil
}
