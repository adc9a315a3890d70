// Package workspace opens a Greenmint workspace from configuration: which
// ledger (the embedded ledger kept in the workspace's directory, or a
// Fabric network through its connection file), which database (a SQLite
// file or a PostgreSQL DSN) and which organisations, users, oracles and
// policy (the consortium file, docs/consortium.md). Every command of
// cmd/greenmint opens its workspace here; the demo is one preset of it
// (consortium.Demo). Services builds the parts the REST gateway runs on
// over a workspace (one database; auth and the keyring from one
// key-encryption key setting; the read model's projector; the in-process
// oracle), and SeedUsers makes its first users; greenmint serve puts the
// gateway on them (so that the workspace, which tests of every package
// use, depends on no HTTP code).
//
// A workspace directory holds organizations/ (the consortium: CAs, users'
// identities, oracle keys, consortium.json), ledger/ (the embedded
// ledger), oracle.db (the oracle's SQLite database, unless a DSN is given)
// and oracle.json (the oracle's settings).
package workspace

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/chaincode"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/internal/store"
	"github.com/greenmint/greenmint/ledger/embedded"
	"github.com/greenmint/greenmint/ledger/fabric"
	"github.com/greenmint/greenmint/oracle"
	"github.com/greenmint/greenmint/refdata"
)

// The ledgers a workspace acts on.
const (
	Embedded = "embedded" // the embedded ledger in the workspace's directory
	Fabric   = "fabric"   // a Fabric network, through Config.Connection
)

// ChannelID is the channel of a workspace's embedded ledger.
const ChannelID = "greenmint"

// Config says which workspace to open.
type Config struct {
	// Dir is the workspace's directory.
	Dir string
	// Ledger is Embedded (the default when empty) or Fabric.
	Ledger string
	// Connection is the Fabric connection file (with Ledger Fabric); its
	// identities directory holds the consortium.
	Connection string
	// DB is the oracle's database: a postgres:// DSN, or a SQLite file.
	// Empty: oracle.db in Dir.
	DB string
	// Embedded are the embedded ledger's options.
	Embedded embedded.Options
}

// DSN is the oracle's database: DB, or the workspace's SQLite file.
func (c Config) DSN() string {
	if c.DB != "" {
		return c.DB
	}
	return filepath.Join(c.Dir, "oracle.db")
}

// OrganizationsDir is where the embedded workspace's consortium lives.
func (c Config) OrganizationsDir() string { return filepath.Join(c.Dir, "organizations") }

// LedgerDir is where the embedded ledger lives.
func (c Config) LedgerDir() string { return filepath.Join(c.Dir, "ledger") }

func (c Config) kind() (string, error) {
	switch c.Ledger {
	case Embedded, "":
		return Embedded, nil
	case Fabric:
		return Fabric, nil
	}
	return "", greenmint.Errorf(greenmint.EINVALID, "the ledger must be %s or %s, not %q", Embedded, Fabric, c.Ledger)
}

// Ledger is an open ledger of either kind.
type Ledger interface {
	greenmint.Ledger
	Close() error
}

// Workspace is an open workspace: its ledger and its consortium.
type Workspace struct {
	Config     Config
	Ledger     Ledger
	Consortium *consortium.Consortium
}

// Create makes a new embedded network in cfg.Dir, which must be empty or
// new: the consortium file's organisations, users and oracle keys, and an
// embedded ledger whose genesis block names the organisations' CAs and
// whose contract takes the file's registry organisation as the registry.
// The ledger is not bootstrapped: Bootstrap does that. A file that fails
// its Check is EINVALID; a used directory is ECONFLICT.
func Create(cfg Config, f consortium.File) (*Workspace, error) {
	if k, err := cfg.kind(); err != nil {
		return nil, err
	} else if k != Embedded {
		return nil, greenmint.Errorf(greenmint.EINVALID, "workspace.Create makes an embedded network; a Fabric network is made by its operators (greenmint fabric up)")
	}
	if err := f.Check(); err != nil {
		return nil, err
	}
	if entries, err := os.ReadDir(cfg.Dir); err == nil && len(entries) > 0 {
		return nil, greenmint.Errorf(greenmint.ECONFLICT, "%s is not empty; give an empty or new directory", cfg.Dir)
	}
	c, err := consortium.New(cfg.OrganizationsDir(), f)
	if err != nil {
		return nil, err
	}
	orgs, err := c.Orgs()
	if err != nil {
		return nil, err
	}
	ch := embedded.ChannelConfig{ChannelID: ChannelID, Chaincode: chaincode.Name}
	for _, o := range orgs {
		ch.Orgs = append(ch.Orgs, embedded.OrgConfig{MSPID: o.MSPID, RootCertPEM: o.RootCertPEM})
	}
	if err := embedded.Create(cfg.LedgerDir(), ch); err != nil {
		return nil, err
	}
	l, err := openEmbedded(cfg, f)
	if err != nil {
		return nil, err
	}
	return &Workspace{Config: cfg, Ledger: l, Consortium: c}, nil
}

