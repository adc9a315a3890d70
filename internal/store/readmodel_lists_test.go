package store_test

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"testing"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/internal/store"
)

// listFixture projects, through ApplyEvents, a few objects of every listed
// kind whose columns differ in every filter.
type listFixture struct {
	sites       []greenmint.Site
	meters      []greenmint.Meter
	batches     []greenmint.Batch
	listings    []greenmint.Listing
	retirements []greenmint.RetirementStatement
	flags       []greenmint.Flag
	orgs        []greenmint.Admission
}

func newListFixture() listFixture {
	return listFixture{
		sites: []greenmint.Site{
			{ID: "S1", Owner: "MinerAMSP", Name: "one", Country: "ES", GridRegion: "ES-PEN", CapacityW: 1_000_000, Status: greenmint.StatusApproved},
			{ID: "S2", Owner: "MinerAMSP", Name: "two", Country: "PT", GridRegion: "PT", CapacityW: 2_000_000, Status: greenmint.StatusPending},
			{ID: "S3", Owner: "MinerBMSP", Name: "three", Country: "ES", GridRegion: "ES-PEN", CapacityW: 3_000_000, Status: greenmint.StatusApproved},
		},
		meters: []greenmint.Meter{
			{ID: "M1", SiteID: "S1", Owner: "MinerAMSP", Kind: greenmint.MeterConsumption, IntervalMinutes: 15, Status: greenmint.StatusApproved},
			{ID: "M2", SiteID: "S1", Owner: "MinerAMSP", Kind: greenmint.MeterGeneration, Technology: "solar_pv_utility", IntervalMinutes: 15, Status: greenmint.StatusApproved},
			{ID: "M3", SiteID: "S3", Owner: "MinerBMSP", Kind: greenmint.MeterGeneration, Technology: "wind_onshore", IntervalMinutes: 60, Status: greenmint.StatusPending},
		},
		batches: []greenmint.Batch{
			{ID: "B1", Instrument: greenmint.EAC, SiteID: "S1", Country: "ES", Owner: "MinerAMSP", PeriodStart: "2023-06-01T00:00:00Z", Issued: 10, Tradable: 10},
			{ID: "B2", Instrument: greenmint.CO2E, SiteID: "S3", Country: "ES", Owner: "MinerBMSP", PeriodStart: "2024-06-01T00:00:00Z", Issued: 20, Tradable: 20},
		},
		listings: []greenmint.Listing{
			{ID: "L1", BatchID: "B1", Seller: "MinerAMSP", Buyer: "BuyerXMSP", Quantity: 1, PriceMinor: 100, Currency: "EUR", Status: greenmint.ListingSold},
			{ID: "L2", BatchID: "B1", Seller: "MinerAMSP", Quantity: 2, PriceMinor: 200, Currency: "EUR", Status: greenmint.ListingOpen},
			{ID: "L3", BatchID: "B2", Seller: "MinerBMSP", Buyer: "BuyerXMSP", Quantity: 3, PriceMinor: 300, Currency: "EUR", Status: greenmint.ListingReserved},
		},
		retirements: []greenmint.RetirementStatement{
			{ID: "R1", Owner: "BuyerXMSP", Beneficiary: "Acme", ReportingYear: 2023, Parts: []greenmint.RetirementPart{{BatchID: "B1", Quantity: 1}}},
			{ID: "R2", Owner: "BuyerXMSP", Beneficiary: "Beta", ReportingYear: 2024, Parts: []greenmint.RetirementPart{{BatchID: "B1", Quantity: 2}}},
			{ID: "R3", Owner: "MinerAMSP", Beneficiary: "Acme", ReportingYear: 2024, Parts: []greenmint.RetirementPart{{BatchID: "B1", Quantity: 3}}},
		},
		flags: []greenmint.Flag{
			{ID: "F1", BatchID: "B1", Auditor: "AuditorAMSP", Reason: "r", Status: greenmint.FlagOpen},
			{ID: "F2", BatchID: "B2", Auditor: "AuditorAMSP", Reason: "r", Status: greenmint.FlagDismissed},
			{ID: "F3", BatchID: "B1", Auditor: "AuditorBMSP", Reason: "r", Status: greenmint.FlagDismissed},
		},
		orgs: []greenmint.Admission{
			{MSPID: "BuyerXMSP", Roles: []greenmint.Role{greenmint.RoleBuyer}},
			{MSPID: "DualMSP", Roles: []greenmint.Role{greenmint.RoleBuyer, greenmint.RoleMiner}},
			{MSPID: "GoneMSP", Revocations: []greenmint.RoleRevocation{{Role: greenmint.RoleMiner, Reason: "closed"}}},
			{MSPID: "MinerAMSP", Roles: []greenmint.Role{greenmint.RoleMiner}},
		},
	}
}

