package fabricca

import (
	"context"
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

// The bootstrap identity of the test servers.
const (
	testRegistrar = "admin"
	testSecret    = "adminpw"
	testCAName    = "ca-fabminer"
)

// testServer is a fabric-ca-server started for this test run.
type testServer struct {
	URL    string // https://localhost:PORT
	Home   string
	CAName string
	TLS    []byte // the TLS root (the CA's certificate): the server's TLS certificate is issued by its CA
	cmd    *exec.Cmd
	log    string
	caCert string // the CA's certificate file
}

// shared is the server of the run (TestMain), nil without FABRIC_CA_BIN.
var shared *testServer

func TestMain(m *testing.M) {
	code := func() int {
		if os.Getenv(BinEnv) == "" {
			return m.Run()
		}
		home, err := os.MkdirTemp("", "fabricca-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(home)
		s, err := startServer(home, testCAName, "", "")
		if err != nil {
			fmt.Fprintln(os.Stderr, "fabricca tests:", err)
			return 1
		}
		defer s.stop()
		shared = s
		return m.Run()
	}()
	os.Exit(code)
}

// needServer returns the run's Fabric CA server, or skips the test saying
// how to get one.
func needServer(tb testing.TB) *testServer {
	tb.Helper()
	if shared == nil {
		tb.Skipf("Fabric CA tests skipped: set %s to a directory holding fabric-ca-server (built from hyperledger/fabric-ca v1.5.x, see docs/fabric-ca.md)", BinEnv)
	}
	return shared
}

// config is the Fabric CA configuration of organisation mspID on s.
func (s *testServer) config(mspID string) Config {
	return Config{MSPID: mspID, URL: s.URL, CAName: s.CAName, TLSRootCertPEM: s.TLS, Registrar: testRegistrar}.WithSecret(testSecret)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startServer starts fabric-ca-server with TLS on a free port with its
// home in home, and waits until it answers cainfo. Given caCert and
// caKey (PEM files), the server is that CA; otherwise it makes its own
// (home/ca-cert.pem). Its TLS certificate is issued by its CA.
func startServer(home, caName, caCert, caKey string) (*testServer, error) {
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
	args := []string{"start", "-b", testRegistrar + ":" + testSecret, "-H", home, "--address", "127.0.0.1", "--port", strconv.Itoa(port),
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
	s := &testServer{URL: "https://localhost:" + strconv.Itoa(port), Home: home, CAName: caName, cmd: cmd, log: logPath, caCert: caCert}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if err := s.ready(); err == nil {
			return s, nil
		} else if time.Now().After(deadline) {
			s.stop()
			tail, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("fabric-ca-server did not answer on %s within 60 s: %v\n%s", s.URL, err, lastLines(string(tail), 20))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (s *testServer) ready() error {
	ca, err := os.ReadFile(s.caCert)
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
	s.TLS = ca
	return nil
}

func (s *testServer) stop() {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// mustNew connects to the run's server as the CA of the organisations
// mspIDs.
func mustNew(tb testing.TB, s *testServer, mspIDs ...string) *CA {
	tb.Helper()
	var cfgs []Config
	for _, id := range mspIDs {
		cfgs = append(cfgs, s.config(id))
	}
	ca, err := New(context.Background(), cfgs, Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return ca
}
