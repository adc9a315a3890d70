package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/internal/store"
	"github.com/greenmint/greenmint/oracle"
	"github.com/greenmint/greenmint/refdata"
	"github.com/spf13/cobra"
)

func (m *Main) attestationCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "attestation", Short: "Attestations: build, co-sign and submit one; show one"}
	cmd.AddCommand(m.attestationCreateCommand(), m.attestationShowCommand())
	return cmd
}

func (m *Main) attestationCreateCommand() *cobra.Command {
	var ws wsFlags
	var as, site, from, to, instrument, datasetID, datasetVersion, peerURL, peerToken, peerCA string
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Build, co-sign and submit an attestation of a site's hours; the contract mints a batch",
		Long: "Oracle --as builds the attestation of the site's hours [--from, --to) from the readings in its\n" +
			"database, signs it, has it co-signed (by the workspace's other oracles up to the threshold, or by\n" +
			"--peer over HTTP), stores it and submits it; the contract checks it again and mints one batch.\n" +
			"Attestations signed earlier and not yet submitted are submitted first.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			f, err1 := greenmint.ParseHour(from)
			t, err2 := greenmint.ParseHour(to)
			if err1 != nil || err2 != nil {
				return greenmint.Errorf(greenmint.EINVALID, "--from and --to must be whole hours, RFC 3339 UTC (e.g. 2023-06-01T00:00:00Z)")
			}
			w, err := ws.open()
			if err != nil {
				return err
			}
			defer w.Close()
			db, err := w.Config.OpenStore(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			sub, err := w.Submitter(db, as)
			if err != nil {
				return err
			}
			if peerURL != "" {
				// The peer oracle rebuilds from its own readings, in its own process.
				peer, err := peerCosigner(peerURL, peerToken, peerCA)
				if err != nil {
					return err
				}
				sub.Peers = []oracle.Cosigner{peer}
			}
			pending, err := db.Attestations(ctx, store.AttestationSigned)
			if err != nil {
				return err
			}
			if len(pending) > 0 {
				var ps []oracle.PendingAttestation
				for _, p := range pending {
					ps = append(ps, oracle.PendingAttestation{ID: p.ID, Signed: p.Signed})
				}
				_, refused, err := sub.Resume(ctx, ps)
				if err != nil {
					return err
				}
				for _, r := range refused {
					fmt.Fprintf(m.Err, "note: a stored %v; marked refused, not submitted again\n", r)
				}
			}
			res, err := sub.Attest(ctx, oracle.AttestRequest{SiteID: site, Instrument: greenmint.Instrument(instrument), From: f, To: t,
				Dataset: greenmint.DatasetPin{ID: datasetID, Version: datasetVersion}})
			if err != nil {
				return err
			}
			out := attestResult{MintResult: *res, Gaps: []string{}}
			if rec, err := storedAttestation(ctx, db, res.AttestationID); err == nil {
				out.Gaps = rec.Signed.Attestation.Gaps
			} else if greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
				return err
			}
			human := fmt.Sprintf("minted batch %s: %d units (attestation %s)", res.BatchID, res.Quantity, res.AttestationID)
			if len(out.Gaps) > 0 {
				human += fmt.Sprintf("\n%d hour(s) left out for missing readings: %s", len(out.Gaps), strings.Join(out.Gaps, ", "))
			}
			return m.emit(out, human)
		},
	}
	ws.bind(cmd, true, true)
	cmd.Flags().StringVar(&as, "as", consortium.OracleAMSP+":oracle", "the oracle that builds, signs and submits (MSP:user)")
	cmd.Flags().StringVar(&site, "site", "", "site ID")
	cmd.Flags().StringVar(&from, "from", "", "first hour, e.g. 2023-06-01T00:00:00Z")
	cmd.Flags().StringVar(&to, "to", "", "end hour (exclusive)")
	cmd.Flags().StringVar(&instrument, "instrument", "CO2E", "EAC or CO2E")
	cmd.Flags().StringVar(&datasetID, "dataset", refdata.DefaultDatasetID, "emission-factor dataset ID")
	cmd.Flags().StringVar(&datasetVersion, "dataset-version", refdata.DefaultDatasetVersion, "emission-factor dataset version")
	cmd.Flags().StringVar(&peerURL, "peer", "", "a peer oracle's base URL, asked to co-sign over HTTP (default: the workspace's other oracles, locally)")
	cmd.Flags().StringVar(&peerToken, "peer-token", "", "a peer-oracle token the peer issued (default: $GREENMINT_PEER_TOKEN)")
	cmd.Flags().StringVar(&peerCA, "peer-ca", "", "PEM file of the CA (or certificate) the peer's TLS certificate chains to, when it is not a public one")
	for _, f := range []string{"site", "from", "to"} {
		_ = cmd.MarkFlagRequired(f)
	}
	return cmd
}

