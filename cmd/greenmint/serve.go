package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/api"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/fabricca"
	"github.com/greenmint/greenmint/internal/store"
	"github.com/greenmint/greenmint/keyring"
	"github.com/greenmint/greenmint/leader"
	"github.com/greenmint/greenmint/web"
	"github.com/greenmint/greenmint/workspace"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// The oracle modes of greenmint serve.
const (
	oracleInProcess = "in-process"
	oracleNone      = "none"
)

// The CAs of greenmint serve's users' ledger identities (--ca).
const (
	caConsortium = "consortium" // the workspace's own CAs
	caFabricCA   = "fabric-ca"  // the organisations' Fabric CAs of --ca-config (fabricca)
)

// Files greenmint serve keeps in its data directory beside the workspace.
const (
	kekFile     = "kek"            // the generated key-encryption key (0600), embedded default only
	loginsFile  = "logins.json"    // the seeded users' passwords (0600)
	simFile     = "simulator.json" // the simulated sites' meter keys (0600)
	defaultDB   = "greenmint.db"   // the SQLite database, unless --db
	envPrefix   = "GREENMINT_"
	shutdownFor = 10 * time.Second
)

// gatewayFlags are greenmint serve's settings: its flags, each also read
// from the environment as GREENMINT_<FLAG> (upper case, '-' as '_') when
// the flag is not given.
type gatewayFlags struct {
	dir, listen, publicURL    string
	ledger, connection, db    string
	kek, kekFile              string
	tlsCert, tlsKey           string
	oracle                    string
	ca, caConfig              string
	web                       string
	webGiven                  bool // --web (or GREENMINT_WEB) was given: it must hold the app
	noSimulator               bool
	simSites                  int
	simEvery                  time.Duration
	maxBody                   int64
	readTimeout, writeTimeout time.Duration
}

func (m *Main) gatewayCommand() *cobra.Command {
	var gf gatewayFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the REST gateway: every user's flows over HTTP, as themselves (make run)",
		Long: "Serves the REST gateway (API reference at /docs, OpenAPI document at /openapi.json) over the ledger,\n" +
			"with one database for users, API keys, ledger identities, the read model and idempotency records.\n\n" +
			"With no flags (the embedded default) the first start creates, in --dir, a workspace of the demo\n" +
			"consortium with an embedded ledger, bootstraps it, generates a key-encryption key (kept in DIR/kek,\n" +
			"0600: production must supply its own with --kek), seeds one user per role with random passwords\n" +
			"(DIR/logins.json, 0600) and runs oracle A in-process with a simulator that feeds a few sites with\n" +
			"real-profile readings and mints their batches as the simulated days pass. Later starts reuse it all.\n" +
			"Every start prints the URL, the API docs URL and the demo logins.\n\n" +
			"Production: --ledger fabric --connection FILE, --db postgres://…, --kek (or --kek-file), --oracle none\n" +
			"when the oracles run remotely, --tls-cert/--tls-key or a TLS proxy and --public-url, and --ca fabric-ca\n" +
			"--ca-config FILE for users' identities from the organisations' Fabric CAs. Every flag is also\n" +
			"read from the environment (GREENMINT_LISTEN, GREENMINT_KEK, GREENMINT_DB, …); secrets are never printed.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := flagsFromEnv(cmd.Flags()); err != nil {
				return err
			}
			gf.webGiven = cmd.Flags().Changed("web")
			return m.serveGateway(cmd.Context(), gf)
		},
	}
	f := cmd.Flags()
	f.StringVar(&gf.dir, "dir", ".greenmint", "the data directory: the workspace (embedded ledger, identities), the SQLite database, the generated KEK, the seeded logins")
	f.StringVar(&gf.listen, "listen", "127.0.0.1:8080", "listen address (port 0: any free port)")
	f.StringVar(&gf.publicURL, "public-url", "", "the URL clients reach the gateway at, the access tokens' issuer (default: http(s)://the listen address)")
	f.StringVar(&gf.ledger, "ledger", workspace.Embedded, "the ledger: embedded (the data directory's) or fabric")
	f.StringVar(&gf.connection, "connection", ".fabric/connection.json", "with --ledger fabric: the connection file")
	f.StringVar(&gf.db, "db", "", "the database: a postgres:// DSN, or a SQLite file (default: "+defaultDB+" in --dir)")
	f.StringVar(&gf.kek, "kek", "", "key-encryption keys ID:BASE64,… (32 bytes each; the current first, then previous ones during a rotation; docs/keyring.md)")
	f.StringVar(&gf.kekFile, "kek-file", "", "a file holding the key-encryption keys, as --kek")
	f.StringVar(&gf.tlsCert, "tls-cert", "", "PEM certificate (chain) to serve HTTPS with; needs --tls-key")
	f.StringVar(&gf.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	f.StringVar(&gf.oracle, "oracle", oracleInProcess, "the oracle: in-process (oracle A of the consortium, in this process) or none (oracles run remotely)")
	f.StringVar(&gf.ca, "ca", caConsortium, "who issues users' ledger identities: consortium (the workspace's own CAs) or fabric-ca (the Fabric CAs of --ca-config; organisations it does not list keep their own; docs/fabric-ca.md)")
	f.StringVar(&gf.caConfig, "ca-config", "", "with --ca fabric-ca: the file naming each organisation's Fabric CA, its registrar and where its secret is (docs/fabric-ca.md)")
	f.StringVar(&gf.web, "web", "", "a directory of the web app's built assets (index.html) to serve at / instead of the app built into this binary (make web before make build)")
	f.BoolVar(&gf.noSimulator, "no-simulator", false, "do not simulate sites and their meters (the simulator runs only on the embedded ledger with the in-process oracle)")
	f.IntVar(&gf.simSites, "simulator-sites", 3, "how many sites the simulator registers and meters")
	f.DurationVar(&gf.simEvery, "simulator-every", 5*time.Second, "how often the simulator sends one more simulated day of readings and attests what closed")
	f.Int64Var(&gf.maxBody, "max-body", 1<<20, "bytes a request's body may carry (readings: 32 MiB)")
	f.DurationVar(&gf.readTimeout, "read-timeout", 60*time.Second, "time allowed to send a whole request, body included")
	f.DurationVar(&gf.writeTimeout, "write-timeout", 120*time.Second, "time allowed to answer, from the end of the headers")
	return cmd
}

