package chaincode_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/chaincode"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/ledger/embedded"
	"github.com/greenmint/greenmint/refdata"
	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

func siteRequest(id, country, region string) greenmint.RegisterSiteRequest {
	return greenmint.RegisterSiteRequest{SiteID: id, Name: "site " + id, Country: country, GridRegion: region, CapacityW: 1_000_000}
}

func meterRequest(tb testing.TB, id, siteID string) greenmint.RegisterMeterRequest {
	tb.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return greenmint.RegisterMeterRequest{MeterID: id, SiteID: siteID, Kind: greenmint.MeterConsumption, CapacityW: 1_000_000, IntervalMinutes: 15, PublicKey: pub}
}

// raw returns what a public query answers, as JSON, for comparing states.
func (w *world) raw(tb testing.TB, fn string, req any) []byte {
	tb.Helper()
	var out json.RawMessage
	w.query(tb, w.Auditor, fn, req, &out)
	return out
}

func (w *world) siteExists(tb testing.TB, id string) bool {
	tb.Helper()
	err := w.evaluate(w.Auditor, greenmint.QueryGetSite, greenmint.IDQuery{ID: id}, new(greenmint.Site))
	if err != nil && greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
		tb.Fatal(err)
	}
	return err == nil
}

// TestRegisterSiteGridRegion: with the IFI-IPCC dataset published, a
// country's name as the grid region is refused at registration with a
// message that says what a region looks like and offers the site's
// country's code; a well-formed code no dataset has is refused too; the
// dataset's codes are accepted.
func TestRegisterSiteGridRegion(t *testing.T) {
	w := newWorld(t)
	ds := fmt.Sprintf("%s %s has %d regions: ES, ES-CN, ", w.Dataset.ID, w.Dataset.Version, len(w.Dataset.GridFactors))
	tests := []struct {
		name, id, region string
		want             []string // "" for accepted, else pieces of the message
	}{
		{"country name", "SITE0051", "Spain", []string{`grid_region "Spain" is not a grid region code (upper-case letters and digits in groups joined by "-"`, ds, "the ISO 3166-1 alpha-2 code ES"}},
		{"lower-case code", "SITE0052", "es", []string{`grid_region "es" is not a grid region code`, ds}},
		{"upper-case name", "SITE0053", "SPAIN", []string{`grid_region "SPAIN" is not a region of any published dataset (` + ds, "the ISO 3166-1 alpha-2 code ES"}},
		{"unknown code", "SITE0054", "XX", []string{`grid_region "XX" is not a region of any published dataset`}},
		{"too long", "SITE0055", strings.Repeat("A", 33), []string{"is not a grid region code"}},
		{"country code", "SITE0056", "ES", nil},
		{"ISO 3166-2 region of the dataset", "SITE0057", "ES-CN", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := w.call(w.Miner, greenmint.TxRegisterSite, siteRequest(tc.id, "ES", tc.region), nil)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("RegisterSite(grid_region %q) = %v, want accepted", tc.region, err)
				}
				var s greenmint.Site
				w.query(t, w.Auditor, greenmint.QueryGetSite, greenmint.IDQuery{ID: tc.id}, &s)
				if s.GridRegion != tc.region || s.Status != greenmint.StatusPending {
					t.Fatalf("site = %+v, want grid region %s, pending", s, tc.region)
				}
				return
			}
			wantCode(t, err, greenmint.EINVALID)
			for _, piece := range tc.want {
				if !strings.Contains(err.Error(), piece) {
					t.Errorf("RegisterSite(grid_region %q) = %v\nwant a message containing %q", tc.region, err, piece)
				}
			}
			if w.siteExists(t, tc.id) {
				t.Fatalf("refused site %s was registered", tc.id)
			}
		})
	}
	if w.committedOnError {
		t.Fatal("a refused registration committed a block")
	}
}

