package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/greenmint/greenmint/fabricnet"
	"github.com/greenmint/greenmint/workspace"
	"github.com/spf13/cobra"
)

func (m *Main) fabricCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "fabric", Short: "A native Hyperledger Fabric network on loopback (needs FABRIC_BIN)"}
	var dir, bin, cfg string
	var port int
	up := &cobra.Command{
		Use:   "up",
		Short: "Start a two-organisation Fabric network with the contract deployed",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			self, err := os.Executable()
			if err != nil {
				return err
			}
			abs, err := filepath.Abs(dir)
			if err != nil {
				return err
			}
			n, err := fabricnet.Up(cmd.Context(), fabricnet.Options{FabricBin: bin, FabricCfg: cfg, Dir: abs, Greenmint: self, BasePort: port, Log: m.progress()})
			if err != nil {
				return err
			}
			// The registry bootstraps the ledger as init does on the embedded
			// one: policy, every organisation admitted to its roles (R11),
			// the oracles and the shipped dataset.
			w, err := workspace.Open(workspace.Config{Ledger: workspace.Fabric, Connection: n.ConnectionFile()})
			if err != nil {
				return err
			}
			defer w.Close()
			ds, err := w.Bootstrap(cmd.Context())
			if err != nil {
				return fmt.Errorf("fabric up: bootstrapping the ledger: %w", err)
			}
			return m.emit(map[string]string{"dir": abs, "connection_file": n.ConnectionFile(), "dataset": ds.SHA256},
				"connection file: "+n.ConnectionFile()+"; ledger bootstrapped by the registry (organisations admitted to their roles, oracles, dataset "+ds.SHA256[:16]+")")
		},
	}
	up.Flags().StringVar(&bin, "fabric-bin", os.Getenv("FABRIC_BIN"), "directory of the Fabric binaries [FABRIC_BIN]")
	up.Flags().StringVar(&cfg, "fabric-cfg", os.Getenv("FABRIC_CFG_PATH"), "the Fabric release's config directory [FABRIC_CFG_PATH]; default FABRIC_BIN/../config")
	up.Flags().IntVar(&port, "base-port", 27050, "first port: orderer; peers at +1000 and +2000, chaincode at +3000")
	down := &cobra.Command{
		Use:   "down",
		Short: "Stop the network and remove its directory",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := fabricnet.Down(dir); err != nil {
				return err
			}
			return m.emit(map[string]any{"dir": dir, "removed": true}, fmt.Sprintf("network in %s stopped and removed", dir))
		},
	}
	initCmd := &cobra.Command{
		Use:   "init",
		Short: "Prepare the crypto material, genesis block and chaincode package for docker-compose.yml's containers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			n, err := fabricnet.InitCompose(fabricnet.Options{FabricBin: bin, FabricCfg: cfg, Dir: dir, Log: m.progress()})
			if err != nil {
				return err
			}
			file := filepath.Join(dir, "package_id")
			return m.emit(map[string]string{"package_id": n.PackageID, "package_id_file": file}, fmt.Sprintf("package ID %s written to %s", n.PackageID, file))
		},
	}
	join := &cobra.Command{
		Use:   "join",
		Short: "Join the running orderer and peers of an initialised network to the channel and deploy the contract",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			n, err := fabricnet.Load(dir)
			if err != nil {
				return err
			}
			n.SetLog(m.progress())
			if err := n.Join(cmd.Context()); err != nil {
				return err
			}
			return m.emit(map[string]string{"dir": dir, "connection_file": n.ConnectionFile()}, "connection file: "+n.ConnectionFile())
		},
	}
	for _, c := range []*cobra.Command{initCmd, join} {
		c.Flags().StringVar(&bin, "fabric-bin", os.Getenv("FABRIC_BIN"), "directory of the Fabric binaries [FABRIC_BIN]")
		c.Flags().StringVar(&cfg, "fabric-cfg", os.Getenv("FABRIC_CFG_PATH"), "the Fabric release's config directory [FABRIC_CFG_PATH]")
	}
	for _, c := range []*cobra.Command{up, down, initCmd, join} {
		c.Flags().StringVar(&dir, "dir", ".fabric", "the network's directory")
		cmd.AddCommand(c)
	}
	return cmd
}

// progress is where long commands report their steps: standard output, or
// with --json standard error, which leaves standard output to the result.
func (m *Main) progress() io.Writer {
	if m.asJSON {
		return m.Err
	}
	return m.Out
}
