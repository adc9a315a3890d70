// Package consortium creates and loads the organisations of a Greenmint
// network: one CA per organisation, the users that act for it with their
// roles, and the Ed25519 attestation keys of its oracles. The demo, the
// operator CLI and the tests all start from it.
package consortium

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/identity"
)

// Member is one user of one organisation with one role.
type Member struct {
	MSPID string         `json:"msp_id"`
	User  string         `json:"user"`
	Role  greenmint.Role `json:"role"`
}

// The demo consortium's organisations.
const (
	RegistryMSP = "RegistryMSP"
	MinerMSP    = "MinerMSP"
	Miner2MSP   = "Miner2MSP"
	OracleAMSP  = "OracleAMSP"
	OracleBMSP  = "OracleBMSP"
	AuditorMSP  = "AuditorMSP"
	BuyerMSP    = "BuyerMSP"
)

// DemoMembers is the consortium of the demo and the tests: the members of
// Demo's file.
var DemoMembers = Demo().Members()

// Admissions returns, for each organisation of members in MSP ID order, the
// request that admits it on the ledger to the roles its members hold (R11),
// sorted; the registry role is left out, as the contract's configuration
// fixes it. Organisations with no other role are left out.
func Admissions(members []Member) []greenmint.AdmitOrganizationRequest {
	roles := map[string]map[greenmint.Role]bool{}
	for _, m := range members {
		if greenmint.CheckAdmissibleRole(m.Role) != nil {
			continue
		}
		if roles[m.MSPID] == nil {
			roles[m.MSPID] = map[greenmint.Role]bool{}
		}
		roles[m.MSPID][m.Role] = true
	}
	out := make([]greenmint.AdmitOrganizationRequest, 0, len(roles))
	for msp, set := range roles {
		req := greenmint.AdmitOrganizationRequest{MSPID: msp}
		for r := range set {
			req.Roles = append(req.Roles, r)
		}
		sort.Slice(req.Roles, func(i, j int) bool { return req.Roles[i] < req.Roles[j] })
		out = append(out, req)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].MSPID < out[j].MSPID })
	return out
}

// Consortium is the organisations and members kept under one directory,
// with the consortium file they were made from.
type Consortium struct {
	Dir     string
	Store   *identity.Store
	Members []Member
	File    File
}

// The files Create writes beside the organisations' folders: the consortium
// file, and its members alone (what earlier releases read).
const (
	consortiumFile = "consortium.json"
	membersFile    = "members.json"
)

// Create makes the organisations and members in dir, which must not hold a
// consortium yet: the identities alone, as tests need them. Its consortium
// file is FileOf(members), kept only if it passes Check (a registry, every
// oracle user an oracle).
func Create(dir string, members []Member) (*Consortium, error) {
	return create(dir, FileOf(members), false)
}

// New makes the organisations, users and oracle keys of a consortium file
// in dir, which must not hold a consortium yet, and keeps the file there.
// A file that fails Check is EINVALID and nothing is written.
func New(dir string, f File) (*Consortium, error) {
	if err := f.Check(); err != nil {
		return nil, err
	}
	return create(dir, f, true)
}

func create(dir string, f File, checked bool) (*Consortium, error) {
	for _, name := range []string{consortiumFile, membersFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return nil, greenmint.Errorf(greenmint.ECONFLICT, "a consortium already exists in %s", dir)
		}
	}
	members := f.Members()
	c := &Consortium{Dir: dir, Store: identity.NewStore(dir), Members: members, File: f}
	for _, o := range f.Organizations {
		if _, err := c.Store.CreateOrg(o.MSPID); err != nil {
			return nil, fmt.Errorf("consortium.New: %w", err)
		}
	}
	for _, m := range members {
		if _, err := c.Store.Enroll(m.MSPID, m.User, m.Role); err != nil {
			return nil, fmt.Errorf("consortium.New: %w", err)
		}
		if m.Role == greenmint.RoleOracle {
			if err := c.writeOracleKey(m); err != nil {
				return nil, err
			}
		}
	}
	raw, err := f.MarshalIndent()
	if err != nil {
		return nil, fmt.Errorf("consortium.New: %w", err)
	}
	mraw, err := json.MarshalIndent(members, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("consortium.New: %w", err)
	}
	// The members file last: Load finds a consortium only once it is whole.
	for _, w := range []struct {
		name string
		raw  []byte
	}{{consortiumFile, raw}, {membersFile, mraw}} {
		if w.name == consortiumFile && !checked && f.Check() != nil {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, w.name), w.raw, 0o644); err != nil {
			return nil, fmt.Errorf("consortium.New: %w", err)
		}
	}
	return c, nil
}