// envName is the environment variable of a flag: GREENMINT_ and its name
// in upper case with '-' as '_'.
func envName(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// flagsFromEnv sets every flag not given on the command line from its
// environment variable (envName), when that is set and not empty. It runs
// after parsing, so --help never shows the environment's values (secrets
// among them).
func flagsFromEnv(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed || err != nil {
			return
		}
		v := os.Getenv(envName(f.Name))
		if v == "" {
			return
		}
		if e := f.Value.Set(v); e != nil {
			if secretFlag(f.Name) {
				e = errors.New("the value is not valid")
			}
			err = greenmint.E(greenmint.EINVALID, "", e, "%s (--%s)", envName(f.Name), f.Name)
			return
		}
		f.Changed = true
	})
	return err
}

// secretFlag reports whether a flag's value is never printed.
func secretFlag(name string) bool { return name == "kek" || name == "db" }

// gatewaySettings are gatewayFlags checked: what serveGateway acts on.
type gatewaySettings struct {
	gatewayFlags
	keks      []keyring.KEK     // nil: the data directory's kek file, or a new one
	fabricCAs []fabricca.Config // with --ca fabric-ca
	publicURL *url.URL          // nil: from the listener
	webApp    fs.FS             // nil: no web app
}

// check refuses malformed settings (EINVALID) before anything is made.
func (gf gatewayFlags) check() (*gatewaySettings, error) {
	s := &gatewaySettings{gatewayFlags: gf}
	if gf.dir == "" {
		return nil, greenmint.Errorf(greenmint.EINVALID, "--dir must name the data directory")
	}
	switch gf.ledger {
	case workspace.Embedded:
	case workspace.Fabric:
		if _, err := os.Stat(gf.connection); err != nil {
			return nil, greenmint.Errorf(greenmint.EINVALID, "--connection %s: no such connection file (greenmint fabric up writes one)", gf.connection)
		}
	default:
		return nil, workspaceKindError(gf.ledger)
	}
	if gf.oracle != oracleInProcess && gf.oracle != oracleNone {
		return nil, greenmint.Errorf(greenmint.EINVALID, "--oracle must be %s or %s, not %q", oracleInProcess, oracleNone, gf.oracle)
	}
	switch {
	case gf.ca == caConsortium && gf.caConfig != "":
		return nil, greenmint.Errorf(greenmint.EINVALID, "--ca-config is for --ca %s", caFabricCA)
	case gf.ca == caConsortium:
	case gf.ca == caFabricCA && gf.caConfig == "":
		return nil, greenmint.Errorf(greenmint.EINVALID, "--ca %s needs --ca-config FILE (docs/fabric-ca.md)", caFabricCA)
	case gf.ca == caFabricCA:
		cfgs, err := fabricca.LoadConfig(gf.caConfig)
		if err != nil {
			return nil, fmt.Errorf("--ca-config: %w", err)
		}
		s.fabricCAs = cfgs
	default:
		return nil, greenmint.Errorf(greenmint.EINVALID, "--ca must be %s or %s, not %q", caConsortium, caFabricCA, gf.ca)
	}
	if gf.simSites < 1 || gf.simSites > 20 {
		return nil, greenmint.Errorf(greenmint.EINVALID, "--simulator-sites must be 1 to 20, not %d", gf.simSites)
	}
	if gf.simEvery <= 0 {
		return nil, greenmint.Errorf(greenmint.EINVALID, "--simulator-every must be positive")
	}
	if (gf.tlsCert == "") != (gf.tlsKey == "") {
		return nil, greenmint.Errorf(greenmint.EINVALID, "TLS needs both a certificate and a key (--tls-cert and --tls-key)")
	}
	if gf.tlsCert != "" {
		if _, err := tls.LoadX509KeyPair(gf.tlsCert, gf.tlsKey); err != nil {
			return nil, greenmint.E(greenmint.EINVALID, "", err, "--tls-cert %s and --tls-key", gf.tlsCert)
		}
	}
	if gf.publicURL != "" {
		u, err := url.Parse(gf.publicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return nil, greenmint.Errorf(greenmint.EINVALID, "--public-url must be an http:// or https:// URL with a host and nothing after the path, not %q", gf.publicURL)
		}
		u.Path = strings.TrimSuffix(u.Path, "/")
		s.publicURL = u
	}
	switch {
	case gf.web != "":
		if _, err := os.Stat(filepath.Join(gf.web, "index.html")); err != nil {
			return nil, greenmint.Errorf(greenmint.EINVALID, "--web %s holds no index.html (build the web app first)", gf.web)
		}
		s.webApp = os.DirFS(gf.web)
	case gf.webGiven:
		return nil, greenmint.Errorf(greenmint.EINVALID, "--web must name a directory holding the built app")
	default:
		if app, err := web.Assets(); err == nil {
			s.webApp = app
		} // else a binary built without the app: the API alone
	}
	if gf.kek != "" && gf.kekFile != "" {
		return nil, greenmint.Errorf(greenmint.EINVALID, "give the key-encryption keys once: --kek or --kek-file, not both")
	}
	switch {
	case gf.kek != "":
		keks, err := keyring.ParseKEKs(gf.kek)
		if err != nil {
			return nil, fmt.Errorf("--kek: %w", err)
		}
		s.keks = keks
	case gf.kekFile != "":
		keks, err := readKEKFile(gf.kekFile)
		if err != nil {
			return nil, fmt.Errorf("--kek-file: %w", err)
		}
		s.keks = keks
	case gf.ledger != workspace.Embedded:
		return nil, greenmint.Errorf(greenmint.EINVALID, "--ledger %s needs its key-encryption keys: --kek or --kek-file (GREENMINT_KEK); only the embedded default makes one", gf.ledger)
	}
	return s, nil
}