// attestResult is what `attestation create` prints: the mint and the hours
// of the period left out for missing readings.
type attestResult struct {
	greenmint.MintResult
	Gaps []string `json:"gaps"`
}

// storedAttestation is the attestation id in the oracle's database;
// ENOTFOUND if this oracle did not sign it.
func storedAttestation(ctx context.Context, db *store.DB, id string) (*store.AttestationRecord, error) {
	recs, err := db.Attestations(ctx, "")
	if err != nil {
		return nil, err
	}
	for i := range recs {
		if recs[i].ID == id {
			return &recs[i], nil
		}
	}
	return nil, greenmint.Errorf(greenmint.ENOTFOUND, "attestation %s is neither on the ledger nor in this oracle's database", id)
}

// attestationView is an attestation as `attestation show` prints it.
type attestationView struct {
	ID      string `json:"id"`
	Source  string `json:"source"` // ledger, or oracle (its database: not minted)
	Status  string `json:"status"` // minted, signed (not yet submitted) or refused
	BatchID string `json:"batch_id,omitempty"`
	TxID    string `json:"tx_id,omitempty"`
	Refusal string `json:"refusal,omitempty"`
	greenmint.SignedAttestation
}

func (m *Main) attestationShowCommand() *cobra.Command {
	var ws wsFlags
	var as, id, batchID string
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Show an attestation: its hours, gaps, factors, totals and signatures (table, or --json)",
		Long: "Shows the attestation --id, or the one behind batch --batch, as the ledger holds it (GetAttestation,\n" +
			"read as --as); one the ledger does not hold (signed and not yet submitted, or refused) is read from\n" +
			"the oracle's database, with its status and the ledger's reason for a refusal.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			w, err := ws.open()
			if err != nil {
				return err
			}
			defer w.Close()
			reader, err := w.Identity(as)
			if err != nil {
				return err
			}
			if batchID != "" {
				var b greenmint.Batch
				if err := greenmint.EvaluateJSON(ctx, w.Ledger, reader, greenmint.QueryGetBatch, greenmint.IDQuery{ID: batchID}, &b); err != nil {
					return err
				}
				id = b.AttestationID
			}
			var v attestationView
			var rec greenmint.AttestationRecord
			err = greenmint.EvaluateJSON(ctx, w.Ledger, reader, greenmint.QueryGetAttestation, greenmint.IDQuery{ID: id}, &rec)
			switch {
			case err == nil:
				v = attestationView{ID: rec.ID, Source: "ledger", Status: store.AttestationMinted, BatchID: rec.BatchID, TxID: rec.TxID, SignedAttestation: rec.Attestation}
			case greenmint.ErrorCode(err) == greenmint.ENOTFOUND:
				db, err := w.Config.OpenStore(ctx)
				if err != nil {
					return err
				}
				defer db.Close()
				sr, err := storedAttestation(ctx, db, id)
				if err != nil {
					return err
				}
				v = attestationView{ID: sr.ID, Source: "oracle", Status: sr.Status, BatchID: sr.BatchID, Refusal: sr.Refusal, SignedAttestation: sr.Signed}
			default:
				return err
			}
			if v.Attestation.Gaps == nil {
				v.Attestation.Gaps = []string{}
			}
			if m.asJSON {
				return m.emitJSON(v)
			}
			return printAttestation(m.Out, &v)
		},
	}
	ws.bind(cmd, true, true)
	cmd.Flags().StringVar(&id, "id", "", "attestation ID")
	cmd.Flags().StringVar(&batchID, "batch", "", "or the batch it minted")
	cmd.Flags().StringVar(&as, "as", consortium.AuditorMSP+":auditor", "who reads the ledger (MSP:user)")
	cmd.MarkFlagsOneRequired("id", "batch")
	cmd.MarkFlagsMutuallyExclusive("id", "batch")
	return cmd
}

