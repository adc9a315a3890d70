// Command greenmint is Greenmint's one binary: the demo, the ledger tools
// and, as they arrive, the services, each a subcommand.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/demo"
	"github.com/greenmint/greenmint/ledger/embedded"
	"github.com/greenmint/greenmint/workspace"
	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := NewMain(os.Stdout, os.Stderr)
	if err := m.Run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "greenmint: %v\n", err)
		os.Exit(1)
	}
}

// Main is the program: its output streams and its commands, so that tests
// run the real program in-process.
type Main struct {
	Out, Err io.Writer

	ledgerKind string // --ledger: embedded (the workspace's) or fabric
	connection string // --connection: the Fabric connection file
	db         string // --db: the oracle's database (default the workspace's SQLite file)
}

// NewMain returns the program writing to out and errOut.
func NewMain(out, errOut io.Writer) *Main { return &Main{Out: out, Err: errOut} }

// Run parses args and runs the chosen command.
func (m *Main) Run(ctx context.Context, args []string) error {
	root := &cobra.Command{
		Use:           "greenmint",
		Short:         "Greenmint: CO2 certificates for renewable energy consumed by mining sites",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(m.Out)
	root.SetErr(m.Err)
	root.SetArgs(args)
	root.PersistentFlags().StringVar(&m.ledgerKind, "ledger", "embedded", "the ledger: embedded (the workspace's) or fabric")
	root.PersistentFlags().StringVar(&m.connection, "connection", ".fabric/connection.json", "with --ledger fabric: the connection file")
	root.PersistentFlags().StringVar(&m.db, "db", "", "the oracle's database: a postgres:// DSN, or a SQLite file (default: $GREENMINT_DB, else oracle.db in the workspace)")
	root.AddCommand(m.demoCommand(), m.ledgerCommand(), m.chaincodeCommand(), m.fabricCommand())
	root.AddCommand(m.opsCommands()...)
	root.AddCommand(m.simulateCommand())
	root.AddCommand(m.gridDataCommands()...)
	return root.ExecuteContext(ctx)
}

func (m *Main) demoCommand() *cobra.Command {
	var dir string
	var keep bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole certificate story on a fresh embedded ledger (or a Fabric network)",
		Long: "Creates the demo organisations and a fresh embedded ledger in --dir (a new temporary\n" +
			"directory by default), then registers a site in Spain, attests a week of hourly matching\n" +
			"from the measured Almería PV profile, mints, sells, retires, verifies the chain and prints\n" +
			"every step. With --ledger fabric --connection FILE it runs against a running Fabric network\n" +
			"(see greenmint fabric up), as the identities the connection file points at.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch m.ledgerKind {
			case "embedded":
				return m.demoEmbedded(cmd.Context(), dir, keep)
			case "fabric":
				return m.demoFabric(cmd.Context(), m.connection)
			}
			return greenmint.Errorf(greenmint.EINVALID, "--ledger must be embedded or fabric, not %q", m.ledgerKind)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "directory for the network (must be empty or new); default a temporary one, removed afterwards")
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the temporary directory")
	return cmd
}

func (m *Main) demoEmbedded(ctx context.Context, dir string, keep bool) error {
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
	fmt.Fprintf(m.Out, "Greenmint demo on an embedded ledger in %s\n\n", dir)
	w, err := workspace.Create(workspace.Config{Dir: dir}, consortium.Demo())
	if err != nil {
		return err
	}
	defer w.Close()
	start := time.Now()
	if err := demo.Run(ctx, w, m.Out); err != nil {
		return err
	}
	rep, err := w.Ledger.(*embedded.Ledger).Verify(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Out, "8. Ledger verified: %d blocks, %d transactions (%d valid), %d state keys rebuilt; head %s\n",
		rep.Blocks, rep.Transactions, rep.Valid, rep.StateKeys, rep.LastHash)
	fmt.Fprintf(m.Out, "\nDone in %s. Organisations and identities: %s\n",
		time.Since(start).Round(time.Millisecond), filepath.Join(dir, "organizations"))
	return nil
}

func (m *Main) demoFabric(ctx context.Context, path string) error {
	w, err := workspace.Open(workspace.Config{Ledger: workspace.Fabric, Connection: path})
	if err != nil {
		return err
	}
	defer w.Close()
	fmt.Fprintf(m.Out, "Greenmint demo on Fabric (connection %s)\n\n", path)
	start := time.Now()
	if err := demo.Run(ctx, w, m.Out); err != nil {
		return err
	}
	fmt.Fprintf(m.Out, "\nDone in %s; every write was endorsed by both organisations' peers and committed by the orderer.\n", time.Since(start).Round(time.Millisecond))
	return nil
}

func (m *Main) ledgerCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "ledger", Short: "Embedded ledger tools"}
	var dir string
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Check the whole chain and name the first bad block",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ledgerDir := dir
			if _, err := os.Stat(filepath.Join(dir, "ledger", embedded.FileName)); err == nil {
				ledgerDir = filepath.Join(dir, "ledger")
			}
			rep, err := embedded.Verify(cmd.Context(), ledgerDir)
			if err != nil {
				return fmt.Errorf("ledger verify: %s", greenmint.ErrorMessage(err))
			}
			fmt.Fprintf(m.Out, "ok: %d blocks, %d transactions (%d valid), %d state keys; head %s\n", rep.Blocks, rep.Transactions, rep.Valid, rep.StateKeys, rep.LastHash)
			if rep.Pending > 0 {
				fmt.Fprintf(m.Out, "note: the last %d block(s) are durable in the block file but not yet in the state store (the process stopped in between); the next open applies them\n", rep.Pending)
			}
			return nil
		},
	}
	verify.Flags().StringVar(&dir, "dir", ".data", "the network directory (or the ledger directory itself)")
	cmd.AddCommand(verify)

	var mspID, user string
	revoke := &cobra.Command{
		Use:   "revoke",
		Short: "Revoke a user's certificate: its organisation's CA signs a revocation list into the organisation's MSP folder",
		Long: "Adds the user's certificate to the X.509 revocation list of its organisation (DIR/organizations/MSP/msp/crls/crl.pem),\n" +
			"signed by the organisation's CA. The embedded ledger refuses the certificate's proposals from then on: a\n" +
			"running one picks the list up within a second, the next opened one at open. On Fabric the same list reaches\n" +
			"the channel through a channel configuration update (docs/deployment.md).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if mspID == "" || user == "" {
				return greenmint.Errorf(greenmint.EINVALID, "--msp and --user are required")
			}
			c, err := consortium.Load(filepath.Join(dir, "organizations"))
			if err != nil {
				return err
			}
			path, err := c.Store.Revoke(mspID, user)
			if err != nil {
				return err
			}
			fmt.Fprintf(m.Out, "revoked %s@%s: %s\n", user, mspID, path)
			return nil
		},
	}
	revoke.Flags().StringVar(&dir, "dir", ".data", "the network directory (greenmint init or demo --keep)")
	revoke.Flags().StringVar(&mspID, "msp", "", "the user's organisation (MSP ID)")
	revoke.Flags().StringVar(&user, "user", "", "the user to revoke")
	cmd.AddCommand(revoke)
	return cmd
}
