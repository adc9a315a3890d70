package fabricca

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/greenmint/greenmint/fabricca/fabricatest"
)

// The bootstrap identity and CA name of the run's server.
const (
	testRegistrar = fabricatest.Registrar
	testSecret    = fabricatest.Secret
	testCAName    = "ca-fabminer"
)

// shared is the fabric-ca-server of the run (TestMain), nil without
// FABRIC_CA_BIN.
var shared *fabricatest.Server

func TestMain(m *testing.M) {
	code := func() int {
		if !fabricatest.Available() {
			return m.Run()
		}
		home, err := os.MkdirTemp("", "fabricca-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(home)
		s, err := fabricatest.Start(home, testCAName, "", "")
		if err != nil {
			fmt.Fprintln(os.Stderr, "fabricca tests:", err)
			return 1
		}
		defer s.Stop()
		shared = s
		return m.Run()
	}()
	os.Exit(code)
}

// needServer returns the run's Fabric CA server, or skips the test saying
// how to get one.
func needServer(tb testing.TB) *fabricatest.Server {
	tb.Helper()
	if shared == nil {
		tb.Skip(fabricatest.SkipMessage)
	}
	return shared
}

// configOf is the configuration of organisation mspID on s, as its
// bootstrap registrar.
func configOf(s *fabricatest.Server, mspID string) Config {
	return Config{MSPID: mspID, URL: s.URL, CAName: s.CAName, TLSRootCertPEM: s.TLSRootPEM, Registrar: fabricatest.Registrar}.WithSecret(fabricatest.Secret)
}

// mustNew connects to the run's server as the CA of the organisations
// mspIDs.
func mustNew(tb testing.TB, s *fabricatest.Server, mspIDs ...string) *CA {
	tb.Helper()
	var cfgs []Config
	for _, id := range mspIDs {
		cfgs = append(cfgs, configOf(s, id))
	}
	ca, err := New(context.Background(), cfgs, Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return ca
}