// printAttestation writes an attestation as a table.
func printAttestation(out io.Writer, v *attestationView) error {
	a := v.Attestation
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	status := v.Status
	switch {
	case v.BatchID != "":
		status += ": batch " + v.BatchID
		if v.TxID != "" {
			status += ", transaction " + v.TxID
		}
	case v.Refusal != "":
		status += ": " + v.Refusal
	}
	fmt.Fprintf(w, "attestation\t%s\n", v.ID)
	fmt.Fprintf(w, "status\t%s (from the %s)\n", status, v.Source)
	fmt.Fprintf(w, "site\t%s, %s, %s to %s, attested %s\n", a.SiteID, a.Instrument, a.PeriodStart, a.PeriodEnd, a.AttestedAt)
	fmt.Fprintf(w, "dataset\t%s %s (SHA-256 %s)\n", a.Dataset.ID, a.Dataset.Version, a.Dataset.SHA256)
	var life []string
	for _, l := range a.Factors.Lifecycle {
		life = append(life, fmt.Sprintf("%s %d", l.Technology, l.Factor))
	}
	fmt.Fprintf(w, "factors\tgrid region %s: intermittent %d, firm %d gCO2e/MWh; lifecycle (gCO2e/MWh): %s\n", a.Factors.GridRegion, a.Factors.Intermittent, a.Factors.Firm, strings.Join(life, ", "))
	fmt.Fprintf(w, "readings\tMerkle root %s; consumption meters %s\n", a.ReadingsRoot, strings.Join(a.ConsumptionMeters, ", "))
	fmt.Fprintf(w, "totals\tconsumption %d Wh, supply %d Wh, matched %d Wh (%s)\n", a.Totals.ConsumptionWh, a.Totals.SupplyWh, a.Totals.MatchedWh, greenmint.FormatMWh(a.Totals.MatchedWh))
	unit := "Wh"
	if a.Instrument == greenmint.CO2E {
		unit = "gCO2e (" + greenmint.FormatTonnes(a.Quantity) + ")"
	}
	fmt.Fprintf(w, "quantity\t%d %s\n", a.Quantity, unit)
	gaps := "none"
	if len(a.Gaps) > 0 {
		gaps = fmt.Sprintf("%d hour(s) left out for missing readings: %s", len(a.Gaps), strings.Join(a.Gaps, ", "))
	}
	fmt.Fprintf(w, "gaps\t%s\n", gaps)
	for i, s := range v.Signatures {
		label := ""
		if i == 0 {
			label = "signatures"
		}
		fmt.Fprintf(w, "%s\t%s %s\n", label, s.OracleID, base64.StdEncoding.EncodeToString(s.Signature))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(out)
	w = tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "HOUR\tCONSUMPTION_WH\tSUPPLY_WH\tMATCHED_WH\tGRID\tSUPPLIES (meter technology generated/available/matched Wh)\t")
	for _, h := range a.Hours {
		var sup []string
		for _, al := range h.Allocations {
			sup = append(sup, fmt.Sprintf("%s %s %d/%d/%d", al.MeterID, al.Technology, al.GeneratedWh, al.AvailableWh, al.MatchedWh))
		}
		grid := h.GridState
		if h.GridFactor != nil {
			grid += fmt.Sprintf(" %d g/MWh", *h.GridFactor)
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%s\t%s\t\n", h.Start, h.ConsumptionWh, h.SupplyWh, h.MatchedWh, grid, strings.Join(sup, "; "))
	}
	return w.Flush()
}
