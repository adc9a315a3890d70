package fabricca

import "testing"

// ServerConfig is, for the package's external tests, the configuration
// of organisation mspID on the run's fabric-ca-server; it skips the test
// without one.
func ServerConfig(tb testing.TB, mspID string) Config {
	tb.Helper()
	return needServer(tb).config(mspID)
}
