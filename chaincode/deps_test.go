package chaincode_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestContractDependencies fails if the contract pulls in the REST stack
// (gin, gorm, jwt) or if any Greenmint package it is built from imports
// net/http. (The Fabric shim itself reaches net/http through gRPC; that is
// Fabric's transport, not ours, so only our own packages are held to it.)
func TestContractDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{join .Imports \",\"}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, " ")
		for _, banned := range []string{"github.com/gin-gonic/", "gorm.io/", "github.com/golang-jwt/"} {
			if strings.HasPrefix(pkg, banned) {
				t.Errorf("the contract depends on %s", pkg)
			}
		}
		if strings.HasPrefix(pkg, "github.com/greenmint/greenmint") {
			for _, imp := range strings.Split(imports, ",") {
				if imp == "net/http" {
					t.Errorf("%s imports net/http", pkg)
				}
			}
		}
	}
}
