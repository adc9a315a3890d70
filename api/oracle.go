package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/oracle"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ingester is what the readings endpoint calls. *oracle.Ingester implements it.
type ingester interface {
	Ingest(ctx context.Context, batch []oracle.Parsed) (*oracle.Summary, error)
}

// OracleConfig configures the oracle's HTTP service.
type OracleConfig struct {
	Tokens        TokenConfig
	Cosigner      cosigner // when set, POST /v1/cosign serves peer oracles
	MaxBody       int64    // bytes per readings request; default 32 MiB
	MaxCosignBody int64    // bytes per co-sign request; default 16 MiB
	MaxBatch      int      // readings per request; default 100,000
	Limits        Limits
	Log           *slog.Logger
}

// NewOracleHandler returns the oracle's HTTP service:
//
//	POST /v1/readings   a batch of signed readings (application/json or text/csv), collector token required;
//	                    200 with a result per reading and a summary
//	POST /v1/cosign     a peer oracle's attestation to co-sign, peer-oracle token required (when a Cosigner is configured)
//	GET  /healthz       liveness
//	GET  /metrics       Prometheus metrics
//
// Every answer carries X-Request-ID and X-Content-Type-Options: nosniff;
// authenticated routes answer Cache-Control: no-store. A wrong method is
// answered 405 with Allow, a request over a limit 429 with Retry-After.
func NewOracleHandler(cfg OracleConfig, in ingester) http.Handler {
	if cfg.MaxBody == 0 {
		cfg.MaxBody = 32 << 20
	}
	if cfg.MaxCosignBody == 0 {
		cfg.MaxCosignBody = 16 << 20
	}
	if cfg.MaxBatch == 0 {
		cfg.MaxBatch = 100_000
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cfg.Limits = cfg.Limits.withDefaults()
	gin.SetMode(gin.ReleaseMode)
	reg := prometheus.NewRegistry()
	m := newMetrics(reg)
	auth := newAuthenticator(cfg.Tokens)
	lim := newLimits(cfg.Limits)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	_ = r.SetTrustedProxies(nil) // the client is the connection's peer; X-Forwarded-For is not believed
	r.Use(requestID(), securityHeaders(), m.middleware(), problems(cfg.Log), recovery())
	r.NoRoute(lim.anonymousLimit(), func(c *gin.Context) {
		fail(c, &statusError{status: http.StatusNotFound, err: greenmint.Errorf(greenmint.ENOTFOUND, "no route %s", c.Request.URL.Path)})
	})
	r.NoMethod(lim.anonymousLimit(), func(c *gin.Context) {
		fail(c, &statusError{status: http.StatusMethodNotAllowed, err: greenmint.Errorf(greenmint.EINVALID, "method %s is not allowed here; allowed: %s", c.Request.Method, c.Writer.Header().Get("Allow"))})
	})
	r.GET("/healthz", lim.anonymousLimit(), func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.GET("/metrics", lim.anonymousLimit(), gin.WrapH(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
	if cfg.Cosigner != nil {
		cosignRoute(r, auth.require(KindPeerOracle, lim), cfg, make(semaphore, cfg.Limits.Cosigns))
	}
	r.POST("/v1/readings", auth.require(KindCollector, lim), func(c *gin.Context) {
		body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, cfg.MaxBody))
		if err != nil {
			fail(c, greenmint.E(greenmint.EINVALID, "", err, "body over %d bytes or unreadable", cfg.MaxBody))
			return
		}
		var batch []oracle.Parsed
		mt, _, _ := mime.ParseMediaType(c.ContentType())
		switch mt {
		case "text/csv":
			batch, err = oracle.ParseCSV(bytes.NewReader(body))
		case "application/json", "":
			batch, err = oracle.ParseJSON(body)
		default:
			err = greenmint.Errorf(greenmint.EINVALID, "content type %q is neither application/json nor text/csv", mt)
		}
		if err != nil {
			fail(c, err)
			return
		}
		if len(batch) > cfg.MaxBatch {
			fail(c, greenmint.Errorf(greenmint.EINVALID, "%d readings in one request; at most %d", len(batch), cfg.MaxBatch))
			return
		}
		s, err := in.Ingest(c.Request.Context(), batch)
		if err != nil {
			fail(c, err)
			return
		}
		m.readings.WithLabelValues(oracle.Accepted).Add(float64(s.Accepted))
		m.readings.WithLabelValues(oracle.Duplicate).Add(float64(s.Duplicate))
		m.readings.WithLabelValues(oracle.Rejected).Add(float64(s.Rejected))
		c.JSON(http.StatusOK, s)
	})
	return r
}

// requestIDPattern is what a client's X-Request-ID may be to be kept: it
// is echoed in headers, bodies and logs.
var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// requestID keeps the client's X-Request-ID when it matches
// requestIDPattern and makes a new one otherwise.
func requestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader("X-Request-ID")
		if !requestIDPattern.MatchString(id) {
			b := make([]byte, 8)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		c.Set("request_id", id)
		c.Header("X-Request-ID", id)
		c.Next()
	}
}

// securityHeaders tells browsers not to guess content types.
func securityHeaders() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Header("X-Content-Type-Options", "nosniff")
		c.Next()
	}
}

