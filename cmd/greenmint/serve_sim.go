package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/demo"
	"github.com/greenmint/greenmint/oracle"
	"github.com/greenmint/greenmint/refdata"
	"github.com/greenmint/greenmint/simulate"
	"github.com/greenmint/greenmint/workspace"
)

// simulator is greenmint serve's demo traffic: a few virtual sites near
// Almería, registered by the seeded miner as itself and approved by the
// seeded registry user as itself, whose meters send the demo week's
// readings (June 2023, the measured PV profile) to the in-process oracle
// one simulated day at a time; after each day the oracle's scheduler
// attests what closed, on a clock that follows the simulated days, so
// batches are minted while the user watches. The sites' meter keys are
// kept in the data directory (0600), so a restart resumes where the
// readings stopped: readings sent again are duplicates, and the scheduler
// skips attested hours.
type simulator struct {
	w      *workspace.Workspace
	svc    *workspace.Services
	log    *slog.Logger
	path   string // the sites file
	sites  int    // how many sites a first start makes
	every  time.Duration
	logins []workspace.SeedLogin

	active []*simulate.Site
}

// simSite is a simulated site as the sites file keeps it: its ID and its
// meters' Ed25519 seeds.
type simSite struct {
	ID              string `json:"id"`
	ConsumptionSeed []byte `json:"consumption_seed"`
	GenerationSeed  []byte `json:"generation_seed"`
}

// period is the simulated week.
var period = demo.Week

// siteIDs are the simulated sites' IDs.
func (s *simulator) siteIDs() []string {
	ids := make([]string, len(s.active))
	for i, site := range s.active {
		ids[i] = site.ID
	}
	return ids
}

// instrument is what a simulated site's batches are minted as: every
// second site EAC, the others CO2E.
func instrument(i int) greenmint.Instrument {
	if i%2 == 1 {
		return greenmint.EAC
	}
	return greenmint.CO2E
}

// identityOf returns the ledger identity of the seeded user with role.
func (s *simulator) identityOf(ctx context.Context, role greenmint.Role) (*greenmint.Identity, error) {
	for _, l := range s.logins {
		if l.Role != role {
			continue
		}
		u, err := s.svc.DB.UserByLogin(ctx, l.Login)
		if err != nil {
			return nil, fmt.Errorf("simulator: seeded user %s: %w", l.Login, err)
		}
		return s.svc.Keyring.Identity(ctx, u.ID)
	}
	return nil, greenmint.Errorf(greenmint.ENOTFOUND, "simulator: no seeded %s user", role)
}

// setup loads the sites file, or picks free site IDs and makes the file
// on a first start, then has the miner register each site and its meters
// and the registry approve them (steps done before are conflicts, and
// skipped).
func (s *simulator) setup(ctx context.Context) error {
	miner, err := s.identityOf(ctx, greenmint.RoleMiner)
	if err != nil {
		return err
	}
	registry, err := s.identityOf(ctx, greenmint.RoleRegistry)
	if err != nil {
		return err
	}
	saved, err := s.load()
	if err != nil {
		return err
	}
	if saved == nil {
		if saved, err = s.create(ctx, registry); err != nil {
			return err
		}
	}
	for i, ss := range saved {
		site, err := simulate.NewSite(ss.ID)
		if err != nil {
			return err
		}
		site.ConsumptionKey = ed25519.NewKeyFromSeed(ss.ConsumptionSeed)
		site.GenerationKey = ed25519.NewKeyFromSeed(ss.GenerationSeed)
		// Sites differ by their place in the file, the same way on every
		// start: each a larger PV plant and a smaller mining load.
		site.PVCapacityW += int64(i%4) * 1_500_000
		site.LoadW -= int64(i%4) * 400_000
		s.active = append(s.active, site)
	}
	l := s.w.Ledger
	for _, site := range s.active {
		reg := site.Registration()
		steps := []struct {
			id  *greenmint.Identity
			fn  string
			req any
		}{
			{miner, greenmint.TxRegisterSite, reg.Sites[0]},
			{miner, greenmint.TxRegisterMeter, reg.Meters[0]},
			{miner, greenmint.TxRegisterMeter, reg.Meters[1]},
			{registry, greenmint.TxApproveSite, greenmint.StatusRequest{ID: site.ID}},
			{registry, greenmint.TxApproveMeter, greenmint.StatusRequest{ID: site.Consumption}},
			{registry, greenmint.TxApproveMeter, greenmint.StatusRequest{ID: site.Generation}},
		}
		for _, st := range steps {
			if _, err := greenmint.SubmitJSON(ctx, l, st.id, st.fn, st.req, nil); err != nil && greenmint.ErrorCode(err) != greenmint.ECONFLICT {
				return fmt.Errorf("simulator: site %s: %s: %w", site.ID, st.fn, err)
			}
		}
	}
	return nil
}

// load reads the sites file; nil when there is none.
func (s *simulator) load() ([]simSite, error) {
	raw, err := os.ReadFile(s.path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("simulator: %w", err)
	}
	var saved []simSite
	if err := json.Unmarshal(raw, &saved); err != nil {
		return nil, greenmint.E(greenmint.EINVALID, "", err, "simulator: the sites file %s", s.path)
	}
	for _, ss := range saved {
		if len(ss.ConsumptionSeed) != ed25519.SeedSize || len(ss.GenerationSeed) != ed25519.SeedSize {
			return nil, greenmint.Errorf(greenmint.EINVALID, "simulator: the sites file %s: site %s has no valid meter keys", s.path, ss.ID)
		}
	}
	return saved, nil
}

