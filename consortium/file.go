package consortium

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/greenmint/greenmint"
)

// File is a consortium file: the organisations of a network with the roles
// the registry admits them to, the users that act for them, the oracles
// that sign attestations and the registry's first policy. `greenmint init
// --consortium FILE` reads one (docs/consortium.md; a complete example is
// docs/consortium/example.json); Demo is the demo's.
type File struct {
	Organizations []Organization `json:"organizations"`
	Oracles       []Oracle       `json:"oracles"`
	Policy        Policy         `json:"policy"`
}

// Organization is one organisation: its MSP ID, the roles it acts in and
// its users. Exactly one organisation of a file holds the registry role:
// the contract is configured with it (chaincode.Config.RegistryMSP). The
// registry admits every organisation to its other roles at bootstrap (R11).
type Organization struct {
	MSPID string           `json:"msp_id"`
	Roles []greenmint.Role `json:"roles"`
	Users []User           `json:"users"`
}

// User is a user of an organisation with one of its roles: a ledger
// identity issued by the organisation's CA.
type User struct {
	Name string         `json:"name"`
	Role greenmint.Role `json:"role"`
}

// Oracle is an attestation-signing oracle: the oracle ID the ledger
// registers its Ed25519 key under and the oracle user that runs it.
type Oracle struct {
	OracleID string `json:"oracle_id"`
	MSPID    string `json:"msp_id"`
	User     string `json:"user"`
}

// Policy is the registry's first policy, set at bootstrap: how many
// distinct oracles must sign an attestation (R5), the tolerance on a
// reading's energy above capacity × duration in basis points (R6), and how
// long a reservation holds (0: the contract's default).
type Policy struct {
	Threshold             int64 `json:"threshold"`
	ToleranceBP           int64 `json:"tolerance_bp"`
	ReservationTTLSeconds int64 `json:"reservation_ttl_seconds,omitempty"`
}

// Request is the policy as the Bootstrap transaction takes it.
func (p Policy) Request() greenmint.PolicyRequest {
	return greenmint.PolicyRequest{Threshold: p.Threshold, ToleranceBP: p.ToleranceBP, ReservationTTLSeconds: p.ReservationTTLSeconds}
}

// Oracle IDs of the demo consortium.
const (
	DemoOracleAID = "oracle-a"
	DemoOracleBID = "oracle-b"
)

// Demo returns the demo's consortium file: the registry, two miners, two
// oracles (threshold 2), an auditor and a buyer, 5% tolerance.
func Demo() File {
	return File{
		Organizations: []Organization{
			{MSPID: RegistryMSP, Roles: []greenmint.Role{greenmint.RoleRegistry}, Users: []User{{"registrar", greenmint.RoleRegistry}}},
			{MSPID: MinerMSP, Roles: []greenmint.Role{greenmint.RoleMiner}, Users: []User{{"miner", greenmint.RoleMiner}}},
			{MSPID: Miner2MSP, Roles: []greenmint.Role{greenmint.RoleMiner}, Users: []User{{"miner", greenmint.RoleMiner}}},
			{MSPID: OracleAMSP, Roles: []greenmint.Role{greenmint.RoleOracle}, Users: []User{{"oracle", greenmint.RoleOracle}}},
			{MSPID: OracleBMSP, Roles: []greenmint.Role{greenmint.RoleOracle}, Users: []User{{"oracle", greenmint.RoleOracle}}},
			{MSPID: AuditorMSP, Roles: []greenmint.Role{greenmint.RoleAuditor}, Users: []User{{"auditor", greenmint.RoleAuditor}}},
			{MSPID: BuyerMSP, Roles: []greenmint.Role{greenmint.RoleBuyer}, Users: []User{{"buyer", greenmint.RoleBuyer}}},
		},
		Oracles: []Oracle{
			{OracleID: DemoOracleAID, MSPID: OracleAMSP, User: "oracle"},
			{OracleID: DemoOracleBID, MSPID: OracleBMSP, User: "oracle"},
		},
		Policy: Policy{Threshold: 2, ToleranceBP: 500},
	}
}

// FileOf is the consortium file of a list of members, as written before
// consortium files existed: each organisation holds its members' roles,
// each oracle user is an oracle (the demo's IDs for the demo's oracles,
// else "<msp>-<user>" in lower case) and the policy is the demo's with the
// threshold capped at the number of oracles.
func FileOf(members []Member) File {
	demo := Demo()
	var f File
	index := map[string]int{}
	for _, m := range members {
		i, ok := index[m.MSPID]
		if !ok {
			i = len(f.Organizations)
			index[m.MSPID] = i
			f.Organizations = append(f.Organizations, Organization{MSPID: m.MSPID})
		}
		o := &f.Organizations[i]
		if !hasRole(o.Roles, m.Role) {
			o.Roles = append(o.Roles, m.Role)
		}
		o.Users = append(o.Users, User{Name: m.User, Role: m.Role})
		if m.Role == greenmint.RoleOracle {
			id := strings.ToLower(m.MSPID + "-" + m.User)
			for _, d := range demo.Oracles {
				if d.MSPID == m.MSPID && d.User == m.User {
					id = d.OracleID
				}
			}
			f.Oracles = append(f.Oracles, Oracle{OracleID: id, MSPID: m.MSPID, User: m.User})
		}
	}
	f.Policy = demo.Policy
	f.Policy.Threshold = min(f.Policy.Threshold, int64(len(f.Oracles)))
	return f
}

