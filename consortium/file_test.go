package consortium_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/consortium"
)

// The documented example is a valid consortium file, and docs/consortium.md
// shows it whole.
func TestExampleFile(t *testing.T) {
	path := filepath.Join("..", "docs", "consortium", "example.json")
	f, err := consortium.ReadFile(path)
	if err != nil {
		t.Fatalf("ReadFile(%s) = %v", path, err)
	}
	if f.RegistryMSP() != "IberRegistryMSP" || len(f.Oracles) != 3 || f.Policy.Threshold != 2 {
		t.Fatalf("example = %+v", f)
	}
	raw, _ := os.ReadFile(path)
	doc, err := os.ReadFile(filepath.Join("..", "docs", "consortium.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), strings.TrimSpace(string(raw))) {
		t.Error("docs/consortium.md does not show docs/consortium/example.json as it is")
	}
}

// Demo is the demo's consortium, and the members of earlier releases'
// workspaces (FileOf) give the same file.
func TestDemoFile(t *testing.T) {
	d := consortium.Demo()
	if err := d.Check(); err != nil {
		t.Fatalf("Demo().Check() = %v", err)
	}
	if got := consortium.FileOf(consortium.DemoMembers); !reflect.DeepEqual(got, d) {
		t.Fatalf("FileOf(DemoMembers) = %+v, want %+v", got, d)
	}
	if got, want := d.Admissions(), consortium.Admissions(consortium.DemoMembers); !reflect.DeepEqual(got, want) {
		t.Fatalf("Demo().Admissions() = %+v, want %+v", got, want)
	}
}

// Check refuses what the network could not be built from, saying why.
func TestCheckRefuses(t *testing.T) {
	tests := []struct {
		name string
		edit func(f *consortium.File)
		want string
	}{
		{"no organisations", func(f *consortium.File) { f.Organizations = nil }, "at least one is needed"},
		{"malformed MSP ID", func(f *consortium.File) { f.Organizations[1].MSPID = "Miner MSP" }, "msp_id \"Miner MSP\" is malformed"},
		{"MSP ID twice", func(f *consortium.File) { f.Organizations[2].MSPID = f.Organizations[1].MSPID }, "listed twice"},
		{"unknown role", func(f *consortium.File) { f.Organizations[1].Roles = []greenmint.Role{"admin"} }, "role \"admin\" is not one of"},
		{"no roles", func(f *consortium.File) { f.Organizations[1].Roles = nil }, "roles: at least one"},
		{"user's role not the organisation's", func(f *consortium.File) { f.Organizations[1].Users[0].Role = greenmint.RoleBuyer }, "does not hold"},
		{"malformed user", func(f *consortium.File) { f.Organizations[1].Users[0].Name = "../x" }, "name \"../x\" is malformed"},
		{"user twice", func(f *consortium.File) {
			f.Organizations[1].Users = append(f.Organizations[1].Users, f.Organizations[1].Users[0])
		}, "user miner is listed twice"},
		{"no registry", func(f *consortium.File) { f.Organizations = f.Organizations[1:] }, "exactly one organisation must hold the registry role, found 0"},
		{"two registries", func(f *consortium.File) {
			f.Organizations[1].Roles = append(f.Organizations[1].Roles, greenmint.RoleRegistry)
		}, "found 2"},
		{"registry without a registrar", func(f *consortium.File) { f.Organizations[0].Users = nil }, "needs a user with the registry role"},
		{"oracle of no oracle user", func(f *consortium.File) { f.Oracles[0].User = "nobody" }, "not a user with the oracle role"},
		{"oracle ID twice", func(f *consortium.File) { f.Oracles[1].OracleID = f.Oracles[0].OracleID }, "oracle_id oracle-a is listed twice"},
		{"oracle user without oracle", func(f *consortium.File) { f.Oracles = f.Oracles[:1]; f.Policy.Threshold = 1 }, "has the oracle role but no entry in oracles"},
		{"threshold above the oracles", func(f *consortium.File) { f.Policy.Threshold = 3 }, "threshold must be 1 to the number of oracles (2), got 3"},
		{"threshold 0", func(f *consortium.File) { f.Policy.Threshold = 0 }, "threshold must be 1"},
		{"tolerance", func(f *consortium.File) { f.Policy.ToleranceBP = 10_001 }, "tolerance_bp must be 0 to 10000"},
		{"reservation period", func(f *consortium.File) { f.Policy.ReservationTTLSeconds = 5 }, "reservation_ttl_seconds"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := consortium.Demo()
			tc.edit(&f)
			err := f.Check()
			if greenmint.ErrorCode(err) != greenmint.EINVALID || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check() = %v, want invalid with %q", err, tc.want)
			}
		})
	}
}

// ReadFile refuses unknown fields and names the file; New writes nothing
// for a file that fails Check, and Load gives back the file New kept.
func TestReadNewLoad(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"organisations":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := consortium.ReadFile(bad); greenmint.ErrorCode(err) != greenmint.EINVALID || !strings.Contains(err.Error(), "bad.json") {
		t.Fatalf("ReadFile(unknown field) = %v, want invalid naming the file", err)
	}
	if _, err := consortium.ReadFile(filepath.Join(dir, "none.json")); greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
		t.Fatalf("ReadFile(missing) = %v, want not_found", err)
	}
	f := consortium.Demo()
	f.Policy.Threshold = 9
	orgs := filepath.Join(dir, "orgs")
	if _, err := consortium.New(orgs, f); greenmint.ErrorCode(err) != greenmint.EINVALID {
		t.Fatalf("New(bad file) = %v", err)
	}
	if _, err := os.Stat(orgs); !os.IsNotExist(err) {
		t.Fatalf("New(bad file) wrote %s", orgs)
	}
	f, err := consortium.ReadFile(filepath.Join("..", "docs", "consortium", "example.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := consortium.New(orgs, f); err != nil {
		t.Fatal(err)
	}
	c, err := consortium.Load(orgs)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.File, f) || len(c.Members) != 8 {
		t.Fatalf("Load gave %+v, %d members", c.File, len(c.Members))
	}
	if _, err := c.OracleKey("EastOracleMSP", "oracle"); err != nil {
		t.Fatalf("no key for an oracle of the file: %v", err)
	}
	if _, err := consortium.New(orgs, f); greenmint.ErrorCode(err) != greenmint.ECONFLICT {
		t.Fatalf("New over a consortium = %v, want conflict", err)
	}
}
