package demo

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/chaincode"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/ledger/embedded"
)

// ChannelID is the channel of the demo network.
const ChannelID = "greenmint"

// CreateEmbedded makes a fresh network in dir: the demo consortium's
// organisations and identities under dir/organizations and an embedded
// ledger under dir/ledger whose genesis block names their CAs.
func CreateEmbedded(dir string, opts embedded.Options) (*embedded.Ledger, *consortium.Consortium, error) {
	return CreateEmbeddedWith(dir, consortium.DemoMembers, opts)
}

// CreateEmbeddedWith is CreateEmbedded with the given members, which must
// include the demo's for NewEnv to work.
func CreateEmbeddedWith(dir string, members []consortium.Member, opts embedded.Options) (*embedded.Ledger, *consortium.Consortium, error) {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return nil, nil, greenmint.Errorf(greenmint.ECONFLICT, "%s is not empty; give an empty or new directory", dir)
	}
	c, err := consortium.Create(filepath.Join(dir, "organizations"), members)
	if err != nil {
		return nil, nil, err
	}
	orgs, err := c.Orgs()
	if err != nil {
		return nil, nil, err
	}
	cfg := embedded.ChannelConfig{ChannelID: ChannelID, Chaincode: chaincode.Name}
	for _, o := range orgs {
		cfg.Orgs = append(cfg.Orgs, embedded.OrgConfig{MSPID: o.MSPID, RootCertPEM: o.RootCertPEM})
	}
	if err := embedded.Create(filepath.Join(dir, "ledger"), cfg); err != nil {
		return nil, nil, err
	}
	l, err := OpenEmbedded(dir, opts)
	if err != nil {
		return nil, nil, err
	}
	return l, c, nil
}

// ChaincodeConfig is the contract's configuration on the demo networks'
// embedded ledgers: the demo consortium's registry is the registry.
func ChaincodeConfig() chaincode.Config {
	return chaincode.Config{RegistryMSP: consortium.RegistryMSP}
}

// OpenEmbedded opens the embedded ledger of a network made by
// CreateEmbedded, running the Greenmint contract configured with
// ChaincodeConfig. Unless opts names another, the organisations' MSP
// folders under dir/organizations supply the revocation lists the ledger
// honours.
func OpenEmbedded(dir string, opts embedded.Options) (*embedded.Ledger, error) {
	if opts.MSPDir == "" {
		opts.MSPDir = filepath.Join(dir, "organizations")
	}
	cc, err := chaincode.New(ChaincodeConfig())
	if err != nil {
		return nil, fmt.Errorf("demo.OpenEmbedded: %w", err)
	}
	return embedded.Open(filepath.Join(dir, "ledger"), cc, opts)
}
