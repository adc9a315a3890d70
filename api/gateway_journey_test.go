package api_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/api"
	"github.com/greenmint/greenmint/bundle"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/oracle"
	"github.com/greenmint/greenmint/simulate"
	"github.com/greenmint/greenmint/workspace"
)

// TestJourney runs the whole story over HTTP, each step as the user whose
// step it is: an admin invites a user, the registry approves a site, the
// meters send, the oracle attests, the contract mints, the miner lists
// and transfers, the buyer reserves and the miner confirms, the buyer
// retires two batches into one statement, the public verifies it, an
// auditor flags a batch (its units freeze) and the registry resolves it.
// On SQLite, and on PostgreSQL when GREENMINT_TEST_POSTGRES_DSN is set.
func TestJourney(t *testing.T) {
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) { journey(t, newGatewayEnv(t, db, envOptions{}), "SITE0100") })
	}
}

// TestJourneyOnFabric runs the journey on the Fabric network make
// test-fabric started (GREENMINT_FABRIC_DIR), with a new site each run.
func TestJourneyOnFabric(t *testing.T) {
	dir := os.Getenv("GREENMINT_FABRIC_DIR")
	if dir == "" {
		t.Skip("GREENMINT_FABRIC_DIR is not set: make test-fabric runs the journey on a Fabric network")
	}
	w, err := workspace.Open(workspace.Config{Dir: t.TempDir(), Ledger: workspace.Fabric, Connection: filepath.Join(dir, "connection.json")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	oid, err := w.Identity(consortium.OracleAMSP + ":oracle")
	if err != nil {
		t.Fatal(err)
	}
	oracleDB := greenminttest.NewOracleDB(t, filepath.Join(t.TempDir(), "oracle.db"))
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			e := newGatewayEnvOn(t, db, envOptions{}, backend{ledger: w.Ledger, ws: w, oracleDB: oracleDB, oracleID: oid})
			journey(t, e, fmt.Sprintf("SITE%d", time.Now().UnixNano()%1_000_000_000))
		})
	}
}

// journeyTxs are transactions of the journey, by who signed them.
type journeyTxs struct {
	minerSite  string // the seeded miner registering the site
	beaRetires string // the invited buyer retiring into a statement
}

