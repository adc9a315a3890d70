package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/chaincode"
	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/spf13/cobra"
)

// chaincodeConfig is how `greenmint chaincode` is configured: flags, with
// the GREENMINT_CHAINCODE_* environment variables as defaults. Nothing is
// inherited from Fabric's own CORE_* variables.
type chaincodeConfig struct {
	ID       string // the package ID the peer knows the chaincode by
	IDFile   string // or a file holding it (greenmint fabric init writes one)
	Address  string // listen address
	TLSCert  string // PEM files; TLS is on when cert and key are given
	TLSKey   string
	ClientCA string // when given, the peer must present a certificate from this CA
	// RegistryMSP is the registry's organisation, the only one whose
	// registry identities may bootstrap the ledger; the same on every peer.
	RegistryMSP string
}

func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

func (m *Main) chaincodeCommand() *cobra.Command {
	var c chaincodeConfig
	cmd := &cobra.Command{
		Use:   "chaincode",
		Short: "Serve the contract to Fabric peers (chaincode as a service)",
		Long: "Serves the Greenmint contract over gRPC for Fabric peers, as an external chaincode service.\n" +
			"Configure with flags or GREENMINT_CHAINCODE_ID, GREENMINT_CHAINCODE_ADDRESS,\n" +
			"GREENMINT_CHAINCODE_TLS_CERT, GREENMINT_CHAINCODE_TLS_KEY, GREENMINT_CHAINCODE_CLIENT_CA\n" +
			"and GREENMINT_REGISTRY_MSP (the registry's organisation, identical for every peer:\n" +
			"without it the contract refuses Bootstrap).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			srv, err := c.server()
			if err != nil {
				return err
			}
			registry := c.RegistryMSP
			if registry == "" {
				registry = "none configured: Bootstrap is refused"
			}
			if m.asJSON {
				err = json.NewEncoder(m.Out).Encode(map[string]any{"package_id": c.ID, "address": c.Address, "tls": !srv.TLSProps.Disabled, "registry_msp": c.RegistryMSP})
			} else {
				_, err = fmt.Fprintf(m.Out, "greenmint chaincode %s listening on %s (TLS %v, registry %s)\n", c.ID, c.Address, !srv.TLSProps.Disabled, registry)
			}
			if err != nil {
				return err
			}
			done := make(chan error, 1)
			go func() { done <- srv.Start() }()
			select {
			case err := <-done:
				return fmt.Errorf("chaincode server: %w", err)
			case <-cmd.Context().Done():
				return nil
			}
		},
	}
	f := cmd.Flags()
	f.StringVar(&c.ID, "id", envOr("GREENMINT_CHAINCODE_ID", ""), "chaincode package ID (label:sha256) as installed on the peers [GREENMINT_CHAINCODE_ID]")
	f.StringVar(&c.IDFile, "id-file", envOr("GREENMINT_CHAINCODE_ID_FILE", ""), "file holding the package ID [GREENMINT_CHAINCODE_ID_FILE]")
	f.StringVar(&c.Address, "address", envOr("GREENMINT_CHAINCODE_ADDRESS", "127.0.0.1:9999"), "listen address [GREENMINT_CHAINCODE_ADDRESS]")
	f.StringVar(&c.TLSCert, "tls-cert", envOr("GREENMINT_CHAINCODE_TLS_CERT", ""), "server certificate PEM [GREENMINT_CHAINCODE_TLS_CERT]")
	f.StringVar(&c.TLSKey, "tls-key", envOr("GREENMINT_CHAINCODE_TLS_KEY", ""), "server key PEM [GREENMINT_CHAINCODE_TLS_KEY]")
	f.StringVar(&c.ClientCA, "client-ca", envOr("GREENMINT_CHAINCODE_CLIENT_CA", ""), "CA of the peers' client certificates [GREENMINT_CHAINCODE_CLIENT_CA]")
	f.StringVar(&c.RegistryMSP, "registry-msp", envOr("GREENMINT_REGISTRY_MSP", ""), "MSP ID of the registry's organisation, the only one that may bootstrap the ledger [GREENMINT_REGISTRY_MSP]")
	return cmd
}

// server builds the chaincode server from the configuration.
func (c *chaincodeConfig) server() (*shim.ChaincodeServer, error) {
	if c.ID == "" && c.IDFile != "" {
		b, err := os.ReadFile(c.IDFile)
		if err != nil {
			return nil, &greenmint.Error{Code: greenmint.EINVALID, Message: "cannot read the package ID", Err: err}
		}
		c.ID = strings.TrimSpace(string(b))
	}
	if c.ID == "" {
		return nil, greenmint.Errorf(greenmint.EINVALID, "the chaincode package ID is required (--id, --id-file or GREENMINT_CHAINCODE_ID)")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return nil, greenmint.Errorf(greenmint.EINVALID, "TLS needs both a certificate and a key")
	}
	cc, err := chaincode.New(chaincode.Config{RegistryMSP: c.RegistryMSP})
	if err != nil {
		return nil, err
	}
	srv := &shim.ChaincodeServer{CCID: c.ID, Address: c.Address, CC: cc, TLSProps: shim.TLSProperties{Disabled: true}}
	if c.TLSCert != "" {
		srv.TLSProps.Disabled = false
		for _, f := range []struct {
			path string
			dst  *[]byte
		}{{c.TLSCert, &srv.TLSProps.Cert}, {c.TLSKey, &srv.TLSProps.Key}, {c.ClientCA, &srv.TLSProps.ClientCACerts}} {
			if f.path == "" {
				continue
			}
			b, err := os.ReadFile(f.path)
			if err != nil {
				return nil, &greenmint.Error{Code: greenmint.EINVALID, Message: "cannot read " + f.path, Err: err}
			}
			*f.dst = b
		}
	}
	return srv, nil
}
