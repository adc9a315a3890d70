package greenmint_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDomainDependsOnStandardLibraryOnly fails if package greenmint imports
// anything but the standard library (and so gin, gorm, jwt or net/http).
func TestDomainDependsOnStandardLibraryOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if p == "net/http" || (strings.Contains(strings.SplitN(p, "/", 2)[0], ".") && p != "github.com/greenmint/greenmint") {
			t.Errorf("package greenmint depends on %s", p)
		}
	}
}
