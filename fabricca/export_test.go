package fabricca

import "testing"

// ServerConfig is, for the package's external tests, the configuration
// of organisation mspID on the run's fabric-ca-server; it skips the test
// without one.
func ServerConfig(tb testing.TB, mspID string) Config {
	tb.Helper()
	return needServer(tb).config(mspID)
}

// StartServer starts, for one test, another fabric-ca-server that is the
// CA of caCert and caKey (PEM files, e.g. an organisation's ca/ca.pem and
// ca/priv_sk as identity.Store writes them), and returns the configuration
// of organisation mspID on it; it skips the test without FABRIC_CA_BIN.
func StartServer(tb testing.TB, mspID, caName, caCert, caKey string) Config {
	tb.Helper()
	needServer(tb)
	s, err := startServer(tb.TempDir(), caName, caCert, caKey)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.stop)
	return s.config(mspID)
}
