package main

import (
	"fmt"
	"os"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/api"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/internal/store"
	"github.com/greenmint/greenmint/workspace"
	"github.com/spf13/cobra"
)

// wsFlags are the flags that say which workspace a command acts on. Each
// command binds only those it uses: --dir always, --ledger and
// --connection when it reaches the ledger, --db when it opens the oracle's
// database.
type wsFlags struct {
	dir, ledger, connection, db string
}

func (f *wsFlags) bind(c *cobra.Command, ledger, db bool) {
	c.Flags().StringVar(&f.dir, "dir", ".data", "the workspace directory (greenmint init)")
	if ledger {
		c.Flags().StringVar(&f.ledger, "ledger", workspace.Embedded, "the ledger: embedded (the workspace's) or fabric")
		c.Flags().StringVar(&f.connection, "connection", ".fabric/connection.json", "with --ledger fabric: the connection file")
	}
	if db {
		c.Flags().StringVar(&f.db, "db", "", "the oracle's database: a postgres:// DSN, or a SQLite file (default: $GREENMINT_DB, else oracle.db in the workspace)")
	}
}

// config is the workspace configuration of the flags, with $GREENMINT_DB
// when --db is not given (read here, not as the flag's default, so that
// --help never prints it).
func (f *wsFlags) config() workspace.Config {
	c := workspace.Config{Dir: f.dir, Ledger: f.ledger, Connection: f.connection, DB: f.db}
	if c.DB == "" {
		c.DB = os.Getenv("GREENMINT_DB")
	}
	return c
}

func (f *wsFlags) open() (*workspace.Workspace, error) { return workspace.Open(f.config()) }

// tokens is the token configuration of a workspace's settings.
func tokens(s *workspace.Settings) (api.TokenConfig, error) {
	secret, err := s.Secret()
	if err != nil {
		return api.TokenConfig{}, err
	}
	return api.TokenConfig{Secret: secret, Issuer: s.Issuer, Audience: s.Audience}, nil
}

func (m *Main) initCommand() *cobra.Command {
	var ws wsFlags
	var file string
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a workspace: the consortium's organisations and identities, an embedded ledger bootstrapped by the registry, the oracle's database",
		Long: "Creates the organisations, users and oracle keys of the consortium file (--consortium; default the\n" +
			"demo's: docs/consortium.md), an embedded ledger whose registry is the file's registry organisation,\n" +
			"bootstrapped with the file's policy, every organisation admitted to its roles and every oracle\n" +
			"registered, and the oracle's settings and database. With --ledger fabric the network exists\n" +
			"already: only the oracle's settings and database are made.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg := ws.config()
			if cfg.Ledger == workspace.Fabric {
				if file != "" {
					return greenmint.Errorf(greenmint.EINVALID, "--consortium makes an embedded network; a Fabric network's organisations are its operators'")
				}
				v, err := cfg.InitOracle(ctx)
				if err != nil {
					return err
				}
				return m.emit(map[string]any{"dir": cfg.Dir, "schema_version": v}, fmt.Sprintf("oracle workspace %s for the Fabric network: settings and database at schema %d", cfg.Dir, v))
			}
			f := consortium.Demo()
			if file != "" {
				var err error
				if f, err = consortium.ReadFile(file); err != nil {
					return err
				}
			}
			w, err := workspace.Create(cfg, f)
			if err != nil {
				return err
			}
			defer w.Close()
			ds, err := w.Bootstrap(ctx)
			if err != nil {
				return err
			}
			v, err := cfg.InitOracle(ctx)
			if err != nil {
				return err
			}
			members := f.Members()
			out := map[string]any{"dir": cfg.Dir, "members": members, "registry": f.RegistryMSP(), "oracles": f.Oracles, "policy": f.Policy, "dataset": ds.SHA256, "schema_version": v}
			return m.emit(out, fmt.Sprintf("workspace %s: %d organisations, %d members, ledger bootstrapped (registry %s, %d oracles, threshold %d, dataset %s), oracle database at schema %d",
				cfg.Dir, len(f.Organizations), len(members), f.RegistryMSP(), len(f.Oracles), f.Policy.Threshold, ds.SHA256[:16], v))
		},
	}
	ws.bind(cmd, true, true)
	cmd.Flags().StringVar(&file, "consortium", "", "the consortium file: organisations, roles, users, oracles, policy (docs/consortium.md; default the demo's)")
	return cmd
}

func (m *Main) migrateCommand() *cobra.Command {
	var ws wsFlags
	var to int64
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the oracle database's migrations (the workspace's SQLite file, or --db)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := store.Open(ws.config().DSN())
			if err != nil {
				return err
			}
			defer db.Close()
			v, err := db.MigrateTo(cmd.Context(), to)
			if err != nil {
				return err
			}
			return m.emit(map[string]any{"dialect": db.Dialect(), "version": v}, fmt.Sprintf("%s database at schema version %d", db.Dialect(), v))
		},
	}
	ws.bind(cmd, false, true)
	cmd.Flags().Int64Var(&to, "to", -1, "migrate up or down to this schema version (default: the latest)")
	return cmd
}