func hasRole(roles []greenmint.Role, r greenmint.Role) bool {
	for _, x := range roles {
		if x == r {
			return true
		}
	}
	return false
}

// namePattern is what MSP IDs, user names and oracle IDs must match: the
// contract's pattern, and safe as a directory name.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ReadFile reads and checks a consortium file. Unknown fields are refused.
// A file that cannot be read is ENOTFOUND; one that does not decode or
// fails Check is EINVALID, naming the file.
func ReadFile(path string) (File, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return File{}, &greenmint.Error{Code: greenmint.ENOTFOUND, Message: "consortium file " + path, Err: err}
	}
	var f File
	if err := greenmint.DecodeStrict(raw, &f); err != nil {
		return File{}, fmt.Errorf("consortium file %s: %w", path, err)
	}
	if err := f.Check(); err != nil {
		return File{}, fmt.Errorf("consortium file %s: %w", path, err)
	}
	return f, nil
}

// Check refuses a file the network could not be built from, as EINVALID
// with the reason: a malformed or repeated name, an unknown role, a user
// whose role its organisation does not hold, not exactly one registry
// organisation, an oracle that names no oracle user (or an oracle user
// with no oracle), a threshold above the number of oracles, or a policy the
// contract refuses.
func (f File) Check() error {
	bad := func(format string, args ...any) error { return greenmint.Errorf(greenmint.EINVALID, format, args...) }
	if len(f.Organizations) == 0 {
		return bad("organizations: at least one is needed")
	}
	valid := append(greenmint.AdmissibleRoles(), greenmint.RoleRegistry)
	var registries []string
	users := map[[2]string]greenmint.Role{}
	orgs := map[string]bool{}
	for i, o := range f.Organizations {
		if !namePattern.MatchString(o.MSPID) {
			return bad("organizations[%d]: msp_id %q is malformed (want %s)", i, o.MSPID, namePattern)
		}
		if orgs[o.MSPID] {
			return bad("organizations[%d]: msp_id %s is listed twice", i, o.MSPID)
		}
		orgs[o.MSPID] = true
		if len(o.Roles) == 0 {
			return bad("organization %s: roles: at least one of %v is needed", o.MSPID, valid)
		}
		for _, r := range o.Roles {
			if !hasRole(valid, r) {
				return bad("organization %s: role %q is not one of %v", o.MSPID, r, valid)
			}
		}
		if hasRole(o.Roles, greenmint.RoleRegistry) {
			registries = append(registries, o.MSPID)
		}
		for j, u := range o.Users {
			if !namePattern.MatchString(u.Name) {
				return bad("organization %s: users[%d]: name %q is malformed (want %s)", o.MSPID, j, u.Name, namePattern)
			}
			if _, ok := users[[2]string{o.MSPID, u.Name}]; ok {
				return bad("organization %s: user %s is listed twice", o.MSPID, u.Name)
			}
			if !hasRole(o.Roles, u.Role) {
				return bad("organization %s: user %s has role %q, which the organisation does not hold (%v)", o.MSPID, u.Name, u.Role, o.Roles)
			}
			users[[2]string{o.MSPID, u.Name}] = u.Role
		}
	}
	if len(registries) != 1 {
		return bad("exactly one organisation must hold the registry role, found %d %v", len(registries), registries)
	}
	reg := f.Organizations[f.index(registries[0])]
	if !hasUserWith(reg.Users, greenmint.RoleRegistry) {
		return bad("organization %s: the registry needs a user with the registry role to bootstrap the ledger", reg.MSPID)
	}
	ids := map[string]bool{}
	oracleUsers := map[[2]string]bool{}
	for i, o := range f.Oracles {
		if !namePattern.MatchString(o.OracleID) {
			return bad("oracles[%d]: oracle_id %q is malformed (want %s)", i, o.OracleID, namePattern)
		}
		if ids[o.OracleID] {
			return bad("oracles[%d]: oracle_id %s is listed twice", i, o.OracleID)
		}
		ids[o.OracleID] = true
		k := [2]string{o.MSPID, o.User}
		if users[k] != greenmint.RoleOracle {
			return bad("oracle %s: %s of %s is not a user with the oracle role", o.OracleID, o.User, o.MSPID)
		}
		if oracleUsers[k] {
			return bad("oracle %s: user %s of %s already runs another oracle", o.OracleID, o.User, o.MSPID)
		}
		oracleUsers[k] = true
	}
	for _, o := range f.Organizations {
		for _, u := range o.Users {
			if u.Role == greenmint.RoleOracle && !oracleUsers[[2]string{o.MSPID, u.Name}] {
				return bad("user %s of %s has the oracle role but no entry in oracles (give it an oracle_id)", u.Name, o.MSPID)
			}
		}
	}
	p := f.Policy
	if p.Threshold < 1 || p.Threshold > int64(len(f.Oracles)) {
		return bad("policy: threshold must be 1 to the number of oracles (%d), got %d", len(f.Oracles), p.Threshold)
	}
	if p.ToleranceBP < 0 || p.ToleranceBP > 10_000 {
		return bad("policy: tolerance_bp must be 0 to 10000, got %d", p.ToleranceBP)
	}
	if p.ReservationTTLSeconds != 0 {
		if err := greenmint.CheckReservationTTL(p.ReservationTTLSeconds); err != nil {
			return fmt.Errorf("policy: %w", err)
		}
	}
	return nil
}

