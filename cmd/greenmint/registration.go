package main

import (
	"bytes"
	"context"
	"encoding/base64"
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

// Outcomes of an entry of a registration file.
const (
	outcomeRegistered = "registered" // new on the ledger
	outcomeUnchanged  = "unchanged"  // on the ledger already, identical: skipped
	outcomeAmended    = "amended"    // on the ledger, pending, differed: amended (--amend)
	outcomeDiffers    = "differs"    // on the ledger, differs: left as it is
)

// difference is one field in which a file's entry and the ledger differ.
type difference struct {
	Field  string `json:"field"`
	File   string `json:"file"`
	Ledger string `json:"ledger"`
}

// entryResult is what `registration apply` did with one entry.
type entryResult struct {
	Kind        string       `json:"kind"` // site or meter
	ID          string       `json:"id"`
	Outcome     string       `json:"outcome"`
	Differences []difference `json:"differences,omitempty"`
	Status      string       `json:"status"` // on the ledger afterwards: pending, approved, suspended
	Approved    bool         `json:"approved"`
}

// diff lists the fields, by their JSON names, whose values differ.
func diff(fields ...[3]string) []difference {
	var out []difference
	for _, f := range fields {
		if f[1] != f[2] {
			out = append(out, difference{Field: f[0], File: f[1], Ledger: f[2]})
		}
	}
	return out
}

func siteDiff(r greenmint.RegisterSiteRequest, s *greenmint.Site) []difference {
	d := func(v int64) string { return fmt.Sprint(v) }
	return diff(
		[3]string{"name", r.Name, s.Name},
		[3]string{"country", r.Country, s.Country},
		[3]string{"grid_region", r.GridRegion, s.GridRegion},
		[3]string{"latitude_microdeg", d(r.LatitudeMicro), d(s.LatitudeMicro)},
		[3]string{"longitude_microdeg", d(r.LongitudeMicro), d(s.LongitudeMicro)},
		[3]string{"capacity_w", d(r.CapacityW), d(s.CapacityW)},
		[3]string{"fleet.hashrate_ths", d(r.Fleet.HashrateTHs), d(s.Fleet.HashrateTHs)},
		[3]string{"fleet.efficiency_mj_per_th", d(r.Fleet.EfficiencyMJ), d(s.Fleet.EfficiencyMJ)},
	)
}

func meterDiff(r greenmint.RegisterMeterRequest, mt *greenmint.Meter) []difference {
	d := func(v int64) string { return fmt.Sprint(v) }
	key := func(k []byte) string { return base64.StdEncoding.EncodeToString(k) }
	out := diff(
		[3]string{"site_id", r.SiteID, mt.SiteID},
		[3]string{"kind", string(r.Kind), string(mt.Kind)},
		[3]string{"technology", r.Technology, mt.Technology},
		[3]string{"capacity_w", d(r.CapacityW), d(mt.CapacityW)},
		[3]string{"interval_minutes", d(r.IntervalMinutes), d(mt.IntervalMinutes)},
	)
	if !bytes.Equal(r.PublicKey, mt.PublicKey) {
		out = append(out, difference{Field: "public_key", File: key(r.PublicKey), Ledger: key(mt.PublicKey)})
	}
	return out
}

func (m *Main) registrationApplyCommand() *cobra.Command {
	var ws wsFlags
	var file, as, approveAs string
	var amend bool
	cmd := &cobra.Command{
		Use:   "apply",
		Short: "Register the sites and meters of a registration file as a miner (re-runnable); with --approve-as, approve them as the registry",
		Long: "Registers each site, then each meter, of the registration file (docs/registration.md: its fields,\n" +
			"a JSON Schema and a complete example) as the miner --as; they stay pending until the registry\n" +
			"approves them, which --approve-as does at once.\n\n" +
			"It can be run again: an entry the ledger holds already, identical, is reported unchanged and\n" +
			"skipped (and approved if --approve-as and it is still pending); an entry that differs is reported\n" +
			"field by field and left as it is, or with --amend replaced if it is still pending (an approved\n" +
			"entry is never changed). A run that stopped half-way is finished by running it again. Exit 4\n" +
			"(conflict) when an entry differs and was not amended.",
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
			a := &applier{l: w.Ledger, miner: miner, registry: registry, amend: amend}
			var results []entryResult
			report := func(r entryResult, err error) error {
				if err != nil {
					// What was done before stays done; a rerun picks up from here.
					m.printEntries(results)
					return fmt.Errorf("%s %s: %w", r.Kind, r.ID, err)
				}
				results = append(results, r)
				return nil
			}
			for _, s := range reg.Sites {
				if err := report(a.site(ctx, s)); err != nil {
					return err
				}
			}
			for _, mr := range reg.Meters {
				if err := report(a.meter(ctx, mr)); err != nil {
					return err
				}
			}
			if m.asJSON {
				if err := m.emitJSON(map[string]any{"entries": results}); err != nil {
					return err
				}
			} else {
				m.printEntries(results)
			}
			var differ []string
			for _, r := range results {
				if r.Outcome == outcomeDiffers {
					differ = append(differ, r.Kind+" "+r.ID)
				}
			}
			if len(differ) > 0 {
				return greenmint.Errorf(greenmint.ECONFLICT, "%s differ(s) from what the ledger holds (listed above); correct the file, or amend pending entries with --amend", strings.Join(differ, ", "))
			}
			return nil
		},
	}
	ws.bind(cmd, true, false)
	cmd.Flags().StringVar(&file, "file", "", "the registration file (docs/registration.md)")
	cmd.Flags().StringVar(&as, "as", consortium.MinerMSP+":miner", "the miner that registers (MSP:user)")
	cmd.Flags().StringVar(&approveAs, "approve-as", "", "approve as this registry identity, e.g. RegistryMSP:registrar")
	cmd.Flags().BoolVar(&amend, "amend", false, "replace pending entries that differ from the file (AmendSite, AmendMeter)")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

// printEntries prints what registration apply did, one line an entry and
// one a difference (not with --json, where the result carries them).
func (m *Main) printEntries(results []entryResult) {
	if m.asJSON {
		return
	}
	for _, r := range results {
		fmt.Fprintf(m.Out, "%s %s: %s, %s\n", r.Kind, r.ID, r.Outcome, r.Status)
		for _, d := range r.Differences {
			fmt.Fprintf(m.Out, "  %s: file %q, ledger %q\n", d.Field, d.File, d.Ledger)
		}
	}
}

// applier registers a registration file's entries idempotently.
type applier struct {
	l        greenmint.Ledger
	miner    *greenmint.Identity
	registry *greenmint.Identity // nil: no approval
	amend    bool
}

func (a *applier) site(ctx context.Context, r greenmint.RegisterSiteRequest) (entryResult, error) {
	res := entryResult{Kind: "site", ID: r.SiteID}
	var s greenmint.Site
	err := greenmint.EvaluateJSON(ctx, a.l, a.miner, greenmint.QueryGetSite, greenmint.IDQuery{ID: r.SiteID}, &s)
	switch {
	case greenmint.ErrorCode(err) == greenmint.ENOTFOUND:
		if _, err := greenmint.SubmitJSON(ctx, a.l, a.miner, greenmint.TxRegisterSite, r, &s); err != nil {
			return res, err
		}
		res.Outcome = outcomeRegistered
	case err != nil:
		return res, err
	case s.Owner != a.miner.MSPID:
		// Another organisation's site: nothing to compare, never approve it.
		return res, greenmint.Errorf(greenmint.EFORBIDDEN, "site %s is registered by %s, not by %s", r.SiteID, s.Owner, a.miner.MSPID)
	default:
		res.Outcome, res.Differences = outcomeUnchanged, siteDiff(r, &s)
		if len(res.Differences) > 0 {
			res.Outcome = outcomeDiffers
			if a.amend && s.Status == greenmint.StatusPending {
				if _, err := greenmint.SubmitJSON(ctx, a.l, a.miner, greenmint.TxAmendSite, greenmint.AmendSiteRequest(r), &s); err != nil {
					return res, err
				}
				res.Outcome = outcomeAmended
			}
		}
	}
	res.Status = string(s.Status)
	if a.registry != nil && s.Status == greenmint.StatusPending && res.Outcome != outcomeDiffers {
		if _, err := greenmint.SubmitJSON(ctx, a.l, a.registry, greenmint.TxApproveSite, greenmint.StatusRequest{ID: r.SiteID}, nil); err != nil {
			return res, fmt.Errorf("approving: %w", err)
		}
		res.Status, res.Approved = string(greenmint.StatusApproved), true
	}
	return res, nil
}

func (a *applier) meter(ctx context.Context, r greenmint.RegisterMeterRequest) (entryResult, error) {
	res := entryResult{Kind: "meter", ID: r.MeterID}
	var mt greenmint.Meter
	err := greenmint.EvaluateJSON(ctx, a.l, a.miner, greenmint.QueryGetMeter, greenmint.IDQuery{ID: r.MeterID}, &mt)
	switch {
	case greenmint.ErrorCode(err) == greenmint.ENOTFOUND:
		if _, err := greenmint.SubmitJSON(ctx, a.l, a.miner, greenmint.TxRegisterMeter, r, &mt); err != nil {
			return res, err
		}
		res.Outcome = outcomeRegistered
	case err != nil:
		return res, err
	case mt.Owner != a.miner.MSPID:
		return res, greenmint.Errorf(greenmint.EFORBIDDEN, "meter %s is registered by %s, not by %s", r.MeterID, mt.Owner, a.miner.MSPID)
	default:
		res.Outcome, res.Differences = outcomeUnchanged, meterDiff(r, &mt)
		if len(res.Differences) > 0 {
			res.Outcome = outcomeDiffers
			if a.amend && mt.Status == greenmint.StatusPending {
				if _, err := greenmint.SubmitJSON(ctx, a.l, a.miner, greenmint.TxAmendMeter, greenmint.AmendMeterRequest(r), &mt); err != nil {
					return res, err
				}
				res.Outcome = outcomeAmended
			}
		}
	}
	res.Status = string(mt.Status)
	if a.registry != nil && mt.Status == greenmint.StatusPending && res.Outcome != outcomeDiffers {
		if _, err := greenmint.SubmitJSON(ctx, a.l, a.registry, greenmint.TxApproveMeter, greenmint.StatusRequest{ID: r.MeterID}, nil); err != nil {
			return res, fmt.Errorf("approving: %w", err)
		}
		res.Status, res.Approved = string(greenmint.StatusApproved), true
	}
	return res, nil
}
