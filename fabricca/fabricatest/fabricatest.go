// Package fabricatest runs a real fabric-ca-server for tests: the one
// that FABRIC_CA_BIN names (a directory holding it, built from
// hyperledger/fabric-ca v1.5.x as docs/fabric-ca.md says), on a free
// loopback port with TLS and a temporary home. Without FABRIC_CA_BIN the
// tests that need one skip, saying how to run them.
package fabricatest

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BinEnv names the variable that points the tests at a directory holding
// fabric-ca-server.
const BinEnv = "FABRIC_CA_BIN"

// The bootstrap identity of the servers Start starts.
const (
	Registrar = "admin"
	Secret    = "adminpw"
)

// SkipMessage says why a test that needs a Fabric CA skipped.
const SkipMessage = "Fabric CA tests skipped: set " + BinEnv + " to a directory holding fabric-ca-server (built from hyperledger/fabric-ca v1.5.x, see docs/fabric-ca.md)"

// Available reports whether BinEnv is set.
func Available() bool { return os.Getenv(BinEnv) != "" }

// Server is a running fabric-ca-server.
type Server struct {
	URL         string // https://localhost:PORT
	Home        string
	CAName      string
	TLSRootFile string // the CA's certificate: the server's TLS certificate is issued by its CA
	TLSRootPEM  []byte
	cmd         *exec.Cmd
	log         string
}

// Start starts fabric-ca-server with TLS and CA name caName on a free
// loopback port with its home in home, with bootstrap identity
// Registrar:Secret, and waits (up to a minute) until it answers cainfo.
// Given caCert and caKey (PEM files, e.g. an organisation's ca/ca.pem and
// ca/priv_sk as identity.Store writes them), the server is that CA;
// otherwise it makes its own (home/ca-cert.pem).
func Start(home, caName, caCert, caKey string) (*Server, error) {
	bin := filepath.Join(os.Getenv(BinEnv), "fabric-ca-server")
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%s=%s holds no fabric-ca-server: %w", BinEnv, os.Getenv(BinEnv), err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	ops, err := freePort()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(home, "server.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	args := []string{"start", "-b", Registrar + ":" + Secret, "-H", home, "--address", "127.0.0.1", "--port", strconv.Itoa(port),
		"--operations.listenaddress", "127.0.0.1:" + strconv.Itoa(ops), "--tls.enabled", "--ca.name", caName,
		"--csr.hosts", "localhost,127.0.0.1"}
	if caCert == "" {
		caCert = filepath.Join(home, "ca-cert.pem")
	} else {
		args = append(args, "--ca.certfile", caCert, "--ca.keyfile", caKey)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &Server{URL: "https://localhost:" + strconv.Itoa(port), Home: home, CAName: caName, TLSRootFile: caCert, cmd: cmd, log: logPath}
	deadline := time.Now().Add(time.Minute)
	for {
		err := s.ready()
		if err == nil {
			return s, nil
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("fabric-ca-server did not answer on %s within a minute: %w\n%s", s.URL, err, lastLines(s.Log(), 20))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// StartTB is Start for one test: in a temporary home, stopped at the
// test's end; the test skips without BinEnv and fails if the server does
// not start.
func StartTB(tb testing.TB, caName, caCert, caKey string) *Server {
	tb.Helper()
	if !Available() {
		tb.Skip(SkipMessage)
	}
	s, err := Start(tb.TempDir(), caName, caCert, caKey)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Stop)
	return s
}

func (s *Server) ready() error {
	ca, err := os.ReadFile(s.TLSRootFile)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := c.Get(s.URL + "/api/v1/cainfo?ca=" + s.CAName)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("cainfo: HTTP %d", resp.StatusCode)
	}
	s.TLSRootPEM = ca
	return nil
}

// Log returns what the server logged so far (it logs the serial number of
// every certificate it signs).
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.log)
	return string(b)
}

// Stop kills the server and waits for it.
func (s *Server) Stop() {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