// readKEKFile reads key-encryption keys (keyring.ParseKEKs) from a file.
func readKEKFile(path string) ([]keyring.KEK, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, greenmint.E(greenmint.EINVALID, "", err, "key-encryption key file %s", path)
	}
	return keyring.ParseKEKs(strings.TrimSpace(string(raw)))
}

// dsn is the database's DSN: --db, or the SQLite file in the data
// directory.
func (s *gatewaySettings) dsn() string {
	if s.db != "" {
		return s.db
	}
	return filepath.Join(s.dir, defaultDB)
}

// simulating reports whether the simulator runs: on the embedded ledger
// with the in-process oracle, unless --no-simulator.
func (s *gatewaySettings) simulating() bool {
	return !s.noSimulator && s.ledger == workspace.Embedded && s.oracle == oracleInProcess
}

func (m *Main) serveLogger() *slog.Logger {
	if m.asJSON {
		return slog.New(slog.NewJSONHandler(m.Err, nil))
	}
	return slog.New(slog.NewTextHandler(m.Err, nil))
}

// serveGateway runs greenmint serve until ctx ends.
func (m *Main) serveGateway(ctx context.Context, gf gatewayFlags) error {
	s, err := gf.check()
	if err != nil {
		return err
	}
	log := m.serveLogger()
	w, created, err := openServeWorkspace(ctx, s)
	if err != nil {
		return err
	}
	defer w.Close()
	keks := s.keks
	if keks == nil {
		var generated bool
		if keks, generated, err = dataDirKEKs(filepath.Join(s.dir, kekFile)); err != nil {
			return err
		}
		if generated {
			log.Warn("generated a key-encryption key for this data directory: fine for a demo, but production must supply its own (--kek or --kek-file, from a secret store; docs/keyring.md)",
				"file", filepath.Join(s.dir, kekFile))
		}
	}
	db, err := workspace.Config{DB: s.dsn()}.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	ln, err := net.Listen("tcp", s.listen)
	if err != nil {
		return &greenmint.Error{Code: greenmint.EUNAVAILABLE, Message: "cannot listen on " + s.listen, Err: err}
	}
	defer ln.Close()
	scheme := "http"
	if s.tlsCert != "" {
		scheme = "https"
	}
	listenURL := scheme + "://" + ln.Addr().String()
	public := listenURL
	if s.publicURL != nil {
		public = s.publicURL.String()
	}
	var ca keyring.CA // nil: the workspace's own CAs
	if s.fabricCAs != nil {
		fca, err := fabricca.New(ctx, s.fabricCAs, fabricca.Options{Others: w.Consortium.Store})
		if err != nil {
			return err
		}
		log.Info("users' ledger identities come from Fabric CA", "organisations", strings.Join(fca.MSPIDs(), ","))
		ca = fca
	}
	gw, err := buildGateway(ctx, w, gatewayOptions{
		ServiceOptions: workspace.ServiceOptions{DB: db, PublicURL: public, KEKs: keks, CA: ca, InProcessOracle: s.oracle == oracleInProcess,
			PasswordParams: m.passwordParams, Log: log},
		MaxBody: s.maxBody, SecureCookies: strings.HasPrefix(public, "https://"), Web: s.webApp,
	})
	if err != nil {
		return err
	}
	seeded, err := gw.SeedUsers(ctx, w, filepath.Join(s.dir, loginsFile))
	if err != nil {
		return err
	}
	srv, err := api.NewServer(gw.API.Handler(), api.ServerConfig{TLSCert: s.tlsCert, TLSKey: s.tlsKey, ReadTimeout: s.readTimeout, WriteTimeout: s.writeTimeout}, log)
	if err != nil {
		return err
	}

	// Everything in the background outlives ctx until the server has
	// stopped: requests in flight still see the read model move.
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	defer func() { stop(); wg.Wait() }()
	// The projector and the webhook sender run once per deployment: in
	// the replica that leads (on PostgreSQL, by an advisory lock; on
	// SQLite, this process); the others follow the read model's
	// checkpoint (docs/replicas.md).
	el, err := leader.New(leader.Config{DSN: s.dsn(), Log: log})
	if err != nil {
		return err
	}
	wg.Go(func() { gw.API.PurgeExpired(bg, time.Hour) })
	wg.Go(func() {
		_ = el.Run(bg, func(ctx context.Context) error { leaderWork(ctx, gw, log); return nil }, gw.Projector.Follow)
	})
	if gw.DB.Dialect() == "postgres" { // other replicas may make signing keys
		wg.Go(func() { gw.FollowSigningKeys(bg, workspace.SigningKeysEvery) })
	}
	wg.Go(func() {
		if err := gw.DropRetiredSigningKeys(bg); err != nil {
			log.Error("key-encryption key rotation", "err", err)
		}
	})
	var sim *simulator
	if s.simulating() {
		sim = &simulator{w: w, svc: gw.Services, log: log, path: filepath.Join(s.dir, simFile), sites: s.simSites, every: s.simEvery, logins: seeded.Logins}
		if err := sim.setup(ctx); err != nil {
			return err
		}
		wg.Go(func() { sim.run(bg) })
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if err := m.printBanner(s, w, gw, seeded, sim, created, listenURL, public); err != nil {
		return err
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownFor)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown: requests in flight were cut", "err", err)
	}
	return nil
}