// TestGridRegionsFollowPublishedDatasets: before any dataset is published
// only the form of a grid region is checked; once one is, its regions are
// the valid ones, and a later dataset adds its own.
func TestGridRegionsFollowPublishedDatasets(t *testing.T) {
	l, c, err := greenminttest.CreateEmbedded(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	env, err := greenminttest.NewEnv(l, c)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{Env: env, ledger: l, c: c}
	w.mustCall(t, w.Registry, greenmint.TxBootstrap, greenmint.PolicyRequest{Threshold: 1}, nil)
	for _, req := range consortium.Admissions(env.Members) {
		w.mustCall(t, w.Registry, greenmint.TxAdmitOrganization, req, nil)
	}

	err = w.call(w.Miner, greenmint.TxRegisterSite, siteRequest("SITE0061", "ES", "Spain"), nil)
	wantCode(t, err, greenmint.EINVALID)
	if !strings.Contains(err.Error(), "no emission-factor dataset is published yet") {
		t.Errorf("RegisterSite(Spain) with no dataset = %v, want it to say none is published", err)
	}
	w.mustCall(t, w.Miner, greenmint.TxRegisterSite, siteRequest("SITE0062", "ES", "XX"), nil) // only the form is checked

	publish := func(ds greenmint.DatasetContent) error {
		sum, err := greenmint.DatasetSHA256(ds)
		if err != nil {
			t.Fatal(err)
		}
		return w.call(w.Registry, greenmint.TxPublishDataset, greenmint.PublishDatasetRequest{Dataset: ds, SHA256: sum}, nil)
	}
	first := greenmint.DatasetContent{ID: "FIRST", Version: "1", Source: "s", License: "l",
		GridFactors:      []greenmint.GridFactor{{Region: "DE", Firm: 1, Intermittent: 1}, {Region: "ES", Firm: 1, Intermittent: 1}},
		LifecycleFactors: []greenmint.LifecycleFactor{{Technology: "solar_pv_utility", Factor: 1}}}
	if err := publish(first); err != nil {
		t.Fatal(err)
	}
	err = w.call(w.Miner, greenmint.TxRegisterSite, siteRequest("SITE0063", "FR", "FR"), nil)
	wantCode(t, err, greenmint.EINVALID)
	if want := `grid_region "FR" is not a region of any published dataset (FIRST 1 has 2 regions: DE, ES)`; !strings.Contains(err.Error(), want) {
		t.Errorf("RegisterSite(FR) = %v, want %q", err, want)
	}
	w.mustCall(t, w.Miner, greenmint.TxRegisterSite, siteRequest("SITE0064", "ES", "ES"), nil)

	second := first
	second.ID, second.GridFactors = "SECOND", []greenmint.GridFactor{{Region: "ES", Firm: 2, Intermittent: 2}, {Region: "FR", Firm: 2, Intermittent: 2}}
	if err := publish(second); err != nil {
		t.Fatal(err)
	}
	w.mustCall(t, w.Miner, greenmint.TxRegisterSite, siteRequest("SITE0063", "FR", "FR"), nil)
	err = w.call(w.Miner, greenmint.TxRegisterSite, siteRequest("SITE0065", "IT", "IT"), nil)
	wantCode(t, err, greenmint.EINVALID)
	if want := "(FIRST 1 has 2 regions: DE, ES; SECOND 1 has 2 regions: ES, FR); use the code of the site's grid as the dataset writes it"; !strings.Contains(err.Error(), want) {
		t.Errorf("RegisterSite(IT) = %v, want %q", err, want)
	}

	bad := first
	bad.ID, bad.GridFactors = "NAMES", []greenmint.GridFactor{{Region: "Spain", Firm: 1, Intermittent: 1}}
	err = publish(bad)
	wantCode(t, err, greenmint.EINVALID)
	if !strings.Contains(err.Error(), `region "Spain" is not a grid region code`) {
		t.Errorf("PublishDataset(region Spain) = %v", err)
	}
	if w.committedOnError {
		t.Fatal("a refused call committed a block")
	}
}

// TestAmendSite: the owner amends a pending site, checked as registration
// is, and its history keeps both versions; another organisation, an
// unknown site, an approved site, a non-miner and an invalid amendment are
// refused and change nothing.
func TestAmendSite(t *testing.T) {
	w := newWorld(t)
	w.mustCall(t, w.Miner, greenmint.TxRegisterSite, siteRequest("SITE0050", "ES", "ES"), nil)
	var registered greenmint.Site
	w.query(t, w.Auditor, greenmint.QueryGetSite, greenmint.IDQuery{ID: "SITE0050"}, &registered)

	amended := greenmint.AmendSiteRequest(siteRequest("SITE0050", "ES", "ES-CN"))
	amended.Name, amended.LatitudeMicro, amended.LongitudeMicro, amended.CapacityW = "Tenerife", 28_291_000, -16_629_000, 2_000_000
	amended.Fleet = greenmint.Fleet{HashrateTHs: 1000, EfficiencyMJ: 21_000}
	var got greenmint.Site
	w.mustCall(t, w.Miner, greenmint.TxAmendSite, amended, &got)
	want := registered
	want.Name, want.GridRegion, want.LatitudeMicro, want.LongitudeMicro, want.CapacityW, want.Fleet = amended.Name, amended.GridRegion, amended.LatitudeMicro, amended.LongitudeMicro, amended.CapacityW, amended.Fleet
	want.UpdatedAt = got.UpdatedAt
	if got != want {
		t.Fatalf("AmendSite = %+v, want %+v", got, want)
	}
	var stored greenmint.Site
	w.query(t, w.Auditor, greenmint.QueryGetSite, greenmint.IDQuery{ID: "SITE0050"}, &stored)
	if stored != got {
		t.Fatalf("GetSite after AmendSite = %+v, want %+v", stored, got)
	}
	history := func() []greenmint.Site {
		var h []greenmint.HistoryEntry
		w.query(t, w.Auditor, greenmint.QuerySiteHistory, greenmint.IDQuery{ID: "SITE0050"}, &h)
		out := make([]greenmint.Site, len(h))
		for i, e := range h {
			if err := json.Unmarshal(e.Value, &out[i]); err != nil {
				t.Fatal(err)
			}
		}
		return out
	}
	if h := history(); len(h) != 2 || h[0].GridRegion != "ES" || h[1].GridRegion != "ES-CN" {
		t.Fatalf("site history = %+v, want the registration (ES) then the amendment (ES-CN)", h)
	}
	w.mustCall(t, w.Miner, greenmint.TxAmendSite, amended, nil) // the same again: nothing to write
	if h := history(); len(h) != 2 {
		t.Fatalf("an amendment that changes nothing wrote a version: %+v", h)
	}

	w.mustCall(t, w.Miner2, greenmint.TxRegisterSite, siteRequest("SITE0060", "ES", "ES"), nil)
	w.mustCall(t, w.Registry, greenmint.TxApproveSite, greenmint.StatusRequest{ID: "SITE0060"}, nil)
	suspended := func() string {
		w.mustCall(t, w.Miner, greenmint.TxRegisterSite, siteRequest("SITE0070", "ES", "ES"), nil)
		w.mustCall(t, w.Registry, greenmint.TxApproveSite, greenmint.StatusRequest{ID: "SITE0070"}, nil)
		w.mustCall(t, w.Registry, greenmint.TxSuspendSite, greenmint.StatusRequest{ID: "SITE0070", Reason: "wrong region"}, nil)
		return "SITE0070"
	}()
	amend := func(id, region string) greenmint.AmendSiteRequest {
		return greenmint.AmendSiteRequest(siteRequest(id, "ES", region))
	}
	refusals := []struct {
		name string
		id   *greenmint.Identity
		req  greenmint.AmendSiteRequest
		code string
		says string
	}{
		{"country name", w.Miner, amend("SITE0050", "Spain"), greenmint.EINVALID, `grid_region "Spain" is not a grid region code`},
		{"unknown region", w.Miner, amend("SITE0050", "XX"), greenmint.EINVALID, "is not a region of any published dataset"},
		{"zero capacity", w.Miner, greenmint.AmendSiteRequest{SiteID: "SITE0050", Name: "x", Country: "ES", GridRegion: "ES"}, greenmint.EINVALID, "capacity_w"},
		{"another organisation's site", w.Miner2, amend("SITE0050", "ES"), greenmint.EFORBIDDEN, "only its owner may amend it"},
		{"unknown site", w.Miner, amend("SITE9999", "ES"), greenmint.ENOTFOUND, "site SITE9999 does not exist"},
		{"approved site", w.Miner, amend(w.site.ID, "ES-CN"), greenmint.ECONFLICT, "is approved; only a pending site can be amended"},
		{"approved site of the caller's own, by another organisation", w.Miner, amend("SITE0060", "ES-CN"), greenmint.EFORBIDDEN, "only its owner"},
		{"suspended site", w.Miner, amend(suspended, "ES-CN"), greenmint.ECONFLICT, "is suspended; only a pending site can be amended"},
		{"registry", w.Registry, amend("SITE0050", "ES"), greenmint.EFORBIDDEN, "may not do this"},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			var before []byte
			if w.siteExists(t, tc.req.SiteID) {
				before = w.raw(t, greenmint.QuerySiteHistory, greenmint.IDQuery{ID: tc.req.SiteID})
			}
			err := w.call(tc.id, greenmint.TxAmendSite, tc.req, nil)
			wantCode(t, err, tc.code)
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("AmendSite(%s) = %v, want it to say %q", tc.name, err, tc.says)
			}
			if before != nil {
				if after := w.raw(t, greenmint.QuerySiteHistory, greenmint.IDQuery{ID: tc.req.SiteID}); !bytes.Equal(before, after) {
					t.Fatalf("a refused amendment changed site %s:\n%s\n→\n%s", tc.req.SiteID, before, after)
				}
			} else if w.siteExists(t, tc.req.SiteID) {
				t.Fatalf("a refused amendment created site %s", tc.req.SiteID)
			}
		})
	}
	if w.committedOnError {
		t.Fatal("a refused amendment committed a block")
	}
}

