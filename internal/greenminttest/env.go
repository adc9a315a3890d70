package greenminttest

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/chaincode"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/ledger/embedded"
	"github.com/greenmint/greenmint/oracle"
	"github.com/greenmint/greenmint/simulate"
	"github.com/greenmint/greenmint/workspace"
)

// Env is a ledger and the demo consortium's identities that act on it:
// the fixture of the tests that drive the contract.
type Env struct {
	Ledger    greenmint.Ledger
	Workspace *workspace.Workspace
	Registry  *greenmint.Identity
	Miner     *greenmint.Identity
	Miner2    *greenmint.Identity
	OracleA   *greenmint.Identity
	OracleB   *greenmint.Identity
	Auditor   *greenmint.Identity
	Buyer     *greenmint.Identity
	// OracleKeys are the oracles' Ed25519 attestation keys by oracle ID.
	OracleKeys map[string]ed25519.PrivateKey
	// Dataset is the emission-factor dataset Bootstrap published.
	Dataset greenmint.Dataset
	// Members are the consortium's members.
	Members []consortium.Member
}

// Oracle IDs of the demo consortium.
const (
	OracleAID = consortium.DemoOracleAID
	OracleBID = consortium.DemoOracleBID
)

// Site is a virtual site registered on the ledger, with its meters' keys.
type Site = simulate.Site

// Period is a span of whole hours.
type Period = simulate.Period

// DemoWeek is the demo's attestation period: the first week of June 2023.
var DemoWeek = Period{Start: time.Date(2023, 6, 1, 0, 0, 0, 0, time.UTC), Hours: 7 * 24}

// CreateEmbedded makes a fresh network of the demo consortium in dir (see
// workspace.Create), not bootstrapped.
func CreateEmbedded(dir string, opts embedded.Options) (*embedded.Ledger, *consortium.Consortium, error) {
	return CreateEmbeddedWith(dir, consortium.DemoMembers, opts)
}

// CreateEmbeddedWith is CreateEmbedded with the given members, which must
// include the demo's for NewEnv to work.
func CreateEmbeddedWith(dir string, members []consortium.Member, opts embedded.Options) (*embedded.Ledger, *consortium.Consortium, error) {
	w, err := workspace.Create(workspace.Config{Dir: dir, Embedded: opts}, consortium.FileOf(members))
	if err != nil {
		return nil, nil, err
	}
	return w.Ledger.(*embedded.Ledger), w.Consortium, nil
}

// ChaincodeConfig is the contract's configuration on the demo
// consortium's networks: its registry organisation is the registry.
func ChaincodeConfig() chaincode.Config { return workspace.ChaincodeConfig(consortium.Demo()) }

// OpenEmbedded opens again the embedded ledger of a network that
// CreateEmbedded made in dir.
func OpenEmbedded(dir string, opts embedded.Options) (*embedded.Ledger, error) {
	w, err := workspace.Open(workspace.Config{Dir: dir, Embedded: opts})
	if err != nil {
		return nil, err
	}
	return w.Ledger.(*embedded.Ledger), nil
}

// NewEnv loads the demo consortium's identities for use on l.
func NewEnv(l workspace.Ledger, c *consortium.Consortium) (*Env, error) {
	e := &Env{Ledger: l, Workspace: &workspace.Workspace{Ledger: l, Consortium: c}, OracleKeys: map[string]ed25519.PrivateKey{}, Members: c.Members}
	for _, m := range []struct {
		dst  **greenmint.Identity
		msp  string
		user string
	}{
		{&e.Registry, consortium.RegistryMSP, "registrar"},
		{&e.Miner, consortium.MinerMSP, "miner"},
		{&e.Miner2, consortium.Miner2MSP, "miner"},
		{&e.OracleA, consortium.OracleAMSP, "oracle"},
		{&e.OracleB, consortium.OracleBMSP, "oracle"},
		{&e.Auditor, consortium.AuditorMSP, "auditor"},
		{&e.Buyer, consortium.BuyerMSP, "buyer"},
	} {
		id, err := c.Identity(m.msp, m.user)
		if err != nil {
			return nil, fmt.Errorf("greenminttest.NewEnv: %w", err)
		}
		*m.dst = id
	}
	oracles, err := e.Workspace.Oracles()
	if err != nil {
		return nil, fmt.Errorf("greenminttest.NewEnv: %w", err)
	}
	for _, o := range oracles {
		e.OracleKeys[o.OracleID] = o.Key
	}
	return e, nil
}