func (fx listFixture) apply(tb testing.TB, db *store.DB) {
	tb.Helper()
	var changes []greenmint.Change
	add := func(kind, key string, v any) {
		raw, err := json.Marshal(v)
		if err != nil {
			tb.Fatal(err)
		}
		changes = append(changes, greenmint.Change{Kind: kind, Key: []string{key}, Value: raw})
	}
	for _, s := range fx.sites {
		add(store.KindSite, s.ID, s)
	}
	for _, m := range fx.meters {
		add(store.KindMeter, m.ID, m)
	}
	for _, b := range fx.batches {
		add(store.KindBatch, b.ID, b)
	}
	for _, l := range fx.listings {
		add(store.KindListing, l.ID, l)
	}
	for _, r := range fx.retirements {
		add(store.KindRetirement, r.ID, r)
	}
	for _, f := range fx.flags {
		add(store.KindFlag, f.ID, f)
	}
	for _, a := range fx.orgs {
		add(store.KindOrganisation, a.MSPID, a)
	}
	ev := store.ProjectedEvent{Block: 1, Payload: greenmint.EventPayload{TxID: "tx1", Function: greenmint.TxTransfer, Changes: changes}}
	if _, err := db.ApplyEvents(context.Background(), []store.ProjectedEvent{ev}); err != nil {
		tb.Fatal(err)
	}
}

// lister lists the IDs of one read-model list's page.
type lister func(context.Context, *store.DB, store.Filter) ([]string, string, error)

func ids[T any](list func(*store.DB, context.Context, store.Filter) ([]T, string, error), id func(T) string) lister {
	return func(ctx context.Context, db *store.DB, f store.Filter) ([]string, string, error) {
		xs, next, err := list(db, ctx, f)
		var out []string
		for _, x := range xs {
			out = append(out, id(x))
		}
		return out, next, err
	}
}

var (
	listSites       = ids((*store.DB).ReadModelSites, func(s greenmint.Site) string { return s.ID })
	listMeters      = ids((*store.DB).ReadModelMeters, func(m greenmint.Meter) string { return m.ID })
	listBatches     = ids((*store.DB).ReadModelBatches, func(b greenmint.Batch) string { return b.ID })
	listListings    = ids((*store.DB).ReadModelListings, func(l greenmint.Listing) string { return l.ID })
	listRetirements = ids((*store.DB).ReadModelRetirements, func(r greenmint.RetirementStatement) string { return r.ID })
	listFlags       = ids((*store.DB).ReadModelFlags, func(f greenmint.Flag) string { return f.ID })
	listOrgs        = ids((*store.DB).ReadModelOrganisations, func(o store.Organisation) string { return o.MSPID })
)