func hasUserWith(users []User, r greenmint.Role) bool {
	for _, u := range users {
		if u.Role == r {
			return true
		}
	}
	return false
}

func (f File) index(mspID string) int {
	for i, o := range f.Organizations {
		if o.MSPID == mspID {
			return i
		}
	}
	return -1
}

// RegistryMSP returns the MSP ID of the organisation that holds the
// registry role ("" if none does).
func (f File) RegistryMSP() string {
	for _, o := range f.Organizations {
		if hasRole(o.Roles, greenmint.RoleRegistry) {
			return o.MSPID
		}
	}
	return ""
}

// Registrar returns the registry's first user with the registry role, the
// identity that bootstraps the ledger; ENOTFOUND if there is none.
func (f File) Registrar() (mspID, user string, err error) {
	msp := f.RegistryMSP()
	if i := f.index(msp); i >= 0 {
		for _, u := range f.Organizations[i].Users {
			if u.Role == greenmint.RoleRegistry {
				return msp, u.Name, nil
			}
		}
	}
	return "", "", greenmint.Errorf(greenmint.ENOTFOUND, "the consortium has no registry user")
}

// Members returns every user of every organisation, in the file's order.
func (f File) Members() []Member {
	var out []Member
	for _, o := range f.Organizations {
		for _, u := range o.Users {
			out = append(out, Member{MSPID: o.MSPID, User: u.Name, Role: u.Role})
		}
	}
	return out
}

// Admissions returns, in MSP ID order, the request that admits each
// organisation to its roles other than registry (R11), roles sorted;
// organisations with no other role are left out.
func (f File) Admissions() []greenmint.AdmitOrganizationRequest {
	var out []greenmint.AdmitOrganizationRequest
	for _, o := range f.Organizations {
		req := greenmint.AdmitOrganizationRequest{MSPID: o.MSPID}
		for _, r := range o.Roles {
			if greenmint.CheckAdmissibleRole(r) == nil && !hasRole(req.Roles, r) {
				req.Roles = append(req.Roles, r)
			}
		}
		if len(req.Roles) == 0 {
			continue
		}
		sort.Slice(req.Roles, func(i, j int) bool { return req.Roles[i] < req.Roles[j] })
		out = append(out, req)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].MSPID < out[j].MSPID })
	return out
}

// OracleByID returns the oracle with that ID; ENOTFOUND if none.
func (f File) OracleByID(id string) (Oracle, error) {
	for _, o := range f.Oracles {
		if o.OracleID == id {
			return o, nil
		}
	}
	return Oracle{}, greenmint.Errorf(greenmint.ENOTFOUND, "the consortium has no oracle %s", id)
}

// OracleOf returns the oracle a user runs; ENOTFOUND if the user runs none.
func (f File) OracleOf(mspID, user string) (Oracle, error) {
	for _, o := range f.Oracles {
		if o.MSPID == mspID && o.User == user {
			return o, nil
		}
	}
	return Oracle{}, greenmint.Errorf(greenmint.ENOTFOUND, "%s of %s runs no oracle of the consortium (its oracles: %s)", user, mspID, f.oracleList())
}

func (f File) oracleList() string {
	var s []string
	for _, o := range f.Oracles {
		s = append(s, o.MSPID+":"+o.User)
	}
	return strings.Join(s, ", ")
}

// MarshalIndent returns the file as indented JSON.
func (f File) MarshalIndent() ([]byte, error) {
	return json.MarshalIndent(f, "", "  ")
}
