package api

import (
	"context"
	"encoding/json"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humagin"
	"github.com/gin-gonic/gin"
	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/auth"
	"github.com/greenmint/greenmint/internal/store"
	"github.com/greenmint/greenmint/keyring"
	"github.com/greenmint/greenmint/oracle"
	"github.com/greenmint/greenmint/readmodel"
	"github.com/greenmint/greenmint/statement"
	"github.com/greenmint/greenmint/webhook"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// APIVersion is the gateway's API version, in its OpenAPI document.
const APIVersion = "1.0.0"

// GatewayConfig is what the REST gateway serves from.
type GatewayConfig struct {
	Ledger  greenmint.Ledger
	DB      *store.DB // users, API keys, ledger identities, the read model, idempotency records
	Auth    *auth.Service
	Keyring *keyring.Keyring
	// Projector is the read model the lists read; its Run is the
	// caller's (greenmint serve runs it beside the server).
	Projector *readmodel.Projector
	// RegistryMSP is the registry's organisation (the contract's
	// chaincode.Config.RegistryMSP).
	RegistryMSP string
	// Reader is the keyring user ID of the gateway's own identity, which
	// evaluates the public verification queries (the contract lets any
	// channel identity read public-verification data). It is enrolled at
	// start if missing, in RegistryMSP with role buyer, a role the
	// registry's organisation is never admitted to: it counts for nothing.
	Reader string
	// Oracle is the oracle running in this process (embedded default):
	// readings ingestion, hourly matching and attestation. Nil: those
	// routes answer unavailable (oracles run remotely).
	Oracle *GatewayOracle
	// PublicURL is the gateway's URL as users reach it (e.g.
	// https://registry.example); statements' QR codes point under it.
	// Empty: the URL each request came to.
	PublicURL string
	// StatementKey signs retirement statements' JSON (JWS); its public key
	// is published at /.well-known/jwks.json beside the access tokens'.
	// Nil: statements are served as PDF only.
	StatementKey *statement.Key
	// PreviousStatementKeys are published too, so that statements signed
	// before a key rotation still verify.
	PreviousStatementKeys []statement.Key
	// Webhooks manages organisations' webhook subscriptions (the Sender
	// delivering them runs beside the gateway, once per deployment). Nil:
	// the webhook routes answer unavailable.
	Webhooks *webhook.Service
	// Web is the web app's built assets (index.html at the root), served
	// at / with index.html for every path that is not a file (the app's
	// own routes). Nil: no web app.
	Web    fs.FS
	Limits Limits
	// MaxBody bounds a request's body (default 1 MiB; readings 32 MiB).
	MaxBody int64
	// SecureCookies marks the web app's cookies Secure (set behind TLS).
	SecureCookies bool
	// IdempotencyTTL is how long an Idempotency-Key is remembered
	// (default 24 h).
	IdempotencyTTL time.Duration
	Log            *slog.Logger
	Now            func() time.Time
}

// GatewayOracle is an oracle in the gateway's process.
type GatewayOracle struct {
	Ingester  *oracle.Ingester
	Submitter *oracle.Submitter
	DB        *store.DB // its readings and grid states
}

// Gateway is the REST gateway: every user's flows over HTTP, each ledger
// write signed as the acting user.
type Gateway struct {
	cfg     GatewayConfig
	engine  *gin.Engine
	api     huma.API
	metrics *gatewayMetrics
	lim     *limits
	roles   *roleCache
	verify  *verifyCache
	tokens  tokenCache
	streams streamCaps
	// builds caps the offline proof bundles built at once: each reads the
	// ledger's blocks.
	builds semaphore
}

// NewGateway builds the gateway's routes. Nothing listens: serve
// Handler() with NewServer.
func NewGateway(ctx context.Context, cfg GatewayConfig) (*Gateway, error) {
	if cfg.Ledger == nil || cfg.DB == nil || cfg.Auth == nil || cfg.Keyring == nil || cfg.Projector == nil {
		return nil, greenmint.Errorf(greenmint.EINVALID, "api.NewGateway: the ledger, database, auth, keyring and projector are required")
	}
	if cfg.RegistryMSP == "" {
		return nil, greenmint.Errorf(greenmint.EINVALID, "api.NewGateway: the registry's MSP ID is required")
	}
	if cfg.Reader == "" {
		cfg.Reader = "gateway-reader"
	}
	if cfg.MaxBody == 0 {
		cfg.MaxBody = 1 << 20
	}
	if cfg.IdempotencyTTL == 0 {
		cfg.IdempotencyTTL = 24 * time.Hour
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Limits = cfg.Limits.withDefaults()
	if _, err := cfg.Keyring.Info(ctx, cfg.Reader); greenmint.ErrorCode(err) == greenmint.ENOTFOUND {
		if _, err := cfg.Keyring.Enroll(ctx, cfg.Reader, cfg.RegistryMSP, greenmint.RoleBuyer); err != nil && greenmint.ErrorCode(err) != greenmint.ECONFLICT {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	g, err := newGateway(cfg)
	if err != nil {
		return nil, err
	}
	problemLog = cfg.Log
	return g, nil
}

// OpenAPIDocument is the gateway's OpenAPI 3.1 document, as docs/openapi.json
// keeps it: the routes' descriptions without a ledger or database behind
// them.
func OpenAPIDocument() ([]byte, error) {
	g, err := newGateway(GatewayConfig{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	return g.OpenAPI()
}

// newGateway builds the routes over cfg (with its defaults set).
func newGateway(cfg GatewayConfig) (*Gateway, error) {
	gin.SetMode(gin.ReleaseMode)
	reg := prometheus.NewRegistry()
	g := &Gateway{cfg: cfg, lim: newLimits(cfg.Limits), roles: newRoleCache(), verify: newVerifyCache(4096), builds: make(semaphore, 2)}
	g.metrics = newGatewayMetrics(reg, cfg.Projector, cfg.Ledger)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	_ = r.SetTrustedProxies(nil)
	r.Use(requestID(), securityHeaders(), accessLog(cfg.Log), g.metrics.middleware(), problems(cfg.Log), recovery(), g.bodyLimit())
	web := webHandler(cfg.Web)
	// The web app's files are static and cached: they are not rate
	// limited (a page load fetches several at once); everything else
	// that matches no route is, by address.
	notFound := g.lim.anonymousLimit()
	r.NoRoute(func(c *gin.Context) {
		if web != nil && (c.Request.Method == http.MethodGet || c.Request.Method == http.MethodHead) && !isAPIPath(c.Request.URL.Path) {
			web(c)
			return
		}
		if notFound(c); c.IsAborted() {
			return
		}
		fail(c, &statusError{status: http.StatusNotFound, err: greenmint.Errorf(greenmint.ENOTFOUND, "no route %s", c.Request.URL.Path)})
	})
	r.NoMethod(g.lim.anonymousLimit(), func(c *gin.Context) {
		fail(c, &statusError{status: http.StatusMethodNotAllowed, err: greenmint.Errorf(greenmint.EINVALID, "method %s is not allowed here; allowed: %s", c.Request.Method, c.Writer.Header().Get("Allow"))})
	})
	r.GET("/healthz", g.lim.anonymousLimit(), func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.GET("/readyz", g.lim.anonymousLimit(), g.ready)
	r.GET("/metrics", g.lim.anonymousLimit(), gin.WrapH(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
	r.GET("/.well-known/jwks.json", g.lim.anonymousLimit(), g.jwks)

	// Every /v1 route: the caller's credential (if any) is read, the rate
	// limit applied by credential or address, then the Idempotency-Key of
	// writes honoured, before huma validates and runs the operation.
	v1 := r.Group("/v1", g.authenticate(), g.streamLimit(), g.idempotency())
	hc := huma.DefaultConfig("Greenmint registry API", APIVersion)
	hc.CreateHooks = nil // no $schema links in bodies
	hc.DocsPath = ""     // the reference page is served from embedded assets below
	hc.SchemasPath = ""
	hc.OpenAPIPath = ""
	hc.RejectUnknownQueryParameters = true
	hc.Info.Description = "The Greenmint registry's REST gateway. docs/api.md tells an integrator how to start."
	hc.Servers = []*huma.Server{{URL: "/v1", Description: "Every operation's path is under /v1 of the gateway's URL"}}
	hc.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		schemeBearer: {Type: "http", Scheme: "bearer", BearerFormat: "JWT", Description: "An access token from POST /v1/auth/login or /v1/auth/refresh, or an API key gm_<id>_<secret>."},
		schemeCookie: {Type: "apiKey", In: "cookie", Name: cookieAccess, Description: "The web app's session cookie; unsafe methods also need the X-CSRF-Token header equal to the " + cookieCSRF + " cookie."},
	}
	g.api = humagin.NewWithGroup(r, v1, hc)
	g.api.UseMiddleware(g.authorize)
	g.authRoutes()
	g.registryRoutes()
	g.minerRoutes()
	g.marketRoutes()
	g.auditRoutes()
	g.publicRoutes()
	g.eventRoutes()
	g.statementRoutes()
	g.webhookRoutes()
	g.bundleRoutes()
	spec, err := g.OpenAPI()
	if err != nil {
		return nil, err
	}
	r.GET("/openapi.json", g.lim.anonymousLimit(), func(c *gin.Context) { c.Data(http.StatusOK, "application/json", spec) })
	page, err := referencePage(g.api.OpenAPI())
	if err != nil {
		return nil, err
	}
	r.GET("/docs", g.lim.anonymousLimit(), func(c *gin.Context) {
		c.Header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		c.Data(http.StatusOK, "text/html; charset=utf-8", page)
	})
	g.engine = r
	return g, nil
}

// isAPIPath tells the API's paths from the web app's.
func isAPIPath(p string) bool {
	for _, prefix := range []string{"/v1/", "/.well-known/"} {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return p == "/v1" || p == "/openapi.json" || p == "/docs" || p == "/metrics" || p == "/healthz" || p == "/readyz"
}

// webHandler serves the web app: a file of assets if there is one, else
// index.html (the app routes in the browser). Hashed assets are cached for
// a year, index.html never.
func webHandler(assets fs.FS) gin.HandlerFunc {
	if assets == nil {
		return nil
	}
	files := http.FileServer(http.FS(assets))
	return func(c *gin.Context) {
		name := strings.TrimPrefix(path.Clean(c.Request.URL.Path), "/")
		if st, err := fs.Stat(assets, name); name != "" && err == nil && !st.IsDir() {
			if strings.HasPrefix(name, "assets/") {
				c.Header("Cache-Control", "public, max-age=31536000, immutable")
			}
			files.ServeHTTP(c.Writer, c.Request)
			return
		}
		index, err := fs.ReadFile(assets, "index.html")
		if err != nil {
			fail(c, greenmint.Errorf(greenmint.ENOTFOUND, "the web app is not built (make web)"))
			return
		}
		c.Header("Cache-Control", "no-cache")
		c.Header("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'")
		c.Data(http.StatusOK, "text/html; charset=utf-8", index)
	}
}

// PurgeExpired deletes, every interval until ctx ends, the idempotency
// records whose time is up (any replica may: deleting twice is harmless).
func (g *Gateway) PurgeExpired(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if n, err := g.cfg.DB.PurgeIdempotent(ctx, g.cfg.Now()); err != nil && ctx.Err() == nil {
			g.cfg.Log.Warn("purging expired idempotency records", "err", err)
		} else if n > 0 {
			g.cfg.Log.Info("purged expired idempotency records", "records", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Handler is the gateway's HTTP handler.
func (g *Gateway) Handler() http.Handler { return g.engine }

// OpenAPI returns the gateway's OpenAPI 3.1 document, indented, as
// docs/openapi.json keeps it.
func (g *Gateway) OpenAPI() ([]byte, error) {
	raw, err := json.Marshal(g.api.OpenAPI())
	if err != nil {
		return nil, greenmint.E(greenmint.EINTERNAL, "api.OpenAPI", err, "")
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, greenmint.E(greenmint.EINTERNAL, "api.OpenAPI", err, "")
	}
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, greenmint.E(greenmint.EINTERNAL, "api.OpenAPI", err, "")
	}
	return append(out, '\n'), nil
}

// ready answers 200 when the ledger and the database answer.
func (g *Gateway) ready(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 3*time.Second)
	defer cancel()
	checks := map[string]string{"database": "ok", "ledger": "ok"}
	ok := true
	if _, err := g.cfg.DB.ReadModelCheckpoint(ctx); err != nil {
		checks["database"], ok = "unreachable", false
		g.cfg.Log.Warn("readyz: database", "err", err)
	}
	if err := g.evaluateAsReader(ctx, greenmint.QueryGetPolicy, struct{}{}, new(json.RawMessage)); err != nil {
		checks["ledger"], ok = "unreachable", false
		g.cfg.Log.Warn("readyz: ledger", "err", err)
	}
	status := http.StatusOK
	if !ok {
		status = http.StatusServiceUnavailable
	}
	c.JSON(status, gin.H{"status": map[bool]string{true: "ready", false: "not ready"}[ok], "checks": checks})
}

// accessLog logs every request with slog: method, route template, status,
// duration, request ID and (when signed in) the principal's ID.
func accessLog(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		attrs := []any{"method", c.Request.Method, "route", route, "status", c.Writer.Status(), "ms", time.Since(start).Milliseconds(), "request_id", c.GetString("request_id")}
		if p := principalOf(c.Request.Context()); p != nil {
			attrs = append(attrs, "principal", p.ID)
		}
		log.Info("request", attrs...)
	}
}

// bodyLimit caps every request body at MaxBody (the readings route at
// 32 MiB).
func (g *Gateway) bodyLimit() gin.HandlerFunc {
	return func(c *gin.Context) {
		limit := g.cfg.MaxBody
		if c.Request.URL.Path == "/v1/readings" {
			limit = 32 << 20
		}
		if c.Request.ContentLength > limit {
			fail(c, &statusError{status: http.StatusRequestEntityTooLarge, err: greenmint.Errorf(greenmint.EINVALID, "the body has %d bytes; at most %d", c.Request.ContentLength, limit)})
			return
		}
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
		c.Next()
	}
}

// gatewayMetrics are the gateway's Prometheus metrics: RED by route
// template, ledger submit latency and the read model's lag.
type gatewayMetrics struct {
	*metrics
	submit *prometheus.HistogramVec
}

func newGatewayMetrics(reg *prometheus.Registry, p *readmodel.Projector, l greenmint.Ledger) *gatewayMetrics {
	m := &gatewayMetrics{metrics: newMetrics(reg),
		submit: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "greenmint_ledger_submit_seconds", Help: "Ledger submissions from endorsement to commit, by contract function and outcome.", Buckets: prometheus.DefBuckets}, []string{"function", "outcome"})}
	reg.MustRegister(m.submit)
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "greenmint_readmodel_checkpoint_block", Help: "The last ledger block the read model has applied."}, func() float64 {
		return float64(p.Checkpoint().Block)
	}))
	reg.MustRegister(newLagGauge(p, l))
	return m
}

// lagGauge reports how many blocks the read model is behind the ledger,
// when the ledger can tell its height.
type lagGauge struct {
	desc *prometheus.Desc
	p    *readmodel.Projector
	l    heighted
}

// heighted is a ledger that can tell its height (the embedded ledger).
type heighted interface{ Height() uint64 }

func newLagGauge(p *readmodel.Projector, l greenmint.Ledger) prometheus.Collector {
	h, _ := l.(heighted)
	return &lagGauge{desc: prometheus.NewDesc("greenmint_readmodel_lag_blocks", "Blocks committed on the ledger and not yet applied to the read model.", nil, nil), p: p, l: h}
}

func (g *lagGauge) Describe(ch chan<- *prometheus.Desc) { ch <- g.desc }

func (g *lagGauge) Collect(ch chan<- prometheus.Metric) {
	if g.l == nil {
		return
	}
	h := g.l.Height()
	cp := g.p.Checkpoint()
	lag := float64(0)
	if h > 0 && h-1 > cp.Block {
		lag = float64(h - 1 - cp.Block)
	}
	ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, lag)
}
