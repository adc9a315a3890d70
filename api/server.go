package api

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/greenmint/greenmint"
	"golang.org/x/net/netutil"
)

// ServerConfig bounds the HTTP server's connections. Zero fields take the
// defaults.
type ServerConfig struct {
	ReadHeaderTimeout time.Duration // to read a request's headers; default 5 s
	ReadTimeout       time.Duration // to read a whole request, body included; default 60 s
	WriteTimeout      time.Duration // from the end of the headers to the end of the answer; default 120 s
	IdleTimeout       time.Duration // a keep-alive connection with no request; default 30 s
	MaxConns          int           // connections open at once; more wait to be accepted; default 256
	MaxHeaderBytes    int           // default 64 KiB
	TLSCert, TLSKey   string        // PEM files; when both are set the server speaks only TLS (1.2 and later)
}

func (sc ServerConfig) withDefaults() ServerConfig {
	if sc.ReadHeaderTimeout == 0 {
		sc.ReadHeaderTimeout = 5 * time.Second
	}
	if sc.ReadTimeout == 0 {
		sc.ReadTimeout = 60 * time.Second
	}
	if sc.WriteTimeout == 0 {
		sc.WriteTimeout = 120 * time.Second
	}
	if sc.IdleTimeout == 0 {
		sc.IdleTimeout = 30 * time.Second
	}
	if sc.MaxConns == 0 {
		sc.MaxConns = 256
	}
	if sc.MaxHeaderBytes == 0 {
		sc.MaxHeaderBytes = 64 << 10
	}
	return sc
}

// Server serves a handler with ServerConfig's timeouts, connection cap and,
// when configured, TLS.
type Server struct {
	cfg ServerConfig
	srv *http.Server
}

// NewServer returns a server of h. It loads the TLS certificate and key
// now, so that a bad pair is an error before anything listens.
func NewServer(h http.Handler, cfg ServerConfig, log *slog.Logger) (*Server, error) {
	cfg = cfg.withDefaults()
	srv := &http.Server{
		Handler: h, ReadHeaderTimeout: cfg.ReadHeaderTimeout, ReadTimeout: cfg.ReadTimeout,
		WriteTimeout: cfg.WriteTimeout, IdleTimeout: cfg.IdleTimeout, MaxHeaderBytes: cfg.MaxHeaderBytes,
	}
	if log != nil {
		srv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return nil, greenmint.Errorf(greenmint.EINVALID, "TLS needs both a certificate and a key (--tls-cert and --tls-key)")
	}
	if cfg.TLSCert != "" {
		pair, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, greenmint.E(greenmint.EINVALID, "", err, "TLS certificate and key")
		}
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}}
	}
	return &Server{cfg: cfg, srv: srv}, nil
}

// TLS reports whether the server speaks TLS.
func (s *Server) TLS() bool { return s.srv.TLSConfig != nil }

// Serve accepts connections on ln, at most MaxConns at once, until
// Shutdown. It returns nil after Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	ln = netutil.LimitListener(ln, s.cfg.MaxConns)
	var err error
	if s.srv.TLSConfig != nil {
		err = s.srv.Serve(tls.NewListener(ln, s.srv.TLSConfig))
	} else {
		err = s.srv.Serve(ln)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting, waits for requests in flight until ctx ends,
// then closes every connection.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
	}
	return err
}
