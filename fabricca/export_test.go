package fabricca

import (
	"testing"

	"github.com/greenmint/greenmint/fabricca/fabricatest"
)

// ServerConfig is, for the package's external tests, the configuration
// of organisation mspID on the run's fabric-ca-server; it skips the test
// without one.
func ServerConfig(tb testing.TB, mspID string) Config {
	tb.Helper()
	return configOf(needServer(tb), mspID)
}

// ConfigOf is the configuration of organisation mspID on a server of
// fabricatest, as its bootstrap registrar.
func ConfigOf(s *fabricatest.Server, mspID string) Config { return configOf(s, mspID) }
