package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/consortium"
	"github.com/spf13/cobra"
)

func (m *Main) registrationCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "registration", Short: "Registration files: a miner's sites and meters (docs/registration.md)"}
	cmd.AddCommand(m.registrationApplyCommand())
	return cmd
}

// readRegistration reads a registration file (docs/registration.md).
func readRegistration(path string) (*greenmint.Registration, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, &greenmint.Error{Code: greenmint.EINVALID, Message: "registration file", Err: err}
	}
	var reg greenmint.Registration
	if err := greenmint.DecodeStrict(raw, &reg); err != nil {
		return nil, fmt.Errorf("registration file %s: %w", path, err)
	}
	return &reg, nil
}

func (m *Main) registrationApplyCommand() *cobra.Command {
	var ws wsFlags
	var file, as, approveAs string
	cmd := &cobra.Command{
		Use:   "apply",
		Short: "Register the sites and meters of a registration file as a miner; with --approve-as, approve them as the registry",
		Long: "Registers each site, then each meter, of the registration file (docs/registration.md: its fields,\n" +
			"a JSON Schema and a complete example) as the miner --as; they stay pending until the registry\n" +
			"approves them, which --approve-as does at once.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			reg, err := readRegistration(file)
			if err != nil {
				return err
			}
			w, err := ws.open()
			if err != nil {
				return err
			}
			defer w.Close()
			l := w.Ledger
			miner, err := w.Identity(as)
			if err != nil {
				return err
			}
			var registry *greenmint.Identity
			if approveAs != "" {
				if registry, err = w.Identity(approveAs); err != nil {
					return err
				}
			}
			var done []string
			for _, s := range reg.Sites {
				if _, err := greenmint.SubmitJSON(ctx, l, miner, greenmint.TxRegisterSite, s, nil); err != nil {
					return fmt.Errorf("site %s: %w", s.SiteID, err)
				}
				if registry != nil {
					if _, err := greenmint.SubmitJSON(ctx, l, registry, greenmint.TxApproveSite, greenmint.StatusRequest{ID: s.SiteID}, nil); err != nil {
						return fmt.Errorf("approving site %s: %w", s.SiteID, err)
					}
				}
				done = append(done, "site "+s.SiteID)
			}
			for _, mr := range reg.Meters {
				if _, err := greenmint.SubmitJSON(ctx, l, miner, greenmint.TxRegisterMeter, mr, nil); err != nil {
					return fmt.Errorf("meter %s: %w", mr.MeterID, err)
				}
				if registry != nil {
					if _, err := greenmint.SubmitJSON(ctx, l, registry, greenmint.TxApproveMeter, greenmint.StatusRequest{ID: mr.MeterID}, nil); err != nil {
						return fmt.Errorf("approving meter %s: %w", mr.MeterID, err)
					}
				}
				done = append(done, "meter "+mr.MeterID)
			}
			return m.emit(map[string]any{"registered": done, "approved": registry != nil}, fmt.Sprintf("registered %s (approved: %v)", strings.Join(done, ", "), registry != nil))
		},
	}
	ws.bind(cmd, true, false)
	cmd.Flags().StringVar(&file, "file", "", "the registration file (docs/registration.md)")
	cmd.Flags().StringVar(&as, "as", consortium.MinerMSP+":miner", "the miner that registers (MSP:user)")
	cmd.Flags().StringVar(&approveAs, "approve-as", "", "approve as this registry identity, e.g. RegistryMSP:registrar")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}
