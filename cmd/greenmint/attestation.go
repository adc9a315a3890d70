package main

import (
	"fmt"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/internal/store"
	"github.com/greenmint/greenmint/oracle"
	"github.com/greenmint/greenmint/refdata"
	"github.com/spf13/cobra"
)

func (m *Main) attestationCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "attestation", Short: "Attestations: build, co-sign and submit one; show one"}
	cmd.AddCommand(m.attestationCreateCommand())
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
			return m.emit(res, fmt.Sprintf("minted batch %s: %d units (attestation %s)", res.BatchID, res.Quantity, res.AttestationID))
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