// Every list filters on each field it names, alone and combined, pages
// through everything with one row a page, and refuses a field it does not
// filter on, a bad cursor and a bad limit.
func TestReadModelLists(t *testing.T) {
	fx := newListFixture()
	tests := []struct {
		name   string
		list   lister
		filter store.Filter
		want   []string
	}{
		{"sites", listSites, store.Filter{}, []string{"S1", "S2", "S3"}},
		{"sites of an owner", listSites, store.Filter{Owner: "MinerAMSP"}, []string{"S1", "S2"}},
		{"sites in a country", listSites, store.Filter{Country: "ES"}, []string{"S1", "S3"}},
		{"sites in a grid region", listSites, store.Filter{GridRegion: "PT"}, []string{"S2"}},
		{"sites by status", listSites, store.Filter{Status: "approved"}, []string{"S1", "S3"}},
		{"sites combined", listSites, store.Filter{Owner: "MinerAMSP", Country: "ES", GridRegion: "ES-PEN", Status: "approved"}, []string{"S1"}},
		{"sites of nobody", listSites, store.Filter{Owner: "BuyerXMSP"}, nil},

		{"meters", listMeters, store.Filter{}, []string{"M1", "M2", "M3"}},
		{"meters of an owner", listMeters, store.Filter{Owner: "MinerBMSP"}, []string{"M3"}},
		{"meters of a site", listMeters, store.Filter{SiteID: "S1"}, []string{"M1", "M2"}},
		{"meters by kind", listMeters, store.Filter{Kind: "generation"}, []string{"M2", "M3"}},
		{"meters by technology", listMeters, store.Filter{Technology: "solar_pv_utility"}, []string{"M2"}},
		{"meters by status", listMeters, store.Filter{Status: "pending"}, []string{"M3"}},
		{"meters combined", listMeters, store.Filter{Owner: "MinerAMSP", SiteID: "S1", Kind: "consumption", Status: "approved"}, []string{"M1"}},

		{"batches of a site", listBatches, store.Filter{SiteID: "S3"}, []string{"B2"}},
		{"batches of a site and owner", listBatches, store.Filter{SiteID: "S3", Owner: "MinerAMSP"}, nil},

		{"listings of a buyer", listListings, store.Filter{Buyer: "BuyerXMSP"}, []string{"L1", "L3"}},
		{"listings of a seller", listListings, store.Filter{Owner: "MinerAMSP"}, []string{"L1", "L2"}},
		{"listings of a buyer and seller", listListings, store.Filter{Buyer: "BuyerXMSP", Owner: "MinerBMSP"}, []string{"L3"}},
		{"listings of a site's batches", listListings, store.Filter{SiteID: "S1", Status: "open"}, []string{"L2"}},

		{"retirements", listRetirements, store.Filter{}, []string{"R1", "R2", "R3"}},
		{"retirements of an owner", listRetirements, store.Filter{Owner: "BuyerXMSP"}, []string{"R1", "R2"}},
		{"retirements for a beneficiary", listRetirements, store.Filter{Beneficiary: "Acme"}, []string{"R1", "R3"}},
		{"retirements of a year", listRetirements, store.Filter{ReportingYear: 2024}, []string{"R2", "R3"}},
		{"retirements combined", listRetirements, store.Filter{Owner: "BuyerXMSP", Beneficiary: "Acme", ReportingYear: 2023}, []string{"R1"}},
		{"beneficiary exactly", listRetirements, store.Filter{Beneficiary: "acme"}, nil},

		{"flags", listFlags, store.Filter{}, []string{"F1", "F2", "F3"}},
		{"flags of a batch", listFlags, store.Filter{BatchID: "B1"}, []string{"F1", "F3"}},
		{"flags of an auditor", listFlags, store.Filter{Auditor: "AuditorAMSP"}, []string{"F1", "F2"}},
		{"flags by status", listFlags, store.Filter{Status: "dismissed"}, []string{"F2", "F3"}},
		{"flags on an owner's batches", listFlags, store.Filter{Owner: "MinerBMSP"}, []string{"F2"}},
		{"flags combined", listFlags, store.Filter{BatchID: "B1", Auditor: "AuditorBMSP", Status: "dismissed", Owner: "MinerAMSP"}, []string{"F3"}},

		{"organisations", listOrgs, store.Filter{}, []string{"BuyerXMSP", "DualMSP", "GoneMSP", "MinerAMSP"}},
		{"buyers", listOrgs, store.Filter{Role: "buyer"}, []string{"BuyerXMSP", "DualMSP"}},
		{"miners", listOrgs, store.Filter{Role: "miner"}, []string{"DualMSP", "MinerAMSP"}},
		{"no role is a prefix", listOrgs, store.Filter{Role: "mine"}, nil},
	}
	all := map[string]lister{"sites": listSites, "meters": listMeters, "batches": listBatches, "listings": listListings,
		"retirements": listRetirements, "flags": listFlags, "organisations": listOrgs}
	unsupported := map[string]store.Filter{
		"sites": {Kind: "generation"}, "meters": {Country: "ES"}, "batches": {Buyer: "BuyerXMSP"}, "listings": {Auditor: "A"},
		"retirements": {Status: "open"}, "flags": {Vintage: 2023}, "organisations": {Owner: "MinerAMSP"},
	}
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			fx.apply(t, db)
			for _, tc := range tests {
				got, next, err := tc.list(ctx, db, tc.filter)
				if err != nil || next != "" || !slices.Equal(got, tc.want) {
					t.Errorf("%s: list(%+v) = %v, %q, %v; want %v", tc.name, tc.filter, got, next, err, tc.want)
				}
			}
			for kind, list := range all {
				full, _, err := list(ctx, db, store.Filter{})
				if err != nil || len(full) < 2 {
					t.Fatalf("%s: %v, %v", kind, full, err)
				}
				var paged []string
				cursor := ""
				for range len(full) + 1 {
					got, next, err := list(ctx, db, store.Filter{Limit: 1, Cursor: cursor})
					if err != nil || len(got) != 1 {
						t.Fatalf("%s: page after %q = %v, %v", kind, cursor, got, err)
					}
					paged = append(paged, got...)
					if cursor = next; cursor == "" {
						break
					}
				}
				if !slices.Equal(paged, full) {
					t.Errorf("%s paged one by one = %v, want %v", kind, paged, full)
				}
				for _, bad := range []store.Filter{{Limit: 101}, {Limit: -1}, {Cursor: "not-a-cursor"}, unsupported[kind]} {
					if got, _, err := list(ctx, db, bad); greenmint.ErrorCode(err) != greenmint.EINVALID {
						t.Errorf("%s(%+v) = %v, %v; want invalid", kind, bad, got, err)
					}
				}
			}
		})
	}
}