// leaderWork is what the leading replica runs until ctx ends: the read
// model's projector and the webhook sender, each started again a second
// after it stops on an error (a ledger or database that went away).
func leaderWork(ctx context.Context, gw *servedGateway, log *slog.Logger) {
	var wg sync.WaitGroup
	wg.Go(func() { keepRunning(ctx, log, "read model projector", gw.Projector.Run) })
	if gw.Sender != nil {
		wg.Go(func() { keepRunning(ctx, log, "webhook sender", gw.Sender.Run) })
	}
	wg.Wait()
}

// keepRunning runs fn until ctx ends, starting it again a second after
// it returns before.
func keepRunning(ctx context.Context, log *slog.Logger, what string, fn func(context.Context) error) {
	for {
		err := fn(ctx)
		if ctx.Err() != nil {
			return
		}
		log.Warn(what+" stopped; starting it again", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// openServeWorkspace opens the workspace serve acts on: the Fabric
// network of the connection file, or the embedded one in the data
// directory, made of the demo consortium (as greenmint init does) on the
// first start. It reports whether it made it now. An embedded ledger not
// yet bootstrapped (a first start cut short) is bootstrapped.
func openServeWorkspace(ctx context.Context, s *gatewaySettings) (*workspace.Workspace, bool, error) {
	cfg := workspace.Config{Dir: s.dir, Ledger: s.ledger, Connection: s.connection}
	if s.ledger == workspace.Fabric {
		if err := os.MkdirAll(s.dir, 0o700); err != nil {
			return nil, false, fmt.Errorf("--dir: %w", err)
		}
		w, err := workspace.Open(cfg)
		return w, false, err
	}
	var w *workspace.Workspace
	created := false
	if _, err := os.Stat(cfg.OrganizationsDir()); errors.Is(err, os.ErrNotExist) {
		if w, err = workspace.Create(cfg, consortium.Demo()); err != nil {
			return nil, false, err
		}
		created = true
	} else if w, err = workspace.Open(cfg); err != nil {
		return nil, false, err
	}
	bootstrapped := false
	if !created {
		if reg, err := w.Registrar(); err == nil {
			var p greenmint.Policy
			bootstrapped = greenmint.EvaluateJSON(ctx, w.Ledger, reg, greenmint.QueryGetPolicy, struct{}{}, &p) == nil
		}
	}
	if !bootstrapped {
		if _, err := w.Bootstrap(ctx); err != nil {
			w.Close()
			return nil, false, err
		}
	}
	return w, created, nil
}

// dataDirKEKs reads the data directory's key-encryption key file, or makes
// it (0600) with one new random KEK; it reports whether it made it.
func dataDirKEKs(path string) ([]keyring.KEK, bool, error) {
	if _, err := os.Stat(path); err == nil {
		keks, err := readKEKFile(path)
		if err != nil {
			return nil, false, fmt.Errorf("the data directory's %s: %w", path, err)
		}
		return keks, false, nil
	}
	key := make([]byte, keyring.KEKSize)
	if _, err := rand.Read(key); err != nil {
		return nil, false, err
	}
	k := keyring.KEK{ID: "local-" + time.Now().UTC().Format("20060102"), Key: key}
	if err := workspace.WriteSecretFile(path, []byte(k.ID+":"+base64.StdEncoding.EncodeToString(key)+"\n")); err != nil {
		return nil, false, fmt.Errorf("writing %s: %w", path, err)
	}
	return []keyring.KEK{k}, true, nil
}

// serveBanner is what greenmint serve --json prints when it listens.
type serveBanner struct {
	URL       string        `json:"url"`
	Listen    string        `json:"listen"`
	Docs      string        `json:"docs"`
	OpenAPI   string        `json:"openapi"`
	Ledger    string        `json:"ledger"`
	Database  string        `json:"database"`
	Oracle    string        `json:"oracle"`
	Simulator []string      `json:"simulator_sites,omitempty"`
	Created   bool          `json:"created"`
	Seeded    []string      `json:"seeded,omitempty"`
	Logins    []bannerLogin `json:"logins"`
	LoginsAt  string        `json:"logins_file"`
}

type bannerLogin struct {
	Login    string         `json:"login"`
	Org      string         `json:"org"`
	Role     greenmint.Role `json:"role"`
	Password string         `json:"password,omitempty"`
}

// printBanner prints where the gateway listens and, on the embedded
// ledger, the demo logins with their passwords (on Fabric, where they are
// the first admins of a real network, only where the passwords are kept).
func (m *Main) printBanner(s *gatewaySettings, w *workspace.Workspace, gw *servedGateway, seeded *workspace.Seeded, sim *simulator, created bool, listenURL, public string) error {
	b := serveBanner{URL: public, Listen: listenURL, Docs: public + "/docs", OpenAPI: public + "/openapi.json", Ledger: s.ledger,
		Database: gw.DB.Dialect() + " " + store.RedactDSN(s.dsn()), Oracle: oracleNone, Created: created, Seeded: seeded.Created,
		LoginsAt: filepath.Join(s.dir, loginsFile)}
	if gw.OracleID != "" {
		b.Oracle = oracleInProcess + " (" + gw.OracleID + ")"
	}
	if sim != nil {
		b.Simulator = sim.siteIDs()
	}
	for _, l := range seeded.Logins {
		bl := bannerLogin{Login: l.Login, Org: l.Org, Role: l.Role}
		if s.ledger == workspace.Embedded {
			bl.Password = l.Password
		}
		b.Logins = append(b.Logins, bl)
	}
	if m.asJSON {
		return m.emitJSON(b)
	}
	out := m.Out
	p := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	if created {
		p("Created a workspace of the demo consortium in %s (embedded ledger, bootstrapped).", s.dir)
	}
	if len(seeded.Created) > 0 {
		p("Seeded %d users: %s.", len(seeded.Created), strings.Join(seeded.Created, ", "))
	}
	p("Greenmint listening on %s", listenURL)
	if public != listenURL {
		p("  public URL     %s", public)
	}
	if s.webApp != nil {
		p("  web app        %s/", public)
	}
	p("  API reference  %s", b.Docs)
	p("  OpenAPI        %s", b.OpenAPI)
	ledger := s.ledger
	if s.ledger == workspace.Embedded {
		ledger += " (" + w.Config.LedgerDir() + ")"
	} else {
		ledger += " (" + s.connection + ")"
	}
	p("  ledger         %s", ledger)
	p("  database       %s", b.Database)
	p("  oracle         %s", b.Oracle)
	if sim != nil {
		p("  simulator      sites %s: one simulated day of readings every %s, batches minted as days close", strings.Join(b.Simulator, ", "), s.simEvery)
	}
	if s.ledger != workspace.Embedded {
		p("\nThe first admins' passwords are in %s (0600): log in and change them.", b.LoginsAt)
		p("Stop with Ctrl-C or SIGTERM; the next start reuses %s.", s.dir)
		return nil
	}
	p("\nDemo logins (kept in %s):", b.LoginsAt)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  LOGIN\tORGANISATION\tROLE\tPASSWORD")
	for _, l := range b.Logins {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", l.Login, l.Org, l.Role, l.Password)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(b.Logins) > 0 {
		l := b.Logins[0]
		p("\nLog in:  curl -s %s/v1/auth/login -H 'Content-Type: application/json' -d '{\"login\":\"%s\",\"password\":\"%s\"}'", public, l.Login, l.Password)
	}
	p("Stop with Ctrl-C or SIGTERM; the next start reuses %s.", s.dir)
	return nil
}
