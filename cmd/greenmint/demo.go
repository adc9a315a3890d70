package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/demo"
	"github.com/greenmint/greenmint/ledger/embedded"
	"github.com/greenmint/greenmint/workspace"
	"github.com/spf13/cobra"
)

func (m *Main) demoCommand() *cobra.Command {
	var ws wsFlags
	var keep bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole certificate story on a fresh embedded ledger (or a Fabric network)",
		Long: "Creates a workspace of the demo consortium (consortium file: docs/consortium.md) with a fresh\n" +
			"embedded ledger in --dir (a new temporary directory by default), then registers a site in Spain,\n" +
			"attests a week of hourly matching from the measured Almería PV profile, mints, sells, retires,\n" +
			"verifies the chain and prints every step. With --ledger fabric --connection FILE it runs against a\n" +
			"running Fabric network (see greenmint fabric up), as the identities the connection file points at.\n" +
			"With --json the steps go to standard error and a summary to standard output.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := m.Out
			if m.asJSON {
				out = m.Err
			}
			cfg := ws.config()
			if cfg.Ledger == workspace.Fabric {
				return m.demoFabric(cmd.Context(), cfg, out)
			}
			if cfg.Ledger != workspace.Embedded {
				return workspaceKindError(cfg.Ledger)
			}
			return m.demoEmbedded(cmd.Context(), cfg.Dir, keep, out)
		},
	}
	cmd.Flags().StringVar(&ws.dir, "dir", "", "directory for the network (must be empty or new); default a temporary one, removed afterwards")
	cmd.Flags().StringVar(&ws.ledger, "ledger", workspace.Embedded, "the ledger: embedded (a new one in --dir) or fabric")
	cmd.Flags().StringVar(&ws.connection, "connection", ".fabric/connection.json", "with --ledger fabric: the connection file")
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the temporary directory")
	return cmd
}

// demoResult is what `demo --json` prints.
type demoResult struct {
	Dir    string        `json:"dir,omitempty"`
	Ledger string        `json:"ledger"`
	Story  *demo.Summary `json:"story"`
	Verify *verifyJSON   `json:"verify,omitempty"`
}

func (m *Main) demoEmbedded(ctx context.Context, dir string, keep bool, out io.Writer) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "greenmint-demo-")
		if err != nil {
			return err
		}
		dir = d
		if !keep {
			defer os.RemoveAll(d)
		}
	}
	fmt.Fprintf(out, "Greenmint demo on an embedded ledger in %s\n\n", dir)
	w, err := workspace.Create(workspace.Config{Dir: dir}, consortium.Demo())
	if err != nil {
		return err
	}
	defer w.Close()
	start := time.Now()
	sum, err := demo.Tell(ctx, w, out)
	if err != nil {
		return err
	}
	rep, err := w.Ledger.(*embedded.Ledger).Verify(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "8. Ledger verified: %d blocks, %d transactions (%d valid), %d state keys rebuilt; head %s\n",
		rep.Blocks, rep.Transactions, rep.Valid, rep.StateKeys, rep.LastHash)
	fmt.Fprintf(out, "\nDone in %s. Organisations and identities: %s\n",
		time.Since(start).Round(time.Millisecond), filepath.Join(dir, "organizations"))
	if m.asJSON {
		if !keep && dir != "" {
			dir = ""
		}
		return m.emitJSON(demoResult{Dir: dir, Ledger: workspace.Embedded, Story: sum, Verify: toVerifyJSON(rep)})
	}
	return nil
}

func (m *Main) demoFabric(ctx context.Context, cfg workspace.Config, out io.Writer) error {
	w, err := workspace.Open(workspace.Config{Ledger: workspace.Fabric, Connection: cfg.Connection})
	if err != nil {
		return err
	}
	defer w.Close()
	fmt.Fprintf(out, "Greenmint demo on Fabric (connection %s)\n\n", cfg.Connection)
	start := time.Now()
	sum, err := demo.Tell(ctx, w, out)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nDone in %s; every write was endorsed by both organisations' peers and committed by the orderer.\n", time.Since(start).Round(time.Millisecond))
	if m.asJSON {
		return m.emitJSON(demoResult{Ledger: workspace.Fabric, Story: sum})
	}
	return nil
}
