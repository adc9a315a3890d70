package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"net/http"
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
	Tokens   TokenConfig
	Cosigner cosigner // when set, POST /v1/cosign serves peer oracles
	MaxBody  int64    // bytes per request; default 32 MiB
	MaxBatch int      // readings per request; default 100,000
	Log      *slog.Logger
}

// NewOracleHandler returns the oracle's HTTP service:
//
//	POST /v1/readings   a batch of signed readings (application/json or text/csv), bearer token required;
//	                    200 with a result per reading and a summary
//	POST /v1/cosign     a peer oracle's attestation to co-sign (when a Cosigner is configured)
//	GET  /healthz       liveness
//	GET  /metrics       Prometheus metrics
func NewOracleHandler(cfg OracleConfig, in ingester) http.Handler {
	if cfg.MaxBody == 0 {
		cfg.MaxBody = 32 << 20
	}
	if cfg.MaxBatch == 0 {
		cfg.MaxBatch = 100_000
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	gin.SetMode(gin.ReleaseMode)
	reg := prometheus.NewRegistry()
	m := newMetrics(reg)
	r := gin.New()
	r.Use(gin.Recovery(), requestID(), m.middleware(), problems(cfg.Log))
	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.GET("/metrics", gin.WrapH(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
	if cfg.Cosigner != nil {
		cosignRoute(r, cfg.Tokens, cfg.Cosigner)
	}
	r.POST("/v1/readings", authenticate(cfg.Tokens), func(c *gin.Context) {
		body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, cfg.MaxBody))
		if err != nil {
			fail(c, greenmint.Errorf(greenmint.EINVALID, "body over %d bytes or unreadable: %v", cfg.MaxBody, err))
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

func requestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader("X-Request-ID")
		if id == "" || len(id) > 64 {
			b := make([]byte, 8)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		c.Set("request_id", id)
		c.Header("X-Request-ID", id)
		c.Next()
	}
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
// from this oracle's readings and signed only if the bytes are the same
// (409 with where they differ otherwise).
func cosignRoute(r *gin.Engine, tokens TokenConfig, cs cosigner) {
	r.POST("/v1/cosign", authenticate(tokens), func(c *gin.Context) {
		body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, 64<<20))
		if err != nil {
			fail(c, greenmint.Errorf(greenmint.EINVALID, "unreadable body: %v", err))
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
		sig, err := cs.Cosign(c.Request.Context(), oracle.AttestRequest{SiteID: req.SiteID, Instrument: req.Instrument, From: from, To: to, Dataset: req.Dataset}, &req.Attestation)
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, sig)
	})
}

// HTTPCosigner asks a peer oracle's /v1/cosign endpoint to co-sign.
type HTTPCosigner struct {
	URL    string // the peer's base URL
	Token  string // a bearer token the peer accepts
	Client *http.Client
}

// Cosign implements oracle.Cosigner over HTTP.
func (hc *HTTPCosigner) Cosign(ctx context.Context, req oracle.AttestRequest, a *greenmint.Attestation) (greenmint.OracleSignature, error) {
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
		client = http.DefaultClient
	}
	resp, err := client.Do(hr)
	if err != nil {
		return greenmint.OracleSignature{}, greenmint.Errorf(greenmint.EUNAVAILABLE, "peer oracle %s: %v", hc.URL, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		var p Problem
		if json.Unmarshal(out, &p) == nil && p.Code != "" {
			return greenmint.OracleSignature{}, &greenmint.Error{Code: p.Code, Message: "peer oracle: " + p.Detail}
		}
		return greenmint.OracleSignature{}, greenmint.Errorf(greenmint.EUNAVAILABLE, "peer oracle %s answered %d", hc.URL, resp.StatusCode)
	}
	var sig greenmint.OracleSignature
	if err := json.Unmarshal(out, &sig); err != nil {
		return greenmint.OracleSignature{}, greenmint.Errorf(greenmint.EINTERNAL, "peer oracle's signature does not decode: %v", err)
	}
	return sig, nil
}