// Bootstrap bootstraps the ledger as workspace.Bootstrap does (threshold 2
// of the two oracles, 5% tolerance, every organisation admitted to its
// roles, the shipped dataset); on a ledger where this was done before, it
// keeps what is there.
func (e *Env) Bootstrap(ctx context.Context) error {
	ds, err := e.Workspace.Bootstrap(ctx)
	if err != nil {
		return err
	}
	e.Dataset = ds
	return nil
}

// RegisterSite registers a virtual site (simulate.NewSite) with its two
// meters as owner and has the registry approve all three.
func (e *Env) RegisterSite(ctx context.Context, owner *greenmint.Identity, siteID string) (*Site, error) {
	s, err := simulate.NewSite(siteID)
	if err != nil {
		return nil, err
	}
	reg := s.Registration()
	steps := []struct {
		id  *greenmint.Identity
		fn  string
		req any
	}{
		{owner, greenmint.TxRegisterSite, reg.Sites[0]},
		{owner, greenmint.TxRegisterMeter, reg.Meters[0]},
		{owner, greenmint.TxRegisterMeter, reg.Meters[1]},
		{e.Registry, greenmint.TxApproveSite, greenmint.StatusRequest{ID: siteID}},
		{e.Registry, greenmint.TxApproveMeter, greenmint.StatusRequest{ID: s.Consumption}},
		{e.Registry, greenmint.TxApproveMeter, greenmint.StatusRequest{ID: s.Generation}},
	}
	for _, st := range steps {
		if _, err := greenmint.SubmitJSON(ctx, e.Ledger, st.id, st.fn, st.req, nil); err != nil {
			return nil, fmt.Errorf("greenminttest.RegisterSite: %s: %w", st.fn, err)
		}
	}
	return s, nil
}

// Attest builds the attestation of a site over a period from its readings
// directly, without an oracle's storage, and has the given oracles sign
// it: the reference the oracle path is tested against.
func (e *Env) Attest(s *Site, inst greenmint.Instrument, p Period, signers ...string) (*greenmint.SignedAttestation, error) {
	return e.AttestHours(s, inst, p, nil, nil, signers...)
}

// AttestHours is Attest with each hour's grid state and completeness
// chosen: surplus(h) makes hour h of p a grid-surplus hour (the others
// normal) and gap(h) leaves it out for missing data; with nil functions
// every hour is complete and its grid state unknown.
func (e *Env) AttestHours(s *Site, inst greenmint.Instrument, p Period, surplus, gap func(h int) bool, signers ...string) (*greenmint.SignedAttestation, error) {
	readings, err := s.Readings(p)
	if err != nil {
		return nil, err
	}
	in := oracle.AttestationInput{
		SiteID: s.ID, Instrument: inst, PeriodStart: p.Start, PeriodEnd: p.End(),
		Dataset: e.Dataset, GridRegion: s.GridRegion, ConsumptionMeters: []string{s.Consumption}, AttestedAt: p.End().Add(time.Hour),
		Readings: readings,
	}
	for i := 0; i+1 < len(readings); i += 2 {
		h := i / 2
		cons, gen := readings[i], readings[i+1]
		start, _ := greenmint.ParseTime(cons.Start)
		state := greenmint.GridUnknown
		if surplus != nil {
			state = greenmint.GridNormal
			if surplus(h) {
				state = greenmint.GridSurplus
			}
		}
		in.Hours = append(in.Hours, oracle.HourInput{
			Start: start, ConsumptionWh: cons.EnergyWh, Complete: gap == nil || !gap(h), GridState: state,
			Supplies: []greenmint.Allocation{{MeterID: s.Generation, Technology: s.Technology, GeneratedWh: gen.EnergyWh, AvailableWh: gen.EnergyWh}},
		})
	}
	a, err := oracle.BuildAttestation(in)
	if err != nil {
		return nil, err
	}
	return e.Sign(a, signers...)
}

// Sign has the named oracles sign an attestation.
func (e *Env) Sign(a *greenmint.Attestation, signers ...string) (*greenmint.SignedAttestation, error) {
	sa := &greenmint.SignedAttestation{Attestation: *a, Signatures: []greenmint.OracleSignature{}}
	for _, id := range signers {
		sig, err := greenmint.SignAttestation(a, id, e.OracleKeys[id])
		if err != nil {
			return nil, err
		}
		sa.Signatures = append(sa.Signatures, sig)
	}
	return sa, nil
}

// Mint submits a signed attestation as oracle A.
func (e *Env) Mint(ctx context.Context, sa *greenmint.SignedAttestation) (*greenmint.MintResult, error) {
	var res greenmint.MintResult
	if _, err := greenmint.SubmitJSON(ctx, e.Ledger, e.OracleA, greenmint.TxMint, greenmint.MintRequest{Attestation: *sa}, &res); err != nil {
		return nil, err
	}
	return &res, nil
}
