// Command greenmint is Greenmint's one binary: the demo, the operator's
// commands (noun, then verb: `greenmint readings import`), the oracle's
// service, the chaincode server and the Fabric tools. docs/cli.md lists the
// commands, their flags and the exit codes.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/alexedwards/argon2id"
	"github.com/greenmint/greenmint"
	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := NewMain(os.Stdout, os.Stderr).Exec(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// Main is the program: its output streams and its commands, so that tests
// run the real program in-process.
type Main struct {
	Out, Err io.Writer

	asJSON  bool // --json: results, and errors, as JSON
	running bool // a command's RunE started: its arguments and flags were valid

	// passwordParams, when set, are the argon2id parameters of the
	// passwords greenmint serve hashes (tests make them cheap); nil: the
	// product's (auth.DefaultPasswordParams).
	passwordParams *argon2id.Params
}

// NewMain returns the program writing to out and errOut.
func NewMain(out, errOut io.Writer) *Main { return &Main{Out: out, Err: errOut} }

// Exec runs args as Run does, writes the error if there is one (as JSON
// with --json) on the error stream and returns the process's exit code
// (ExitCode).
func (m *Main) Exec(ctx context.Context, args []string) int {
	err := m.Run(ctx, args)
	if err == nil {
		return 0
	}
	m.writeError(err, args)
	return ExitCode(err)
}

// Run parses args and runs the chosen command. An error in the command
// line itself (an unknown command or flag, a missing required flag, extra
// arguments) is EINVALID.
func (m *Main) Run(ctx context.Context, args []string) error {
	m.running = false
	root := m.rootCommand()
	root.SetOut(m.Out)
	root.SetErr(m.Err)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	var ge *greenmint.Error
	if err != nil && !m.running && !errors.As(err, &ge) {
		// cobra's own errors, before the command ran: the command line is wrong.
		return &greenmint.Error{Code: greenmint.EINVALID, Message: "greenmint", Err: err}
	}
	return err
}

func (m *Main) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "greenmint",
		Short: "Greenmint: certificates for renewable energy consumed by mining sites",
		Long: "Greenmint: certificates for renewable energy consumed by mining sites.\n\n" +
			"Commands are a noun, then a verb (greenmint readings import). Every command takes --json (results,\n" +
			"and errors, as JSON); commands that act on a workspace take --dir, and those that reach the ledger\n" +
			"or the oracle's database --ledger/--connection or --db. Exit codes: 0 ok, 1 internal, 2 invalid,\n" +
			"3 not found, 4 conflict, 5 unauthenticated or forbidden, 6 unavailable (docs/cli.md).",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().BoolVar(&m.asJSON, "json", false, "print results, and errors, as JSON (for scripts)")
	root.AddCommand(
		m.initCommand(), m.migrateCommand(), m.demoCommand(),
		m.registrationCommand(), m.meterCommand(), m.readingsCommand(), m.attestationCommand(), m.batchCommand(),
		m.datasetCommand(), m.gridCommand(), m.oracleCommand(), m.organisationCommand(), m.simulateCommand(),
		m.ledgerCommand(), m.readmodelCommand(), m.fabricCommand(), m.chaincodeCommand(), m.gatewayCommand(), m.verifyCommand(),
	)
	root.AddCommand(m.deprecatedCommands()...)
	markRunning(root, &m.running)
	return root
}

// markRunning wraps every command's RunE to record that it started: an
// error before that is the command line's.
func markRunning(c *cobra.Command, running *bool) {
	if run := c.RunE; run != nil {
		c.RunE = func(cmd *cobra.Command, args []string) error {
			*running = true
			return run(cmd, args)
		}
	}
	for _, sub := range c.Commands() {
		markRunning(sub, running)
	}
}

// emit prints v as indented JSON with --json, else the human text.
func (m *Main) emit(v any, human string) error {
	if m.asJSON {
		return m.emitJSON(v)
	}
	_, err := fmt.Fprintln(m.Out, human)
	return err
}

func (m *Main) emitJSON(v any) error {
	enc := json.NewEncoder(m.Out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