// TestAmendMeter: the owner amends a pending meter, also moving it to
// another of its sites; another organisation, an unknown meter, an approved
// meter, another organisation's site and an invalid amendment are refused
// and change nothing.
func TestAmendMeter(t *testing.T) {
	w := newWorld(t)
	w.mustCall(t, w.Miner, greenmint.TxRegisterSite, siteRequest("SITE0050", "ES", "ES"), nil)
	reg := meterRequest(t, "SITE0050-CONS", "SITE0050")
	w.mustCall(t, w.Miner, greenmint.TxRegisterMeter, reg, nil)

	amended := greenmint.AmendMeterRequest(meterRequest(t, "SITE0050-CONS", w.site.ID))
	amended.Kind, amended.Technology, amended.CapacityW, amended.IntervalMinutes = greenmint.MeterGeneration, "wind_onshore", 3_000_000, 60
	var got greenmint.Meter
	w.mustCall(t, w.Miner, greenmint.TxAmendMeter, amended, &got)
	if got.SiteID != w.site.ID || got.Kind != greenmint.MeterGeneration || got.Technology != "wind_onshore" || got.CapacityW != 3_000_000 ||
		got.IntervalMinutes != 60 || !bytes.Equal(got.PublicKey, amended.PublicKey) || got.Status != greenmint.StatusPending || got.Owner != w.Miner.MSPID {
		t.Fatalf("AmendMeter = %+v, want the amendment, pending, owned by %s", got, w.Miner.MSPID)
	}
	siteMeters := func(site string) []string {
		var ms []greenmint.Meter
		w.query(t, w.Auditor, greenmint.QuerySiteMeters, greenmint.IDQuery{ID: site}, &ms)
		var ids []string
		for _, m := range ms {
			ids = append(ids, m.ID)
		}
		return ids
	}
	if ids := siteMeters("SITE0050"); len(ids) != 0 {
		t.Fatalf("SITE0050 still lists meters %v after its meter moved", ids)
	}
	if ids := siteMeters(w.site.ID); !strings.Contains(strings.Join(ids, ","), "SITE0050-CONS") {
		t.Fatalf("%s lists meters %v, want the moved meter among them", w.site.ID, ids)
	}
	var h []greenmint.HistoryEntry
	w.query(t, w.Auditor, greenmint.QueryMeterHistory, greenmint.IDQuery{ID: "SITE0050-CONS"}, &h)
	if len(h) != 2 || !strings.Contains(string(h[0].Value), `"site_id":"SITE0050"`) || !strings.Contains(string(h[1].Value), `"site_id":"`+w.site.ID+`"`) {
		t.Fatalf("meter history = %+v, want the registration then the amendment", h)
	}

	w.mustCall(t, w.Miner2, greenmint.TxRegisterSite, siteRequest("SITE0060", "ES", "ES"), nil)
	w.mustCall(t, w.Miner2, greenmint.TxRegisterMeter, meterRequest(t, "SITE0060-CONS", "SITE0060"), nil)
	amend := func(id, site string, edit func(*greenmint.AmendMeterRequest)) greenmint.AmendMeterRequest {
		r := greenmint.AmendMeterRequest(meterRequest(t, id, site))
		if edit != nil {
			edit(&r)
		}
		return r
	}
	refusals := []struct {
		name string
		id   *greenmint.Identity
		req  greenmint.AmendMeterRequest
		code string
		says string
	}{
		{"interval of 10 minutes", w.Miner, amend("SITE0050-CONS", "SITE0050", func(r *greenmint.AmendMeterRequest) { r.IntervalMinutes = 10 }), greenmint.EINVALID, "interval_minutes"},
		{"short key", w.Miner, amend("SITE0050-CONS", "SITE0050", func(r *greenmint.AmendMeterRequest) { r.PublicKey = r.PublicKey[:31] }), greenmint.EINVALID, "public_key"},
		{"coal", w.Miner, amend("SITE0050-CONS", "SITE0050", func(r *greenmint.AmendMeterRequest) { r.Kind, r.Technology = greenmint.MeterGeneration, "coal" }), greenmint.EINVALID, "technology"},
		{"to another organisation's site", w.Miner, amend("SITE0050-CONS", "SITE0060", nil), greenmint.EFORBIDDEN, "site SITE0060 belongs to"},
		{"to an unknown site", w.Miner, amend("SITE0050-CONS", "SITE9999", nil), greenmint.ENOTFOUND, "site SITE9999 does not exist"},
		{"another organisation's meter", w.Miner, amend("SITE0060-CONS", "SITE0060", nil), greenmint.EFORBIDDEN, "only its owner may amend it"},
		{"unknown meter", w.Miner, amend("NOSUCHMETER", "SITE0050", nil), greenmint.ENOTFOUND, "meter NOSUCHMETER does not exist"},
		{"approved meter", w.Miner, amend(w.site.Consumption, w.site.ID, nil), greenmint.ECONFLICT, "is approved; only a pending meter can be amended"},
		{"buyer", w.Buyer, amend("SITE0050-CONS", "SITE0050", nil), greenmint.EFORBIDDEN, "may not do this"},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			before := w.raw(t, greenmint.QueryGetMeters, greenmint.IDsQuery{IDs: []string{tc.req.MeterID}})
			beforeSites := [][]string{siteMeters("SITE0050"), siteMeters(w.site.ID), siteMeters("SITE0060")}
			err := w.call(tc.id, greenmint.TxAmendMeter, tc.req, nil)
			wantCode(t, err, tc.code)
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("AmendMeter(%s) = %v, want it to say %q", tc.name, err, tc.says)
			}
			if after := w.raw(t, greenmint.QueryGetMeters, greenmint.IDsQuery{IDs: []string{tc.req.MeterID}}); !bytes.Equal(before, after) {
				t.Fatalf("a refused amendment changed meter %s:\n%s\n→\n%s", tc.req.MeterID, before, after)
			}
			afterSites := [][]string{siteMeters("SITE0050"), siteMeters(w.site.ID), siteMeters("SITE0060")}
			if fmt.Sprint(beforeSites) != fmt.Sprint(afterSites) {
				t.Fatalf("a refused amendment changed sites' meters: %v → %v", beforeSites, afterSites)
			}
		})
	}
	if w.committedOnError {
		t.Fatal("a refused amendment committed a block")
	}
}