// Load opens the consortium in dir: its consortium file, or for a
// directory made before consortium files existed, FileOf its members.
func Load(dir string) (*Consortium, error) {
	raw, err := os.ReadFile(filepath.Join(dir, membersFile))
	if err != nil {
		return nil, greenmint.Errorf(greenmint.ENOTFOUND, "no consortium in %s", dir)
	}
	c := &Consortium{Dir: dir, Store: identity.NewStore(dir)}
	if err := json.Unmarshal(raw, &c.Members); err != nil {
		return nil, &greenmint.Error{Code: greenmint.EINVALID, Op: "consortium.Load", Message: filepath.Join(dir, membersFile), Err: err}
	}
	c.File = FileOf(c.Members)
	if _, err := os.Stat(filepath.Join(dir, consortiumFile)); err == nil {
		f, err := ReadFile(filepath.Join(dir, consortiumFile))
		if err != nil {
			return nil, err
		}
		c.File = f
	}
	return c, nil
}

// Identity returns the ledger identity of a member.
func (c *Consortium) Identity(mspID, user string) (*greenmint.Identity, error) {
	e, err := c.Store.Load(mspID, user)
	if err != nil {
		return nil, err
	}
	return e.Identity(), nil
}

// MustIdentity is Identity for callers that created the member themselves.
func (c *Consortium) MustIdentity(mspID, user string) *greenmint.Identity {
	id, err := c.Identity(mspID, user)
	if err != nil {
		panic(err)
	}
	return id
}

// Org is an organisation and its root CA certificate.
type Org struct {
	MSPID       string
	RootCertPEM []byte
}

// Orgs returns the organisations with their root certificates, sorted.
func (c *Consortium) Orgs() ([]Org, error) {
	ids, err := c.Store.Orgs()
	if err != nil {
		return nil, err
	}
	out := make([]Org, 0, len(ids))
	for _, id := range ids {
		pemBytes, err := c.Store.RootCertPEM(id)
		if err != nil {
			return nil, err
		}
		out = append(out, Org{MSPID: id, RootCertPEM: pemBytes})
	}
	return out, nil
}

func (c *Consortium) oracleKeyPath(m Member) string {
	return filepath.Join(c.Dir, m.MSPID, "users", m.User, "oracle", "ed25519_sk")
}

func (c *Consortium) writeOracleKey(m Member) error {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("consortium: %w", err)
	}
	p := c.oracleKeyPath(m)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("consortium: %w", err)
	}
	return os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "ED25519 SEED", Bytes: priv.Seed()}), 0o600)
}

// OracleKey returns an oracle member's Ed25519 attestation-signing key.
func (c *Consortium) OracleKey(mspID, user string) (ed25519.PrivateKey, error) {
	raw, err := os.ReadFile(c.oracleKeyPath(Member{MSPID: mspID, User: user}))
	if err != nil {
		return nil, greenmint.Errorf(greenmint.ENOTFOUND, "no oracle key for %s@%s", user, mspID)
	}
	blk, _ := pem.Decode(raw)
	if blk == nil || len(blk.Bytes) != ed25519.SeedSize {
		return nil, greenmint.Errorf(greenmint.EINVALID, "oracle key of %s@%s is malformed", user, mspID)
	}
	return ed25519.NewKeyFromSeed(blk.Bytes), nil
}
