package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestChaincodeServerConfig(t *testing.T) {
	dir := t.TempDir()
	idFile := filepath.Join(dir, "package_id")
	if err := os.WriteFile(idFile, []byte("greenmint_1:abc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		c    chaincodeConfig
		want string // "" = valid
	}{
		{"id", chaincodeConfig{ID: "greenmint_1:abc", Address: "127.0.0.1:0"}, ""},
		{"registry", chaincodeConfig{ID: "greenmint_1:abc", Address: "127.0.0.1:0", RegistryMSP: "RegistryMSP"}, ""},
		{"malformed registry", chaincodeConfig{ID: "x", RegistryMSP: "Registry MSP"}, "registry MSP"},
		{"id from file", chaincodeConfig{IDFile: idFile, Address: "127.0.0.1:0"}, ""},
		{"no id", chaincodeConfig{Address: "127.0.0.1:0"}, "package ID is required"},
		{"missing id file", chaincodeConfig{IDFile: filepath.Join(dir, "none")}, "cannot read the package ID"},
		{"certificate without key", chaincodeConfig{ID: "x", TLSCert: idFile}, "both a certificate and a key"},
		{"unreadable TLS file", chaincodeConfig{ID: "x", TLSCert: filepath.Join(dir, "none"), TLSKey: filepath.Join(dir, "none")}, "cannot read"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := tc.c.server()
			if tc.want == "" {
				if err != nil || srv.CCID != "greenmint_1:abc" || !srv.TLSProps.Disabled {
					t.Fatalf("server() = %+v, %v", srv, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("server() = %v, want an error with %q", err, tc.want)
			}
		})
	}
}
