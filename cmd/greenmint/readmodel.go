package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/internal/store"
	"github.com/greenmint/greenmint/ledger/embedded"
	"github.com/greenmint/greenmint/readmodel"
	"github.com/greenmint/greenmint/workspace"
	"github.com/spf13/cobra"
)

func (m *Main) readmodelCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "readmodel", Short: "The read model: the ledger's events projected into the database (docs/readmodel.md)"}
	cmd.AddCommand(m.readmodelReindexCommand(), m.readmodelReconcileCommand())
	return cmd
}

// openReadModel opens the workspace (its embedded ledger) and the migrated
// database of the flags, and returns a projector with the ledger's newest
// event's transaction ID. close closes both.
func openReadModel(ctx context.Context, ws *wsFlags) (w *workspace.Workspace, p *readmodel.Projector, lastTxID string, closeAll func(), err error) {
	w, err = ws.open()
	if err != nil {
		return nil, nil, "", nil, err
	}
	l, ok := w.Ledger.(*embedded.Ledger)
	if !ok {
		w.Close()
		return nil, nil, "", nil, greenmint.Errorf(greenmint.EINVALID, "the read model commands need the workspace's embedded ledger")
	}
	lastTxID, err = newestEvent(l)
	if err != nil {
		w.Close()
		return nil, nil, "", nil, err
	}
	db, err := store.Open(ws.config().DSN())
	if err != nil {
		w.Close()
		return nil, nil, "", nil, err
	}
	closeAll = func() { db.Close(); w.Close() }
	if _, err = db.Migrate(ctx); err == nil {
		p, err = readmodel.New(ctx, l, db)
	}
	if err != nil {
		closeAll()
		return nil, nil, "", nil, err
	}
	return w, p, lastTxID, closeAll, nil
}

// newestEvent returns the transaction ID of the embedded ledger's newest
// event ("" when it has none): how far a catch-up goes.
func newestEvent(l *embedded.Ledger) (string, error) {
	for n := l.Height(); n > 0; n-- {
		b, err := l.Block(n - 1)
		if err != nil {
			return "", fmt.Errorf("readmodel: %w", err)
		}
		txs := b.Data.Transactions
		for i := len(txs) - 1; i >= 0; i-- {
			if txs[i].Validation == embedded.TxValid && txs[i].Event != nil {
				return txs[i].TxID, nil
			}
		}
	}
	return "", nil
}

func (m *Main) readmodelReindexCommand() *cobra.Command {
	var ws wsFlags
	cmd := &cobra.Command{
		Use:   "reindex",
		Short: "Drop the read model's rows and rebuild them from the ledger's events, from block 0",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			_, p, last, closeAll, err := openReadModel(ctx, &ws)
			if err != nil {
				return err
			}
			defer closeAll()
			if err := p.Reindex(ctx, last); err != nil {
				return err
			}
			cp := p.Checkpoint()
			return m.emit(map[string]any{"block": cp.Block, "index": cp.Index, "tx_id": cp.TxID},
				fmt.Sprintf("read model rebuilt from block 0 through block %d (transaction %s)", cp.Block, cp.TxID))
		},
	}
	ws.bind(cmd, false, true)
	return cmd
}

func (m *Main) readmodelReconcileCommand() *cobra.Command {
	var ws wsFlags
	var as string
	cmd := &cobra.Command{
		Use:   "reconcile",
		Short: "Catch the read model up, compare it with the ledger's state and report every difference (conflict if any)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			w, p, last, closeAll, err := openReadModel(ctx, &ws)
			if err != nil {
				return err
			}
			defer closeAll()
			reader, err := w.Identity(as)
			if err != nil {
				return err
			}
			if err := p.SyncTo(ctx, last); err != nil {
				return err
			}
			diffs, err := p.Reconcile(ctx, reader, last)
			if err != nil {
				return err
			}
			if diffs == nil {
				diffs = []readmodel.Difference{}
			}
			lines := make([]string, len(diffs))
			for i, d := range diffs {
				lines[i] = d.String()
			}
			human := "the read model agrees with the ledger"
			if len(diffs) > 0 {
				human = strings.Join(lines, "\n")
			}
			if err := m.emit(map[string]any{"tx_id": last, "differences": diffs}, human); err != nil {
				return err
			}
			if len(diffs) > 0 {
				return greenmint.Errorf(greenmint.ECONFLICT, "the read model differs from the ledger in %d place(s) (listed above); greenmint readmodel reindex rebuilds it", len(diffs))
			}
			return nil
		},
	}
	ws.bind(cmd, false, true)
	cmd.Flags().StringVar(&as, "as", consortium.RegistryMSP+":registrar", "who reads the ledger (MSP:user): the registry or an admitted auditor")
	return cmd
}