// legacyPublisher runs the contract, and LegacyPublishDataset, which writes
// a dataset as PublishDataset wrote it before the grid-region index
// existed: the dataset's key alone.
type legacyPublisher struct{ shim.Chaincode }

func (l legacyPublisher) Invoke(stub shim.ChaincodeStubInterface) *peer.Response {
	fn, args := stub.GetFunctionAndParameters()
	if fn != "LegacyPublishDataset" {
		return l.Chaincode.Invoke(stub)
	}
	var ds greenmint.Dataset
	if err := json.Unmarshal([]byte(args[0]), &ds); err != nil {
		return shim.Error(err.Error())
	}
	k, err := stub.CreateCompositeKey("dataset", []string{ds.ID, ds.Version})
	if err != nil {
		return shim.Error(err.Error())
	}
	if err := stub.PutState(k, []byte(args[0])); err != nil {
		return shim.Error(err.Error())
	}
	return shim.Success(nil)
}

// TestGridRegionsOfDatasetsPublishedBeforeTheIndex: on a ledger whose
// dataset was published before the grid-region index existed, RegisterSite
// reads the dataset itself, and the next PublishDataset indexes the old
// dataset's regions with its own.
func TestGridRegionsOfDatasetsPublishedBeforeTheIndex(t *testing.T) {
	dir := t.TempDir()
	c, err := consortium.Create(filepath.Join(dir, "organizations"), consortium.DemoMembers)
	if err != nil {
		t.Fatal(err)
	}
	orgs, err := c.Orgs()
	if err != nil {
		t.Fatal(err)
	}
	cfg := embedded.ChannelConfig{ChannelID: "greenmint", Chaincode: chaincode.Name}
	for _, o := range orgs {
		cfg.Orgs = append(cfg.Orgs, embedded.OrgConfig{MSPID: o.MSPID, RootCertPEM: o.RootCertPEM})
	}
	if err := embedded.Create(filepath.Join(dir, "ledger"), cfg); err != nil {
		t.Fatal(err)
	}
	cc, err := chaincode.New(chaincode.Config{RegistryMSP: consortium.RegistryMSP})
	if err != nil {
		t.Fatal(err)
	}
	l, err := embedded.Open(filepath.Join(dir, "ledger"), legacyPublisher{cc}, embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	env, err := greenminttest.NewEnv(l, c)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{Env: env, ledger: l, c: c}
	w.mustCall(t, w.Registry, greenmint.TxBootstrap, greenmint.PolicyRequest{Threshold: 1}, nil)
	for _, req := range consortium.Admissions(env.Members) {
		w.mustCall(t, w.Registry, greenmint.TxAdmitOrganization, req, nil)
	}
	old, err := refdata.DefaultDataset()
	if err != nil {
		t.Fatal(err)
	}
	sum, err := greenmint.DatasetSHA256(old)
	if err != nil {
		t.Fatal(err)
	}
	w.mustCall(t, w.Registry, "LegacyPublishDataset", greenmint.Dataset{DatasetContent: old, SHA256: sum}, nil)

	w.mustCall(t, w.Miner, greenmint.TxRegisterSite, siteRequest("SITE0071", "FR", "FR"), nil)
	err = w.call(w.Miner, greenmint.TxRegisterSite, siteRequest("SITE0072", "ES", "SPAIN"), nil)
	wantCode(t, err, greenmint.EINVALID)
	if want := fmt.Sprintf("(%s %s has %d regions: ES, ES-CN, ", old.ID, old.Version, len(old.GridFactors)); !strings.Contains(err.Error(), want) {
		t.Errorf("RegisterSite(SPAIN) before the index = %v, want %q", err, want)
	}

	next := greenmint.DatasetContent{ID: "NEXT", Version: "1", Source: "s", License: "l",
		GridFactors:      []greenmint.GridFactor{{Region: "XX", Firm: 1, Intermittent: 1}},
		LifecycleFactors: []greenmint.LifecycleFactor{{Technology: "solar_pv_utility", Factor: 1}}}
	nextSum, err := greenmint.DatasetSHA256(next)
	if err != nil {
		t.Fatal(err)
	}
	w.mustCall(t, w.Registry, greenmint.TxPublishDataset, greenmint.PublishDatasetRequest{Dataset: next, SHA256: nextSum}, nil)
	w.mustCall(t, w.Miner, greenmint.TxRegisterSite, siteRequest("SITE0073", "DE", "DE"), nil) // the old dataset's, indexed now
	w.mustCall(t, w.Miner, greenmint.TxRegisterSite, siteRequest("SITE0074", "ES", "XX"), nil) // the new one's
	wantCode(t, w.call(w.Miner, greenmint.TxRegisterSite, siteRequest("SITE0075", "ES", "SPAIN"), nil), greenmint.EINVALID)
	if w.committedOnError {
		t.Fatal("a refused call committed a block")
	}
}
