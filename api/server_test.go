package api_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/greenmint/greenmint/api"
	"github.com/greenmint/greenmint/internal/greenminttest"
)

// serve runs the oracle service with cfg on a loopback port and returns
// its address and the service.
func serve(t *testing.T, cfg api.ServerConfig) (string, *oracleServer) {
	t.Helper()
	s, h := newOracleHandler(t)
	srv, err := api.NewServer(h, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		if err := <-done; err != nil {
			t.Errorf("Serve = %v", err)
		}
	})
	scheme := "http://"
	if srv.TLS() {
		scheme = "https://"
	}
	s.url = scheme + ln.Addr().String()
	return ln.Addr().String(), s
}

// closedWithin reports how long the server took to close conn, reading
// and discarding whatever it sends, or fails after limit.
func closedWithin(t *testing.T, conn net.Conn, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	_ = conn.SetReadDeadline(start.Add(limit))
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server kept the connection open for %s", limit)
	}
	return time.Since(start)
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestServerTimeouts holds real sockets open the ways an attacker would:
// one that sends nothing, a POST that announces a body and sends none
// (with and without a token), a keep-alive connection left idle after a
// request. The server closes each within its timeout (short ones here).
func TestServerTimeouts(t *testing.T) {
	cfg := api.ServerConfig{ReadHeaderTimeout: 300 * time.Millisecond, ReadTimeout: 500 * time.Millisecond, WriteTimeout: 2 * time.Second, IdleTimeout: 400 * time.Millisecond}
	addr, s := serve(t, cfg)
	token := s.issue(t, api.KindCollector, "c").Token
	t.Run("silent connection", func(t *testing.T) {
		conn := dial(t, addr)
		if d := closedWithin(t, conn, 3*time.Second); d > 2*time.Second {
			t.Fatalf("closed after %s", d)
		}
	})
	for _, auth := range []string{"", "Authorization: Bearer " + token + "\r\n"} {
		t.Run(fmt.Sprintf("POST announcing a body, token %v", auth != ""), func(t *testing.T) {
			conn := dial(t, addr)
			fmt.Fprintf(conn, "POST /v1/readings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n%sContent-Length: 100000\r\n\r\n", auth)
			if d := closedWithin(t, conn, 3*time.Second); d > 2*time.Second {
				t.Fatalf("closed after %s", d)
			}
		})
	}
	t.Run("idle keep-alive connection", func(t *testing.T) {
		conn := dial(t, addr)
		fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("healthz = %v, %v", resp, err)
		}
		if d := closedWithin(t, conn, 3*time.Second); d > 2*time.Second {
			t.Fatalf("closed after %s", d)
		}
	})
}

// TestConnectionCap: with two connections allowed and two held open by
// silent clients, a third client is served only once the server has
// dropped one of them (after its read-header timeout).
func TestConnectionCap(t *testing.T) {
	const hold = 800 * time.Millisecond
	addr, _ := serve(t, api.ServerConfig{MaxConns: 2, ReadHeaderTimeout: hold, ReadTimeout: 2 * time.Second, IdleTimeout: time.Second})
	for i := 0; i < 2; i++ {
		dial(t, addr)
	}
	time.Sleep(50 * time.Millisecond) // both accepted
	start := time.Now()
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if waited := time.Since(start); resp.StatusCode != 200 || waited < hold/2 {
		t.Fatalf("third connection answered %d after %s; want 200 only after the cap freed a slot (~%s)", resp.StatusCode, waited, hold)
	}
}

// TestServeTLS: with a certificate and key the server speaks TLS only; a
// client that trusts the certificate is served, a plain HTTP request is
// not. A certificate without its key is refused before listening.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := greenminttest.SelfSignedTLS(t, dir)
	addr, s := serve(t, api.ServerConfig{TLSCert: certFile, TLSKey: keyFile})
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get(s.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Fatalf("healthz over TLS = %d, TLS %v", resp.StatusCode, resp.TLS != nil)
	}
	if resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("plain HTTP was served by a TLS server")
		}
	}
	if _, err := api.NewServer(http.NotFoundHandler(), api.ServerConfig{TLSCert: certFile}, nil); err == nil {
		t.Fatal("a certificate without a key was accepted")
	}
	if _, err := api.NewServer(http.NotFoundHandler(), api.ServerConfig{TLSCert: keyFile, TLSKey: keyFile}, nil); err == nil {
		t.Fatal("a key given as the certificate was accepted")
	}
}