// recovery turns a handler's panic into an internal error, answered and
// logged by problems.
func recovery() gin.HandlerFunc {
	return gin.CustomRecoveryWithWriter(io.Discard, func(c *gin.Context, rec any) {
		fail(c, greenmint.Errorf(greenmint.EINTERNAL, "panic: %v", rec))
	})
}

type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	readings *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "greenmint_http_requests_total", Help: "HTTP requests by route and status."}, []string{"route", "status"}),
		latency:  prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "greenmint_http_request_seconds", Help: "HTTP request latency by route.", Buckets: prometheus.DefBuckets}, []string{"route"}),
		readings: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "greenmint_oracle_readings_total", Help: "Readings ingested by outcome."}, []string{"outcome"}),
	}
	reg.MustRegister(m.requests, m.latency, m.readings)
	return m
}

func (m *metrics) middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		m.requests.WithLabelValues(route, strconv.Itoa(c.Writer.Status())).Inc()
		m.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
	}
}

// CosignRequest is what an oracle sends a peer to co-sign.
type CosignRequest struct {
	SiteID      string                `json:"site_id"`
	Instrument  greenmint.Instrument  `json:"instrument"`
	From        string                `json:"from"`
	To          string                `json:"to"`
	Dataset     greenmint.DatasetPin  `json:"dataset"`
	Attestation greenmint.Attestation `json:"attestation"`
}

// cosigner is what the co-sign endpoint calls. *oracle.LocalCosigner implements it.
type cosigner interface {
	Cosign(ctx context.Context, req oracle.AttestRequest, a *greenmint.Attestation) (greenmint.OracleSignature, error)
}

// cosignRoute adds POST /v1/cosign: a peer oracle's attestation, rebuilt
// from this oracle's readings and signed only if the bytes are the same.
// At most cap of them are rebuilt at once (429 beyond). When the bytes
// differ it answers 409 with the reason attestation_differs and logs which
// figures differ; the figures are never sent.
func cosignRoute(r *gin.Engine, auth gin.HandlerFunc, cfg OracleConfig, cap semaphore) {
	r.POST("/v1/cosign", auth, func(c *gin.Context) {
		body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, cfg.MaxCosignBody))
		if err != nil {
			fail(c, greenmint.E(greenmint.EINVALID, "", err, "body over %d bytes or unreadable", cfg.MaxCosignBody))
			return
		}
		var req CosignRequest
		if err := greenmint.DecodeStrict(body, &req); err != nil {
			fail(c, err)
			return
		}
		from, err1 := greenmint.ParseHour(req.From)
		to, err2 := greenmint.ParseHour(req.To)
		if err1 != nil || err2 != nil {
			fail(c, greenmint.Errorf(greenmint.EINVALID, "from and to must be whole hours in RFC 3339 UTC"))
			return
		}
		if err := greenmint.CheckAttestation(&req.Attestation); err != nil {
			fail(c, err)
			return
		}
		if !cap.tryAcquire() {
			fail(c, tooMany(time.Second))
			return
		}
		defer cap.release()
		sig, err := cfg.Cosigner.Cosign(c.Request.Context(), oracle.AttestRequest{SiteID: req.SiteID, Instrument: req.Instrument, From: from, To: to, Dataset: req.Dataset}, &req.Attestation)
		// Only a difference of data is hidden behind its reason; any other
		// refusal (hours already backing a batch, R1) says what it is.
		if errors.Is(err, oracle.ErrAttestationDiffers) {
			cfg.Log.Warn("co-signature refused", "peer", c.GetString("subject"), "site", req.SiteID, "from", req.From, "to", req.To,
				"request_id", c.GetString("request_id"), "err", err)
			fail(c, &problemReason{reason: ReasonAttestationDiffers, err: greenmint.Errorf(greenmint.ECONFLICT,
				"%s: this oracle's attestation of the site and period, rebuilt from its own readings, differs from the request; the difference is in this oracle's log under the request ID", ReasonAttestationDiffers)})
			return
		}
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, sig)
	})
}