// Open opens the workspace cfg names: its embedded ledger and consortium,
// or the Fabric network of its connection file and the consortium of the
// file's identities directory. No consortium is ENOTFOUND.
func Open(cfg Config) (*Workspace, error) {
	kind, err := cfg.kind()
	if err != nil {
		return nil, err
	}
	if kind == Fabric {
		conn, err := fabric.LoadConnection(cfg.Connection)
		if err != nil {
			return nil, err
		}
		c, err := consortium.Load(conn.Identities)
		if err != nil {
			return nil, err
		}
		var events *greenmint.Identity
		if conn.EventsMSPID != "" {
			if events, err = c.Identity(conn.EventsMSPID, conn.EventsUser); err != nil {
				return nil, err
			}
		}
		l, err := fabric.Open(*conn, events)
		if err != nil {
			return nil, err
		}
		return &Workspace{Config: cfg, Ledger: l, Consortium: c}, nil
	}
	c, err := consortium.Load(cfg.OrganizationsDir())
	if err != nil {
		return nil, greenmint.Errorf(greenmint.ENOTFOUND, "no workspace in %s (run greenmint init --dir %s): no consortium in %s", cfg.Dir, cfg.Dir, cfg.OrganizationsDir())
	}
	l, err := openEmbedded(cfg, c.File)
	if err != nil {
		return nil, err
	}
	return &Workspace{Config: cfg, Ledger: l, Consortium: c}, nil
}

// ChaincodeConfig is the contract's configuration for a consortium file:
// its registry organisation is the registry.
func ChaincodeConfig(f consortium.File) chaincode.Config {
	return chaincode.Config{RegistryMSP: f.RegistryMSP()}
}

// openEmbedded opens the workspace's embedded ledger running the contract
// configured for f. Unless cfg.Embedded names another, the organisations'
// MSP folders supply the revocation lists the ledger honours.
func openEmbedded(cfg Config, f consortium.File) (*embedded.Ledger, error) {
	opts := cfg.Embedded
	if opts.MSPDir == "" {
		opts.MSPDir = cfg.OrganizationsDir()
	}
	cc, err := chaincode.New(ChaincodeConfig(f))
	if err != nil {
		return nil, fmt.Errorf("workspace: %w", err)
	}
	return embedded.Open(cfg.LedgerDir(), cc, opts)
}

// Close closes the ledger.
func (w *Workspace) Close() error { return w.Ledger.Close() }

// File is the workspace's consortium file.
func (w *Workspace) File() consortium.File { return w.Consortium.File }

// Identity resolves "MSP:user" to the ledger identity of that member;
// EINVALID if as is not of that form, ENOTFOUND if there is no such member.
func (w *Workspace) Identity(as string) (*greenmint.Identity, error) {
	msp, user, ok := strings.Cut(as, ":")
	if !ok || msp == "" || user == "" {
		return nil, greenmint.Errorf(greenmint.EINVALID, "an identity is MSP:user, e.g. RegistryMSP:registrar, not %q", as)
	}
	return w.Consortium.Identity(msp, user)
}

// Registrar is the registry user that bootstraps the ledger.
func (w *Workspace) Registrar() (*greenmint.Identity, error) {
	msp, user, err := w.File().Registrar()
	if err != nil {
		return nil, err
	}
	return w.Consortium.Identity(msp, user)
}

// Signer is an oracle of the consortium whose key this workspace holds:
// its entry in the consortium file, its ledger identity and its Ed25519
// attestation key.
type Signer struct {
	consortium.Oracle
	ID  *greenmint.Identity
	Key ed25519.PrivateKey
}

// Oracle returns the oracle that the member as ("MSP:user") runs, with its
// identity and key; ENOTFOUND if as runs no oracle of the consortium or its
// key is not in this workspace.
func (w *Workspace) Oracle(as string) (*Signer, error) {
	id, err := w.Identity(as)
	if err != nil {
		return nil, err
	}
	user := strings.SplitN(as, ":", 2)[1]
	o, err := w.File().OracleOf(id.MSPID, user)
	if err != nil {
		return nil, err
	}
	key, err := w.Consortium.OracleKey(o.MSPID, o.User)
	if err != nil {
		return nil, err
	}
	return &Signer{Oracle: o, ID: id, Key: key}, nil
}

