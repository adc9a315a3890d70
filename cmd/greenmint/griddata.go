package main

import (
	"fmt"
	"os"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/oracle"
	"github.com/greenmint/greenmint/refdata"
	"github.com/spf13/cobra"
)

func (m *Main) datasetCommand() *cobra.Command { return m.gridDataCommands()[0] }

func (m *Main) gridCommand() *cobra.Command { return m.gridDataCommands()[1] }

func (m *Main) gridDataCommands() []*cobra.Command {
	var ws wsFlags
	var as, id, version, source, license, gridFile, lifeFile, hourlyFile, statesFile string
	dataset := &cobra.Command{Use: "dataset", Short: "Emission-factor datasets (R9)"}
	publish := &cobra.Command{
		Use:   "publish",
		Short: "Publish an emission-factor dataset from CSV files (shipped IFI and IPCC factors where a file is not given), as the registry",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ds, err := refdata.DefaultDataset()
			if err != nil {
				return err
			}
			ds.ID, ds.Version, ds.Source, ds.License = id, version, source, license
			for _, f := range []struct {
				path  string
				parse func(*os.File) error
			}{
				{gridFile, func(r *os.File) (err error) { ds.GridFactors, err = oracle.ParseGridFactors(r); return }},
				{lifeFile, func(r *os.File) (err error) { ds.LifecycleFactors, err = oracle.ParseLifecycle(r); return }},
				{hourlyFile, func(r *os.File) (err error) { ds.HourlyFactors, err = oracle.ParseHourlyFactors(r); return }},
			} {
				if f.path == "" {
					continue
				}
				r, err := os.Open(f.path)
				if err != nil {
					return &greenmint.Error{Code: greenmint.EINVALID, Err: err}
				}
				err = f.parse(r)
				r.Close()
				if err != nil {
					return fmt.Errorf("%s: %w", f.path, err)
				}
			}
			sum, err := greenmint.DatasetSHA256(ds)
			if err != nil {
				return err
			}
			w, err := ws.open()
			if err != nil {
				return err
			}
			defer w.Close()
			l := w.Ledger
			reg, err := w.Identity(as)
			if err != nil {
				return err
			}
			var pin greenmint.DatasetPin
			if _, err := greenmint.SubmitJSON(cmd.Context(), l, reg, greenmint.TxPublishDataset, greenmint.PublishDatasetRequest{Dataset: ds, SHA256: sum}, &pin); err != nil {
				return err
			}
			return m.emit(pin, fmt.Sprintf("dataset %s %s published: %d grid factors, %d lifecycle factors, %d hourly factors; SHA-256 %s",
				pin.ID, pin.Version, len(ds.GridFactors), len(ds.LifecycleFactors), len(ds.HourlyFactors), pin.SHA256))
		},
	}
	publish.Flags().StringVar(&id, "id", refdata.DefaultDatasetID, "dataset ID")
	publish.Flags().StringVar(&version, "version", "", "dataset version (required, new)")
	publish.Flags().StringVar(&source, "source", "operator import", "where the factors come from")
	publish.Flags().StringVar(&license, "license", "see source", "the factors' licence")
	publish.Flags().StringVar(&gridFile, "grid", "", "CSV "+oracle.GridFactorsHeader)
	publish.Flags().StringVar(&lifeFile, "lifecycle", "", "CSV "+oracle.LifecycleHeader)
	publish.Flags().StringVar(&hourlyFile, "hourly", "", "CSV "+oracle.HourlyFactorsHeader)
	publish.Flags().StringVar(&as, "as", consortium.RegistryMSP+":registrar", "the registry identity")
	dataset.AddCommand(publish)

	grid := &cobra.Command{Use: "grid", Short: "The grid's surplus and curtailment hours"}
	importStates := &cobra.Command{
		Use:   "import",
		Short: "Import surplus or curtailment hours per region (CSV " + oracle.GridStatesHeader + ") into the oracle's database",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := os.Open(statesFile)
			if err != nil {
				return &greenmint.Error{Code: greenmint.EINVALID, Err: err}
			}
			defer r.Close()
			states, err := oracle.ParseGridStates(r)
			if err != nil {
				return err
			}
			db, err := ws.config().OpenStore(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			byRegion := map[string]map[time.Time]string{}
			for _, s := range states {
				h, _ := greenmint.ParseHour(s.Hour)
				if byRegion[s.Region] == nil {
					byRegion[s.Region] = map[time.Time]string{}
				}
				byRegion[s.Region][h] = s.State
			}
			for region, st := range byRegion {
				if err := db.SaveGridStates(cmd.Context(), region, st); err != nil {
					return err
				}
			}
			return m.emit(map[string]any{"hours": len(states), "regions": len(byRegion)}, fmt.Sprintf("%d hours of %d regions imported", len(states), len(byRegion)))
		},
	}
	importStates.Flags().StringVar(&statesFile, "file", "", "the CSV file")
	ws.bind(publish, true, false)
	ws.bind(importStates, false, true)
	_ = publish.MarkFlagRequired("version")
	_ = importStates.MarkFlagRequired("file")
	grid.AddCommand(importStates)
	return []*cobra.Command{dataset, grid}
}
