package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/oracle"
	"github.com/greenmint/greenmint/simulate"
	"github.com/spf13/cobra"
)

// simMeters are the simulator's meters: ID, kind, technology, capacity.
var simMeters = []struct {
	suffix string
	kind   greenmint.MeterKind
	tech   string
	capW   int64
}{{"PV", greenmint.MeterGeneration, "solar_pv_utility", 5_000_000}, {"WIND", greenmint.MeterGeneration, "wind_onshore", 3_000_000}, {"LOAD", greenmint.MeterConsumption, "", 4_000_000}}

func (m *Main) simulateCommand() *cobra.Command {
	var ws wsFlags
	var as, site, url, token, from, faults, surplusFile string
	var hours int
	var hashrate, efficiencyMJ int64
	cmd := &cobra.Command{Use: "simulate", Short: "Virtual meters sending signed readings to an oracle"}
	setup := &cobra.Command{
		Use:   "setup",
		Short: "Make keys for a site's virtual PV, wind and load meters (15-minute) and register and approve them (before oracle serve)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			ctx := c.Context()
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
			registry, err := w.Registrar()
			if err != nil {
				return err
			}
			if _, err := greenmint.SubmitJSON(ctx, l, miner, greenmint.TxRegisterSite, greenmint.RegisterSiteRequest{SiteID: site, Name: "simulated site " + site, Country: "ES", GridRegion: "ES", CapacityW: 4_000_000}, nil); err != nil && greenmint.ErrorCode(err) != greenmint.ECONFLICT {
				return err
			}
			if _, err := greenmint.SubmitJSON(ctx, l, registry, greenmint.TxApproveSite, greenmint.StatusRequest{ID: site}, nil); err != nil && greenmint.ErrorCode(err) != greenmint.ECONFLICT {
				return err
			}
			keyDir := filepath.Join(ws.dir, "sim", site)
			if err := os.MkdirAll(keyDir, 0o700); err != nil {
				return err
			}
			for _, sm := range simMeters {
				pub, priv, _ := ed25519.GenerateKey(rand.Reader)
				id := site + "-SIM-" + sm.suffix
				if _, err := greenmint.SubmitJSON(ctx, l, miner, greenmint.TxRegisterMeter, greenmint.RegisterMeterRequest{MeterID: id, SiteID: site, Kind: sm.kind, Technology: sm.tech, CapacityW: sm.capW, IntervalMinutes: 15, PublicKey: pub}, nil); err != nil {
					return fmt.Errorf("meter %s: %w", id, err)
				}
				if _, err := greenmint.SubmitJSON(ctx, l, registry, greenmint.TxApproveMeter, greenmint.StatusRequest{ID: id}, nil); err != nil {
					return err
				}
				if err := os.WriteFile(filepath.Join(keyDir, id+".key"), pem.EncodeToMemory(&pem.Block{Type: "ED25519 SEED", Bytes: priv.Seed()}), 0o600); err != nil {
					return err
				}
			}
			return m.emit(map[string]any{"site_id": site, "meters": []string{site + "-SIM-PV", site + "-SIM-WIND", site + "-SIM-LOAD"}, "keys": keyDir},
				fmt.Sprintf("site %s: meters %s-SIM-PV, -WIND, -LOAD registered and approved; keys in %s", site, site, keyDir))
		},
	}
	run := &cobra.Command{
		Use:   "run",
		Short: "Send the virtual meters' readings to a running oracle, with optional faults",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			start, err := greenmint.ParseHour(from)
			if err != nil {
				return err
			}
			meters := map[string]*simulate.Meter{}
			for _, sm := range simMeters {
				id := site + "-SIM-" + sm.suffix
				raw, err := os.ReadFile(filepath.Join(ws.dir, "sim", site, id+".key"))
				if err != nil {
					return greenmint.Errorf(greenmint.ENOTFOUND, "no key for %s: run greenmint simulate setup first", id)
				}
				blk, _ := pem.Decode(raw)
				if blk == nil || len(blk.Bytes) != ed25519.SeedSize {
					return greenmint.Errorf(greenmint.EINVALID, "key of %s is malformed", id)
				}
				meters[sm.suffix] = &simulate.Meter{ID: id, Key: ed25519.NewKeyFromSeed(blk.Bytes), CapacityW: sm.capW}
			}
			var fl []string
			if faults != "" {
				fl = strings.Split(faults, ",")
			}
			surplus := map[time.Time]bool{}
			if surplusFile != "" {
				f, err := os.Open(surplusFile)
				if err != nil {
					return &greenmint.Error{Code: greenmint.EINVALID, Err: err}
				}
				states, err := oracle.ParseGridStates(f)
				f.Close()
				if err != nil {
					return err
				}
				for _, st := range states {
					if st.State == greenmint.GridSurplus {
						h, _ := greenmint.ParseHour(st.Hour)
						surplus[h] = true
					}
				}
			}
			// The fleet's draw: TH/s × J/TH = W (efficiency given in mJ/TH).
			loadW, err := greenmint.MulQty(hashrate, efficiencyMJ)
			if err != nil {
				return err
			}
			loadW /= 1000
			if token == "" {
				token = os.Getenv("GREENMINT_TOKEN")
			}
			rep, err := simulate.Run(c.Context(), simulate.Config{OracleURL: url, Token: token, Start: start, Hours: hours, Interval: 15 * time.Minute,
				PV: meters["PV"], Wind: meters["WIND"], Load: meters["LOAD"], LoadW: loadW, Surplus: surplus, CurtailPct: 40, Faults: fl})
			if err != nil {
				return err
			}
			if m.asJSON {
				return m.emitJSON(rep)
			}
			raw, _ := json.Marshal(rep)
			fmt.Fprintf(m.Out, "sent %d: %d accepted, %d duplicate, %d rejected %v\n%s\n", rep.Sent, rep.Accepted, rep.Duplicate, rep.Rejected, rep.SortedReasons(), raw)
			return nil
		},
	}
	ws.bind(setup, true, false)
	setup.Flags().StringVar(&as, "as", consortium.MinerMSP+":miner", "the miner that registers the site and meters (MSP:user); the registry approves them")
	run.Flags().StringVar(&ws.dir, "dir", ".data", "the workspace directory (its sim/ folder holds the meters' keys)")
	for _, c := range []*cobra.Command{setup, run} {
		c.Flags().StringVar(&site, "site", "SITE0100", "the simulated site")
	}
	run.Flags().StringVar(&url, "url", "http://127.0.0.1:8081", "the oracle")
	run.Flags().StringVar(&token, "token", "", "a collector token (greenmint oracle token issue --kind collector; default: $GREENMINT_TOKEN)")
	run.Flags().StringVar(&from, "from", "2023-06-01T00:00:00Z", "first hour")
	run.Flags().IntVar(&hours, "hours", 24, "hours to send")
	run.Flags().Int64Var(&hashrate, "hashrate-ths", 150_000, "the fleet's hashrate, TH/s")
	run.Flags().Int64Var(&efficiencyMJ, "efficiency-mj-per-th", 20_000, "the fleet's efficiency, millijoules per TH (20,000 = 20 J/TH); the load is hashrate × efficiency")
	run.Flags().StringVar(&surplusFile, "surplus", "", "CSV "+oracle.GridStatesHeader+": the miner curtails to 40% in surplus hours")
	run.Flags().StringVar(&faults, "faults", "", "comma-separated: gap,duplicate,replay,forged,clockjump")
	cmd.AddCommand(setup, run)
	return cmd
}