// Oracles returns every oracle of the consortium whose key this workspace
// holds, in the file's order.
func (w *Workspace) Oracles() ([]*Signer, error) {
	var out []*Signer
	for _, o := range w.File().Oracles {
		s, err := w.Oracle(o.MSPID + ":" + o.User)
		if greenmint.ErrorCode(err) == greenmint.ENOTFOUND {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// Bootstrap has the registry bootstrap the ledger with the consortium
// file's policy, admit every organisation to its roles (R11), register the
// file's oracles with the keys this workspace holds, and publish the
// shipped emission-factor dataset (R9), which it returns. What a ledger
// holds already (a rerun, or a network bootstrapped by someone else) is
// kept: those steps' conflicts are not errors.
func (w *Workspace) Bootstrap(ctx context.Context) (greenmint.Dataset, error) {
	const op = "workspace.Bootstrap"
	f := w.File()
	registry, err := w.Registrar()
	if err != nil {
		return greenmint.Dataset{}, fmt.Errorf("%s: %w", op, err)
	}
	tolerate := func(err error) error {
		if greenmint.ErrorCode(err) == greenmint.ECONFLICT {
			return nil
		}
		return err
	}
	if _, err := greenmint.SubmitJSON(ctx, w.Ledger, registry, greenmint.TxBootstrap, f.Policy.Request(), nil); tolerate(err) != nil {
		return greenmint.Dataset{}, fmt.Errorf("%s: %w", op, err)
	}
	for _, req := range f.Admissions() {
		if _, err := greenmint.SubmitJSON(ctx, w.Ledger, registry, greenmint.TxAdmitOrganization, req, nil); tolerate(err) != nil {
			return greenmint.Dataset{}, fmt.Errorf("%s: admit %s: %w", op, req.MSPID, err)
		}
	}
	oracles, err := w.Oracles()
	if err != nil {
		return greenmint.Dataset{}, fmt.Errorf("%s: %w", op, err)
	}
	for _, o := range oracles {
		req := greenmint.RegisterOracleRequest{OracleID: o.OracleID, MSPID: o.MSPID, PublicKey: o.Key.Public().(ed25519.PublicKey)}
		if _, err := greenmint.SubmitJSON(ctx, w.Ledger, registry, greenmint.TxRegisterOracle, req, nil); tolerate(err) != nil {
			return greenmint.Dataset{}, fmt.Errorf("%s: register oracle %s: %w", op, o.OracleID, err)
		}
	}
	ds, err := refdata.DefaultDataset()
	if err != nil {
		return greenmint.Dataset{}, fmt.Errorf("%s: %w", op, err)
	}
	sum, err := greenmint.DatasetSHA256(ds)
	if err != nil {
		return greenmint.Dataset{}, fmt.Errorf("%s: %w", op, err)
	}
	if _, err := greenmint.SubmitJSON(ctx, w.Ledger, registry, greenmint.TxPublishDataset, greenmint.PublishDatasetRequest{Dataset: ds, SHA256: sum}, nil); tolerate(err) != nil {
		return greenmint.Dataset{}, fmt.Errorf("%s: publish dataset: %w", op, err)
	}
	return greenmint.Dataset{DatasetContent: ds, SHA256: sum}, nil
}

// OpenStore opens the oracle's database and brings its schema up to date,
// so that a workspace made by an earlier release works with this one.
func (c Config) OpenStore(ctx context.Context) (*store.DB, error) {
	db, err := store.Open(c.DSN())
	if err != nil {
		return nil, err
	}
	if _, err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Submitter returns the oracle that as ("MSP:user") runs, submitting
// attestations built from db's readings, with as many of the workspace's
// other oracles as the policy's threshold needs co-signing locally from the
// same readings. The caller may replace the co-signers (Peers) with remote
// ones.
func (w *Workspace) Submitter(db *store.DB, as string) (*oracle.Submitter, error) {
	own, err := w.Oracle(as)
	if err != nil {
		return nil, err
	}
	all, err := w.Oracles()
	if err != nil {
		return nil, err
	}
	sub := &oracle.Submitter{
		Attester: &oracle.Attester{Readings: db, GridStates: db, Ledger: w.Ledger, ID: own.ID},
		Store:    db, Ledger: w.Ledger, ID: own.ID, OracleID: own.OracleID, Key: own.Key,
	}
	for _, o := range all {
		if int64(len(sub.Peers))+1 >= w.File().Policy.Threshold {
			break
		}
		if o.OracleID == own.OracleID {
			continue
		}
		sub.Peers = append(sub.Peers, &oracle.LocalCosigner{Attester: &oracle.Attester{Readings: db, GridStates: db, Ledger: w.Ledger, ID: o.ID}, OracleID: o.OracleID, Key: o.Key})
	}
	return sub, nil
}

// Cosigner returns the oracle that as runs, co-signing from db's readings.
func (w *Workspace) Cosigner(db *store.DB, as string) (*oracle.LocalCosigner, error) {
	o, err := w.Oracle(as)
	if err != nil {
		return nil, err
	}
	return &oracle.LocalCosigner{Attester: &oracle.Attester{Readings: db, GridStates: db, Ledger: w.Ledger, ID: o.ID}, OracleID: o.OracleID, Key: o.Key}, nil
}