// The gets return what was projected, and not_found for what was not.
func TestReadModelGets(t *testing.T) {
	fx := newListFixture()
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			fx.apply(t, db)
			if got, err := db.ReadModelSite(ctx, "S2"); err != nil || !reflect.DeepEqual(got, fx.sites[1]) {
				t.Errorf("ReadModelSite(S2) = %+v, %v; want %+v", got, err, fx.sites[1])
			}
			if got, err := db.ReadModelMeter(ctx, "M3"); err != nil || !reflect.DeepEqual(got, fx.meters[2]) {
				t.Errorf("ReadModelMeter(M3) = %+v, %v; want %+v", got, err, fx.meters[2])
			}
			if got, err := db.ReadModelFlag(ctx, "F2"); err != nil || !reflect.DeepEqual(got, fx.flags[1]) {
				t.Errorf("ReadModelFlag(F2) = %+v, %v; want %+v", got, err, fx.flags[1])
			}
			wantOrg := store.Organisation{MSPID: "DualMSP", Roles: []greenmint.Role{greenmint.RoleBuyer, greenmint.RoleMiner}, Admission: fx.orgs[1]}
			if got, err := db.ReadModelOrganisation(ctx, "DualMSP"); err != nil || !reflect.DeepEqual(got, wantOrg) {
				t.Errorf("ReadModelOrganisation(DualMSP) = %+v, %v; want %+v", got, err, wantOrg)
			}
			if orgs, _, err := db.ReadModelOrganisations(ctx, store.Filter{Role: "buyer", Limit: 2}); err != nil || len(orgs) != 2 || !reflect.DeepEqual(orgs[1], wantOrg) {
				t.Errorf("ReadModelOrganisations(buyer) = %+v, %v; want DualMSP second as %+v", orgs, err, wantOrg)
			}
			for _, tc := range []struct {
				name string
				get  func() error
			}{
				{"site", func() error { _, err := db.ReadModelSite(ctx, "S9"); return err }},
				{"meter", func() error { _, err := db.ReadModelMeter(ctx, "S1"); return err }},
				{"flag", func() error { _, err := db.ReadModelFlag(ctx, "F9"); return err }},
				{"organisation", func() error { _, err := db.ReadModelOrganisation(ctx, "NobodyMSP"); return err }},
			} {
				if err := tc.get(); greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
					t.Errorf("a missing %s: %v, want not_found", tc.name, err)
				}
			}
		})
	}
}
