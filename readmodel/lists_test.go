package readmodel_test

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/internal/store"
	"github.com/greenmint/greenmint/readmodel"
)

// The gateway's lists and gets of sites, meters, retirements, flags and
// organisations return, after the projector followed the demo-like flow,
// what the ledger's own queries return.
func TestListsEqualLedger(t *testing.T) {
	ctx := context.Background()
	n := greenminttest.NewNetwork(t)
	f := runFlow(t, n)
	evaluate := func(fn string, req, resp any) {
		t.Helper()
		if err := greenmint.EvaluateJSON(ctx, n.Ledger, n.Registry, fn, req, resp); err != nil {
			t.Fatalf("%s: %v", fn, err)
		}
	}
	var site greenmint.Site
	evaluate(greenmint.QueryGetSite, greenmint.IDQuery{ID: n.Site.ID}, &site)
	var meters []greenmint.Meter
	evaluate(greenmint.QuerySiteMeters, greenmint.IDQuery{ID: n.Site.ID}, &meters)
	var flags []greenmint.Flag
	evaluate(greenmint.QueryListFlags, greenmint.IDQuery{ID: f.BatchID}, &flags)
	var retirement greenmint.RetirementStatement
	evaluate(greenmint.QueryGetRetirement, greenmint.IDQuery{ID: f.Retirement}, &retirement)
	var admissions []greenmint.Admission
	evaluate(greenmint.QueryListOrganizations, struct{}{}, &admissions)
	if len(meters) != 2 || len(flags) != 1 || len(admissions) < 4 {
		t.Fatalf("the ledger has %d meters, %d flags, %d organisations: not the flow's", len(meters), len(flags), len(admissions))
	}
	slices.SortFunc(meters, func(a, b greenmint.Meter) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(admissions, func(a, b greenmint.Admission) int { return strings.Compare(a.MSPID, b.MSPID) })

	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			p, err := readmodel.New(ctx, n.Ledger, db)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.SyncTo(ctx, f.Last.TxID); err != nil {
				t.Fatal(err)
			}
			check := func(what string, got any, err error, want any) {
				t.Helper()
				if err != nil || !reflect.DeepEqual(got, want) {
					t.Errorf("%s = %+v, %v;\nwant %+v", what, got, err, want)
				}
			}
			sites, _, err := db.ReadModelSites(ctx, store.Filter{Owner: n.Miner.MSPID, Country: site.Country, GridRegion: site.GridRegion, Status: string(site.Status)})
			check("ReadModelSites(the miner's)", sites, err, []greenmint.Site{site})
			got, err := db.ReadModelSite(ctx, site.ID)
			check("ReadModelSite", got, err, site)

			ms, _, err := db.ReadModelMeters(ctx, store.Filter{SiteID: site.ID, Owner: n.Miner.MSPID})
			check("ReadModelMeters(the site's)", ms, err, meters)
			gen, _, err := db.ReadModelMeters(ctx, store.Filter{Kind: string(greenmint.MeterGeneration), Technology: n.Site.Technology})
			check("ReadModelMeters(generation)", gen, err, []greenmint.Meter{meterOf(meters, n.Site.Generation)})
			m, err := db.ReadModelMeter(ctx, n.Site.Consumption)
			check("ReadModelMeter", m, err, meterOf(meters, n.Site.Consumption))

			bs, _, err := db.ReadModelBatches(ctx, store.Filter{SiteID: site.ID})
			if err != nil || len(bs) != 1 || bs[0].ID != f.BatchID {
				t.Errorf("ReadModelBatches(site) = %+v, %v; want %s", bs, err, f.BatchID)
			}
			ls, _, err := db.ReadModelListings(ctx, store.Filter{Buyer: n.Buyer.MSPID})
			if err != nil || len(ls) != 1 || ls[0].ID != f.Sold {
				t.Errorf("ReadModelListings(buyer) = %+v, %v; want %s", ls, err, f.Sold)
			}

			rs, _, err := db.ReadModelRetirements(ctx, store.Filter{Owner: n.Buyer.MSPID, Beneficiary: retirement.Beneficiary, ReportingYear: retirement.ReportingYear})
			check("ReadModelRetirements(the buyer's)", rs, err, []greenmint.RetirementStatement{retirement})
			none, _, err := db.ReadModelRetirements(ctx, store.Filter{Owner: n.Miner.MSPID})
			check("ReadModelRetirements(the miner's)", none, err, []greenmint.RetirementStatement{})

			fs, _, err := db.ReadModelFlags(ctx, store.Filter{BatchID: f.BatchID, Auditor: n.Auditor.MSPID, Status: string(greenmint.FlagOpen), Owner: n.Miner.MSPID})
			check("ReadModelFlags", fs, err, flags)
			fl, err := db.ReadModelFlag(ctx, f.Flag)
			check("ReadModelFlag", fl, err, flags[0])

			orgs, _, err := db.ReadModelOrganisations(ctx, store.Filter{})
			var want []store.Organisation
			for _, a := range admissions {
				want = append(want, store.Organisation{MSPID: a.MSPID, Roles: a.Roles, Admission: a})
			}
			check("ReadModelOrganisations", orgs, err, want)
			buyers, _, err := db.ReadModelOrganisations(ctx, store.Filter{Role: string(greenmint.RoleBuyer)})
			if err != nil || !slices.ContainsFunc(buyers, func(o store.Organisation) bool { return o.MSPID == n.Buyer.MSPID }) ||
				slices.ContainsFunc(buyers, func(o store.Organisation) bool { return !slices.Contains(o.Roles, greenmint.RoleBuyer) }) {
				t.Errorf("ReadModelOrganisations(buyer) = %+v, %v", buyers, err)
			}
		})
	}
}

func meterOf(ms []greenmint.Meter, id string) greenmint.Meter {
	for _, m := range ms {
		if m.ID == id {
			return m
		}
	}
	return greenmint.Meter{}
}
