package main

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/oracle"
	"github.com/greenmint/greenmint/workspace"
	"github.com/spf13/cobra"
)

func (m *Main) batchCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "batch", Short: "Minted batches: their state and history, a reading's inclusion proof"}
	cmd.AddCommand(m.batchShowCommand(), m.batchProofCommand())
	return cmd
}

// readBatch opens the workspace and reads a batch as the identity as; the
// caller closes the workspace.
func readBatch(ctx context.Context, ws *wsFlags, as, batchID string) (*workspace.Workspace, *greenmint.Identity, *greenmint.Batch, error) {
	w, id, err := openAs(ws, as)
	if err != nil {
		return nil, nil, nil, err
	}
	var b greenmint.Batch
	if err := greenmint.EvaluateJSON(ctx, w.Ledger, id, greenmint.QueryGetBatch, greenmint.IDQuery{ID: batchID}, &b); err != nil {
		w.Close()
		return nil, nil, nil, err
	}
	return w, id, &b, nil
}

func (m *Main) batchShowCommand() *cobra.Command {
	var ws wsFlags
	var as, batchID string
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Show a batch (issued = tradable + escrowed + retired + cancelled), its attestation's totals and its history",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			w, id, b, err := readBatch(ctx, &ws, as, batchID)
			if err != nil {
				return err
			}
			defer w.Close()
			var hist []greenmint.HistoryEntry
			if err := greenmint.EvaluateJSON(ctx, w.Ledger, id, greenmint.QueryBatchHistory, greenmint.IDQuery{ID: batchID}, &hist); err != nil {
				return err
			}
			var rec greenmint.AttestationRecord
			if err := greenmint.EvaluateJSON(ctx, w.Ledger, id, greenmint.QueryGetAttestation, greenmint.IDQuery{ID: b.AttestationID}, &rec); err != nil {
				return fmt.Errorf("the attestation of batch %s: %w", b.ID, err)
			}
			a := rec.Attestation.Attestation
			totals := batchAttestation{ID: rec.ID, Totals: a.Totals, Quantity: a.Quantity, Hours: len(a.Hours), Gaps: a.Gaps, Signatures: len(rec.Attestation.Signatures)}
			if totals.Gaps == nil {
				totals.Gaps = []string{}
			}
			human := fmt.Sprintf("%s %s site %s %s–%s: issued %d = tradable %d + escrowed %d + retired %d + cancelled %d; %d changes\n"+
				"attestation %s: %d hours (%d left out for missing readings), consumption %d Wh, supply %d Wh, matched %d Wh; quantity %d; %d signatures (greenmint attestation show --batch %s)",
				b.ID, b.Instrument, b.SiteID, b.PeriodStart, b.PeriodEnd, b.Issued, b.Tradable, b.Escrowed, b.Retired, b.Cancelled, len(hist),
				rec.ID, len(a.Hours), len(a.Gaps), a.Totals.ConsumptionWh, a.Totals.SupplyWh, a.Totals.MatchedWh, a.Quantity, totals.Signatures, b.ID)
			return m.emit(map[string]any{"batch": b, "attestation": totals, "history": hist}, human)
		},
	}
	ws.bind(cmd, true, false)
	cmd.Flags().StringVar(&batchID, "id", "", "batch ID")
	cmd.Flags().StringVar(&as, "as", consortium.AuditorMSP+":auditor", "who reads (MSP:user)")
	_ = cmd.MarkFlagRequired("id")
	return cmd
}

// batchAttestation is what `batch show` prints of a batch's attestation.
type batchAttestation struct {
	ID         string           `json:"id"`
	Totals     greenmint.Totals `json:"totals"`
	Quantity   int64            `json:"quantity"`
	Hours      int              `json:"hours"`
	Gaps       []string         `json:"gaps"`
	Signatures int              `json:"signatures"`
}

func (m *Main) batchProofCommand() *cobra.Command {
	var ws wsFlags
	var as, batchID, meterID string
	var seq int64
	cmd := &cobra.Command{
		Use:   "proof",
		Short: "Print the Merkle inclusion proof of a reading in a minted batch's attestation, checked against the ledger's root",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			w, id, b, err := readBatch(ctx, &ws, as, batchID)
			if err != nil {
				return err
			}
			defer w.Close()
			var rec greenmint.AttestationRecord
			if err := greenmint.EvaluateJSON(ctx, w.Ledger, id, greenmint.QueryGetAttestation, greenmint.IDQuery{ID: b.AttestationID}, &rec); err != nil {
				return err
			}
			db, err := w.Config.OpenStore(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			a := rec.Attestation.Attestation
			ids := append([]string(nil), a.ConsumptionMeters...)
			for _, h := range a.Hours {
				for _, al := range h.Allocations {
					ids = append(ids, al.MeterID)
				}
			}
			f, _ := greenmint.ParseTime(a.PeriodStart)
			t, _ := greenmint.ParseTime(a.PeriodEnd)
			readings, err := db.Readings(ctx, unique(ids), f, t)
			if err != nil {
				return err
			}
			leaf, steps, err := oracle.Proof(readings, meterID, seq)
			if err != nil {
				return err
			}
			root, _ := hex.DecodeString(a.ReadingsRoot)
			var r32 [32]byte
			copy(r32[:], root)
			if !greenmint.VerifyMerkleProof(leaf, steps, r32) {
				return greenmint.Errorf(greenmint.ECONFLICT, "the stored reading does not prove against the ledger's root: it differs from what was attested")
			}
			out := map[string]any{"batch_id": b.ID, "readings_root": a.ReadingsRoot, "leaf": hex.EncodeToString(leaf[:]), "proof": steps, "verified": true}
			return m.emit(out, fmt.Sprintf("reading %s #%d is in batch %s: %d proof steps to root %s (verified)", meterID, seq, b.ID, len(steps), a.ReadingsRoot))
		},
	}
	ws.bind(cmd, true, true)
	cmd.Flags().StringVar(&batchID, "batch", "", "batch ID")
	cmd.Flags().StringVar(&meterID, "meter", "", "meter ID")
	cmd.Flags().Int64Var(&seq, "seq", 0, "reading sequence number")
	cmd.Flags().StringVar(&as, "as", consortium.AuditorMSP+":auditor", "who reads (MSP:user)")
	for _, f := range []string{"batch", "meter", "seq"} {
		_ = cmd.MarkFlagRequired(f)
	}
	return cmd
}

func unique(xs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