// create picks the first free site IDs from SITE0101 on (by the ledger)
// with fresh meter keys, and keeps them in the sites file.
func (s *simulator) create(ctx context.Context, reader *greenmint.Identity) ([]simSite, error) {
	var out []simSite
	for i := 101; len(out) < s.sites; i++ {
		if i > 9999 {
			return nil, greenmint.Errorf(greenmint.ECONFLICT, "simulator: no free site ID")
		}
		id := fmt.Sprintf("SITE%04d", i)
		err := greenmint.EvaluateJSON(ctx, s.w.Ledger, reader, greenmint.QueryGetSite, greenmint.IDQuery{ID: id}, new(greenmint.Site))
		if err == nil {
			continue
		}
		if greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
			return nil, fmt.Errorf("simulator: %w", err)
		}
		site, err := simulate.NewSite(id)
		if err != nil {
			return nil, err
		}
		out = append(out, simSite{ID: id, ConsumptionSeed: site.ConsumptionKey.Seed(), GenerationSeed: site.GenerationKey.Seed()})
	}
	raw, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := workspace.WriteSecretFile(s.path, append(raw, '\n')); err != nil {
		return nil, fmt.Errorf("simulator: %w", err)
	}
	return out, nil
}

// run feeds the simulated week, one day every s.every, from the first day
// not yet sent (by the meters' last sequence numbers in the oracle's
// database), and after each day has the scheduler attest what closed,
// until the week is done or ctx ends.
func (s *simulator) run(ctx context.Context) {
	readings := make([][]greenmint.Reading, len(s.active))
	var meters []string
	for i, site := range s.active {
		rs, err := site.Readings(period)
		if err != nil {
			s.log.Error("simulator: readings", "site", site.ID, "err", err)
			return
		}
		readings[i] = rs
		meters = append(meters, site.Consumption, site.Generation)
	}
	heads, err := s.svc.DB.Heads(ctx, meters)
	if err != nil {
		s.log.Error("simulator: the meters' last readings", "err", err)
		return
	}
	sent := int64(period.Hours)
	for _, m := range meters {
		sent = min(sent, heads[m].Seq)
	}
	var scheds []*oracle.Scheduler
	for _, in := range []greenmint.Instrument{greenmint.CO2E, greenmint.EAC} {
		sched := &oracle.Scheduler{Submitter: s.svc.Submitter, Store: s.svc.DB, Instrument: in, Start: period.Start,
			Dataset: greenmint.DatasetPin{ID: refdata.DefaultDatasetID, Version: refdata.DefaultDatasetVersion}}
		for i, site := range s.active {
			if instrument(i) == in {
				sched.Sites = append(sched.Sites, site.ID)
			}
		}
		if len(sched.Sites) > 0 {
			scheds = append(scheds, sched)
		}
	}
	days := period.Hours / 24
	for day := int(sent) / 24; day < days; day++ {
		if !s.feed(ctx, readings, day) {
			return
		}
		s.attest(ctx, scheds, period.Start.Add(time.Duration(day+1)*24*time.Hour))
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.every):
		}
	}
	s.attest(ctx, scheds, period.End())
	s.log.Info("simulator: the simulated week is done", "sites", len(s.active), "from", greenmint.FormatTime(period.Start), "to", greenmint.FormatTime(period.End()))
}

// feed sends one simulated day of every site's readings to the oracle;
// false when it could not.
func (s *simulator) feed(ctx context.Context, readings [][]greenmint.Reading, day int) bool {
	var batch []oracle.Parsed
	for _, rs := range readings {
		// Readings come consumption then generation for each hour.
		from, to := 2*24*day, min(2*24*(day+1), len(rs))
		for i, r := range rs[from:to] {
			batch = append(batch, oracle.Parsed{Line: from + i + 1, Reading: r})
		}
	}
	sum, err := s.svc.Ingester.Ingest(ctx, batch)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("simulator: sending readings", "day", day+1, "err", err)
		}
		return false
	}
	s.log.Info("simulator: readings sent", "day", period.Start.AddDate(0, 0, day).Format(time.DateOnly), "accepted", sum.Accepted, "duplicate", sum.Duplicate, "rejected", sum.Rejected)
	return true
}

// attest has the schedulers attest every site's closed hours as of now.
func (s *simulator) attest(ctx context.Context, scheds []*oracle.Scheduler, now time.Time) {
	for _, sched := range scheds {
		for _, o := range sched.RunOnce(ctx, now) {
			if o.Err != nil {
				if ctx.Err() == nil {
					s.log.Warn("simulator: attestation failed", "site", o.SiteID, "err", o.Err)
				}
				continue
			}
			s.log.Info("simulator: batch minted", "site", o.SiteID, "from", greenmint.FormatTime(o.From), "to", greenmint.FormatTime(o.To),
				"batch", o.Result.BatchID, "units", o.Result.Quantity)
		}
	}
}
