package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
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
	MaxBody  int64 // bytes per request; default 32 MiB
	MaxBatch int   // readings per request; default 100,000
	Log      *slog.Logger
}

// NewOracleHandler returns the oracle's HTTP service:
//
//	POST /v1/readings   a batch of signed readings (application/json or text/csv), bearer token required;
//	                    200 with a result per reading and a summary
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