func journey(t *testing.T, e *gatewayEnv, siteID string) journeyTxs {
	// An admin invites a user, who accepts and signs in.
	var inv api.InvitationView
	e.call("POST", "/v1/invitations", e.as("buyer"), map[string]any{"login": "bea", "role": "buyer"}, 200, &inv)
	var bea api.UserView
	e.call("POST", "/v1/invitations/accept", "", map[string]any{"secret": inv.Secret, "password": testPassword}, 200, &bea)
	if bea.Org != consortium.BuyerMSP || bea.Role != greenmint.RoleBuyer {
		t.Fatalf("accepted user %+v", bea)
	}
	var s api.SessionView
	e.call("POST", "/v1/auth/login", "", map[string]any{"login": "bea", "password": testPassword}, 200, &s)
	beaTok := s.AccessToken

	// The miner's admin makes an API key for its meters' collector.
	var key api.APIKeyView
	e.call("POST", "/v1/api-keys", e.as("miner"), map[string]any{"name": "collector", "scopes": []string{"readings:write"}}, 200, &key)
	if key.Key == "" {
		t.Fatal("the API key was not shown at creation")
	}

	// The miner registers a site and its meters; the registry approves.
	site, err := simulate.NewSite(siteID)
	if err != nil {
		t.Fatal(err)
	}
	reg := site.Registration()
	var ws api.Written[greenmint.Site]
	r := e.call("POST", "/v1/sites", e.as("miner"), reg.Sites[0], 200, &ws, "Idempotency-Key", "site-"+siteID)
	if ws.Result.Status != greenmint.StatusPending || ws.TxID == "" || ws.Block == 0 {
		t.Fatalf("registered site %+v", ws)
	}
	again := e.call("POST", "/v1/sites", e.as("miner"), reg.Sites[0], 200, nil, "Idempotency-Key", "site-"+siteID)
	if again.Header.Get("Idempotent-Replayed") != "true" || string(again.Body) != string(r.Body) {
		t.Fatalf("a replay answered %s %s, want the first answer again", again.Header, again.Body)
	}
	for _, m := range reg.Meters {
		e.call("POST", "/v1/meters", e.as("miner"), m, 200, nil)
	}
	e.call("POST", "/v1/sites/"+siteID+"/approve", e.as("registrar"), nil, 200, nil)
	for _, m := range reg.Meters {
		e.call("POST", "/v1/meters/"+m.MeterID+"/approve", e.as("registrar"), map[string]any{"reason": "inspected"}, 200, nil)
	}

	// The meters send a week of signed readings through the collector.
	week := greenminttest.DemoWeek
	readings, err := site.Readings(week)
	if err != nil {
		t.Fatal(err)
	}
	var sum oracle.Summary
	e.call("POST", "/v1/readings", key.Key, readings, 200, &sum)
	if sum.Accepted != len(readings) || sum.Rejected != 0 {
		t.Fatalf("readings: %d accepted, %d rejected of %d: %+v", sum.Accepted, sum.Rejected, len(readings), sum.Results[:min(3, len(sum.Results))])
	}
	var m api.MatchingView
	e.call("GET", fmt.Sprintf("/v1/sites/%s/matching?from=%s&to=%s", siteID, week.Start.Format(time.RFC3339), week.Start.Add(24*time.Hour).Format(time.RFC3339)), e.as("miner"), nil, 200, &m)
	if len(m.Hours) != 24 || m.Totals.MatchedWh <= 0 || m.Pending <= 0 || m.Attested.MatchedWh != 0 || m.Hours[0].BatchID != "" {
		t.Fatalf("matching before attestation %+v", m)
	}

	// The oracle attests two halves of the week: two batches.
	half := week.Start.Add(84 * time.Hour)
	var b1, b2 greenmint.MintResult
	e.call("POST", "/v1/attestations", e.as("oracle"), map[string]any{"site_id": siteID, "from": week.Start, "to": half}, 200, &b1)
	e.call("POST", "/v1/attestations", e.as("oracle"), map[string]any{"site_id": siteID, "from": half, "to": week.End()}, 200, &b2)
	if b1.Quantity <= 0 || b2.Quantity <= 0 || b1.BatchID == b2.BatchID {
		t.Fatalf("minted %+v and %+v", b1, b2)
	}
	e.call("GET", fmt.Sprintf("/v1/sites/%s/matching?from=%s&to=%s", siteID, week.Start.Format(time.RFC3339), week.End().Format(time.RFC3339)), e.as("miner"), nil, 200, &m)
	if len(m.Hours)+len(m.Gaps) != week.Hours || m.Pending != 0 || m.Attested != m.Totals || m.Hours[0].BatchID != b1.BatchID || m.Hours[len(m.Hours)-1].BatchID != b2.BatchID {
		t.Fatalf("matching after attestation: %d hours, %d gaps, pending %d, attested %+v of %+v", len(m.Hours), len(m.Gaps), m.Pending, m.Attested, m.Totals)
	}

	// The miner lists part of the first; the new buyer reserves it and the
	// miner confirms payment. The miner transfers part of the second.
	var lst api.Written[greenmint.Listing]
	e.call("POST", "/v1/listings", e.as("miner"), map[string]any{"batch_id": b1.BatchID, "quantity": b1.Quantity / 2, "price_minor": 125000, "currency": "EUR"}, 200, &lst)
	var market api.List[greenmint.Listing]
	e.waitVisible(lst.TxID)
	e.call("GET", "/v1/listings?country=ES", beaTok, nil, 200, &market)
	if !containsListing(market.Items, lst.Result.ID) {
		t.Fatalf("the marketplace %+v lacks listing %s", market.Items, lst.Result.ID)
	}
	e.call("POST", "/v1/listings/"+lst.Result.ID+"/reserve", beaTok, nil, 200, nil)
	var sold api.Written[greenmint.Listing]
	e.call("POST", "/v1/listings/"+lst.Result.ID+"/confirm", e.as("miner"), nil, 200, &sold)
	if sold.Result.Status != greenmint.ListingSold || sold.Result.Buyer != consortium.BuyerMSP {
		t.Fatalf("confirmed listing %+v", sold.Result)
	}
	var tr api.Written[greenmint.Holding]
	e.call("POST", "/v1/transfers", e.as("miner"), map[string]any{"batch_id": b2.BatchID, "to": consortium.BuyerMSP, "quantity": b2.Quantity / 4}, 200, &tr)

	// The buyer's portfolio holds both; one statement retires parts of both.
	e.waitVisible(tr.TxID)
	var port api.List[greenmint.Holding]
	e.call("GET", "/v1/holdings", beaTok, nil, 200, &port)
	held := map[string]int64{}
	for _, h := range port.Items {
		if h.Owner != consortium.BuyerMSP {
			t.Fatalf("the buyer's portfolio shows %+v", h)
		}
		held[h.BatchID] = h.Tradable
	}
	if held[b1.BatchID] != b1.Quantity/2 || held[b2.BatchID] != b2.Quantity/4 {
		t.Fatalf("portfolio %v, want %d of %s and %d of %s", held, b1.Quantity/2, b1.BatchID, b2.Quantity/4, b2.BatchID)
	}
	var st api.Written[greenmint.RetirementStatement]
	e.call("POST", "/v1/retirements", beaTok, map[string]any{
		"parts":       []map[string]any{{"batch_id": b1.BatchID, "quantity": held[b1.BatchID]}, {"batch_id": b2.BatchID, "quantity": held[b2.BatchID] / 2}},
		"beneficiary": "Acme Offsets GmbH", "jurisdiction": "DE-BE", "purpose": "voluntary-offset", "reporting_year": 2023, "reason": "2023 office electricity",
	}, 200, &st, "Idempotency-Key", "retire-2023")
	if len(st.Result.Parts) != 2 {
		t.Fatalf("statement %+v", st.Result)
	}

	// Anyone verifies the statement, a batch and the listing.
	e.waitVisible(st.TxID)
	var rv api.RetirementVerification
	e.call("GET", "/v1/public/retirements/"+st.Result.ID, "", nil, 200, &rv)
	if !rv.Verified || rv.Retired.Block != st.Block || len(rv.Batches) != 2 || rv.Statement.Beneficiary != "Acme Offsets GmbH" {
		t.Fatalf("public verification of %s: %+v", st.Result.ID, rv)
	}
	for _, b := range rv.Batches {
		c := b.Checks
		if !c.Verified || !c.AttestationHash || !c.SignaturesValid || len(c.Signatures) < 2 || !c.DatasetMatches || !c.QuantitiesBalance || b.Mint.Block == 0 {
			t.Fatalf("batch %s checks %+v mint %+v", b.Batch.ID, c, b.Mint)
		}
	}
	// The statement's offline proof bundle verifies without any server.
	raw := e.call("GET", "/v1/public/retirements/"+st.Result.ID+"/bundle", "", nil, 200, nil)
	bd, err := bundle.Decode(raw.Body)
	if err != nil {
		t.Fatalf("the statement's bundle does not decode: %v", err)
	}
	if rep := bundle.Verify(bd, bundle.VerifyOptions{}); !rep.OK() {
		t.Fatalf("the statement's bundle does not verify: %+v", rep.Failed())
	}
	var lv api.ListingVerification
	e.call("GET", "/v1/public/listings/"+lst.Result.ID, "", nil, 200, &lv)
	if lv.Status != greenmint.ListingSold || lv.PriceMinor != 0 || !lv.Batch.Checks.Verified {
		t.Fatalf("public listing %+v", lv)
	}

	// An auditor reads the provenance and flags the second batch: its
	// units freeze (R13) until the registry resolves the flag.
	var prov api.Provenance
	e.call("GET", "/v1/batches/"+b2.BatchID+"/provenance", e.as("auditor"), nil, 200, &prov)
	if prov.Attestation.ID != prov.Batch.AttestationID || prov.ReadingsRoot == "" || len(prov.History) == 0 || len(prov.Holdings) != 2 {
		t.Fatalf("provenance %+v", prov)
	}
	var flag api.Written[greenmint.Flag]
	e.call("POST", "/v1/batches/"+b2.BatchID+"/flags", e.as("auditor"), map[string]any{"reason": "meter calibration certificate expired"}, 200, &flag)
	frozen := e.do("POST", "/v1/transfers", e.as("miner"), map[string]any{"batch_id": b2.BatchID, "to": consortium.BuyerMSP, "quantity": 1})
	e.problem(frozen, 409, greenmint.ECONFLICT)
	var resolved api.Written[greenmint.Flag]
	e.call("POST", "/v1/batches/"+b2.BatchID+"/flags/"+flag.Result.ID+"/resolution", e.as("registrar"), map[string]any{"outcome": "dismissed", "resolution": "certificate renewed in time"}, 200, &resolved)
	if resolved.Result.Status != greenmint.FlagDismissed {
		t.Fatalf("resolved flag %+v", resolved.Result)
	}
	e.call("POST", "/v1/transfers", e.as("miner"), map[string]any{"batch_id": b2.BatchID, "to": consortium.BuyerMSP, "quantity": 1}, 200, nil)
	e.waitVisible(resolved.TxID)
	var flags api.List[greenmint.Flag]
	e.call("GET", "/v1/flags?batch_id="+b2.BatchID, e.as("auditor"), nil, 200, &flags)
	if len(flags.Items) != 1 || flags.Items[0].Status != greenmint.FlagDismissed {
		t.Fatalf("flags %+v", flags.Items)
	}
	return journeyTxs{minerSite: ws.TxID, beaRetires: st.TxID}
}

func containsListing(ls []greenmint.Listing, id string) bool {
	for _, l := range ls {
		if l.ID == id {
			return true
		}
	}
	return false
}