// HTTPCosigner asks a peer oracle's /v1/cosign endpoint to co-sign.
type HTTPCosigner struct {
	URL    string       // the peer's base URL (https:// when the peer serves TLS)
	Token  string       // a peer-oracle token the peer issued (greenmint oracle token issue --kind peer-oracle)
	Client *http.Client // default: a client that gives up after DefaultCosignTimeout
	Now    func() time.Time
}

// DefaultCosignTimeout bounds a co-sign call when HTTPCosigner has no
// Client of its own: the peer rebuilds at most 31 days of hours.
const DefaultCosignTimeout = 2 * time.Minute

// CheckPeerToken checks what an oracle can check of a peer's token without
// the peer's secret: that it is a JWT of kind peer-oracle that has not
// expired at now. The errors say how to get a new one.
func CheckPeerToken(raw string, now time.Time) (Claims, error) {
	const how = "issue one on the peer with `greenmint oracle token issue --kind peer-oracle` and pass it with --peer-token or GREENMINT_PEER_TOKEN"
	if raw == "" {
		return Claims{}, greenmint.Errorf(greenmint.EINVALID, "no peer token: %s", how)
	}
	c, err := InspectToken(raw)
	if err != nil {
		return Claims{}, greenmint.E(greenmint.EINVALID, "", err, "the peer token is not a token (%s)", how)
	}
	if c.Kind != KindPeerOracle {
		return Claims{}, greenmint.Errorf(greenmint.EINVALID, "the peer token is of kind %q, not %s: %s", c.Kind, KindPeerOracle, how)
	}
	if c.ExpiresAt == nil {
		return Claims{}, greenmint.Errorf(greenmint.EINVALID, "the peer token has no expiry: %s", how)
	}
	if !now.Before(c.ExpiresAt.Time) {
		return Claims{}, greenmint.Errorf(greenmint.EUNAUTHENTICATED, "the peer token %s (subject %s) expired at %s: %s",
			c.ID, c.Subject, greenmint.FormatTime(c.ExpiresAt.Time), how)
	}
	return c, nil
}

// Cosign implements oracle.Cosigner over HTTP. An expired token is refused
// here with an error that says so, before anything is sent.
func (hc *HTTPCosigner) Cosign(ctx context.Context, req oracle.AttestRequest, a *greenmint.Attestation) (greenmint.OracleSignature, error) {
	now := time.Now()
	if hc.Now != nil {
		now = hc.Now()
	}
	if _, err := CheckPeerToken(hc.Token, now); err != nil {
		return greenmint.OracleSignature{}, fmt.Errorf("co-signing with %s: %w", hc.URL, err)
	}
	body, err := json.Marshal(CosignRequest{SiteID: req.SiteID, Instrument: req.Instrument, From: greenmint.FormatTime(req.From), To: greenmint.FormatTime(req.To), Dataset: req.Dataset, Attestation: *a})
	if err != nil {
		return greenmint.OracleSignature{}, err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, hc.URL+"/v1/cosign", bytes.NewReader(body))
	if err != nil {
		return greenmint.OracleSignature{}, err
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Authorization", "Bearer "+hc.Token)
	client := hc.Client
	if client == nil {
		client = &http.Client{Timeout: DefaultCosignTimeout}
	}
	resp, err := client.Do(hr)
	if err != nil {
		return greenmint.OracleSignature{}, greenmint.E(greenmint.EUNAVAILABLE, "", err, "peer oracle %s", hc.URL)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		var p Problem
		if json.Unmarshal(out, &p) == nil && p.Code != "" {
			msg := "peer oracle: " + p.Detail
			if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
				msg = "peer oracle " + hc.URL + " refused the token: " + p.Detail
			}
			return greenmint.OracleSignature{}, &greenmint.Error{Code: p.Code, Message: msg}
		}
		return greenmint.OracleSignature{}, greenmint.Errorf(greenmint.EUNAVAILABLE, "peer oracle %s answered %d", hc.URL, resp.StatusCode)
	}
	var sig greenmint.OracleSignature
	if err := json.Unmarshal(out, &sig); err != nil {
		return greenmint.OracleSignature{}, greenmint.E(greenmint.EINTERNAL, "", err, "peer oracle's signature does not decode")
	}
	return sig, nil
}
