package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/api"
	"github.com/greenmint/greenmint/auth"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/oracle"
	"github.com/greenmint/greenmint/simulate"
)

// TestEveryRoleOnlyItsOwnOperations calls every operation of
// docs/openapi.json that is not public as every role it does not name, as
// a non-admin where it is for admins, with API keys that lack its scope
// (or any API key where it admits none), and with no credential: 403
// forbidden (401 unauthenticated without a credential), and nothing
// changes. The refusal comes before the input is read, so the bodies sent
// are ones the operation would accept.
func TestEveryRoleOnlyItsOwnOperations(t *testing.T) {
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			e := newGatewayEnv(t, db, envOptions{})
			plain := map[string]string{}
			for _, u := range seeded {
				plain[u.login] = e.nonAdmin(u.login)
			}
			// Every scope but one, for each scope; and every scope, made by
			// an admin of each role.
			allScopes := auth.Scopes()
			keysWithout := map[string]string{}
			for _, s := range allScopes {
				var others []string
				for _, o := range allScopes {
					if o != s {
						others = append(others, o)
					}
				}
				keysWithout[s] = e.apiKey("miner", others...).Key
			}
			keysOfRole := map[greenmint.Role]string{}
			for _, u := range seeded {
				keysOfRole[u.role] = e.apiKey(u.login, allScopes...).Key
			}
			before := e.state()
			n := 0
			for _, op := range specOps(t) {
				if op.Who.Public {
					continue
				}
				var body any
				if op.Body != nil && op.BodyType == "application/json" {
					body = example(op.Body)
				}
				u := op.url("SITE0042")
				if op.ID == "siteMatching" {
					u += "?from=2023-06-01T00:00:00Z&to=2023-06-02T00:00:00Z"
				}
				refuse := func(who, tok string, status int, code string) {
					t.Helper()
					n++
					t.Run(op.ID+"/"+who, func(t *testing.T) {
						e.t = t
						e.problem(e.do(op.Method, u, tok, body), status, code)
					})
				}
				refuse("anonymous", "", 401, greenmint.EUNAUTHENTICATED)
				if len(op.Who.Roles) > 0 {
					for _, s := range seeded {
						if !contains(op.Who.Roles, s.role) {
							refuse(string(s.role), plain[s.login], 403, greenmint.EFORBIDDEN)
							refuse(string(s.role)+" admin", e.as(s.login), 403, greenmint.EFORBIDDEN)
							if op.Who.Scope != "" {
								refuse("API key of a "+string(s.role)+" with every scope", keysOfRole[s.role], 403, greenmint.EFORBIDDEN)
							}
						}
					}
				}
				if op.Who.Admin {
					allowed := "miner"
					if len(op.Who.Roles) > 0 {
						allowed = loginOf(op.Who.Roles[0])
					}
					refuse("non-admin "+allowed, plain[allowed], 403, greenmint.EFORBIDDEN)
				}
				if op.Who.Scope == "" {
					for _, u := range seeded {
						if len(op.Who.Roles) == 0 || contains(op.Who.Roles, u.role) {
							refuse("API key of a "+string(u.role)+" with every scope", keysOfRole[u.role], 403, greenmint.EFORBIDDEN)
						}
					}
				} else {
					refuse("API key without "+op.Who.Scope, keysWithout[op.Who.Scope], 403, greenmint.EFORBIDDEN)
				}
			}
			e.t = t
			e.unchanged(before, "calls by roles an operation does not admit")
			if n < 250 {
				t.Fatalf("only %d refused calls were made", n)
			}
		})
	}
}

func contains[T comparable](xs []T, x T) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// idorFixture is MinerMSP's data that other organisations go after: a
// batch, an open, a reserved and a sold listing, a retirement statement, a
// pending site and meter, an API key and its user.
type idorFixture struct {
	batch                  greenmint.MintResult
	open, reserved, sold   string // listing IDs
	statement              string
	pendingSite, pendingMt string
	minerKeyID, minerUser  string
	webhook                string
	minerHolding           greenmint.Holding
}

func newIDORFixture(t *testing.T, e *gatewayEnv) idorFixture {
	var f idorFixture
	f.batch = e.mintForMiner(greenminttest.Period{Start: greenminttest.DemoWeek.Start, Hours: 48})
	list := func() string {
		var w api.Written[greenmint.Listing]
		e.call("POST", "/v1/listings", e.as("miner"), map[string]any{"batch_id": f.batch.BatchID, "quantity": 10, "price_minor": 100, "currency": "EUR"}, 200, &w)
		return w.Result.ID
	}
	f.open, f.reserved, f.sold = list(), list(), list()
	e.call("POST", "/v1/listings/"+f.reserved+"/reserve", e.as("buyer"), nil, 200, nil)
	e.call("POST", "/v1/listings/"+f.sold+"/reserve", e.as("buyer"), nil, 200, nil)
	e.call("POST", "/v1/listings/"+f.sold+"/confirm", e.as("miner"), nil, 200, nil)
	var st api.Written[greenmint.RetirementStatement]
	e.call("POST", "/v1/retirements", e.as("miner"), map[string]any{"parts": []map[string]any{{"batch_id": f.batch.BatchID, "quantity": 5}},
		"beneficiary": "Miner SA", "jurisdiction": "ES", "purpose": "scope2-market-based", "reporting_year": 2023, "reason": "own use"}, 200, &st)
	f.statement = st.Result.ID
	site, err := simulate.NewSite("SITE0301")
	if err != nil {
		t.Fatal(err)
	}
	reg := site.Registration()
	e.call("POST", "/v1/sites", e.as("miner"), reg.Sites[0], 200, nil)
	e.call("POST", "/v1/meters", e.as("miner"), reg.Meters[0], 200, nil)
	f.pendingSite, f.pendingMt = "SITE0301", reg.Meters[0].MeterID
	f.minerKeyID = e.apiKey("miner", auth.ScopeLedgerRead).ID
	var hook api.WebhookView
	e.call("POST", "/v1/webhooks", e.as("miner"), map[string]any{"url": "https://miner.example/hooks"}, 200, &hook)
	f.webhook = hook.ID
	var me api.UserView
	e.call("GET", "/v1/me", e.as("miner"), nil, 200, &me)
	f.minerUser = me.ID
	e.settle()
	var hs api.List[greenmint.Holding]
	e.call("GET", "/v1/holdings?batch_id="+f.batch.BatchID, e.as("miner"), nil, 200, &hs)
	if len(hs.Items) != 1 || hs.Items[0].Tradable <= 0 {
		t.Fatalf("the miner's holdings %+v", hs.Items)
	}
	f.minerHolding = hs.Items[0]
	return f
}

// TestIDOR has other organisations go after MinerMSP's data through every
// resource: naming it in a list's owner, seller or buyer filter, getting
// its reserved and sold listings, its site's matching, a batch's
// provenance; moving, listing or retiring units of its batch; cancelling,
// confirming or releasing its listings; amending its pending site and
// meter, registering a meter on its site; revoking its API key, changing
// its user's role; reading its webhook, its secret or its deliveries,
// replaying or stopping it; sending readings of its meters with another
// organisation's API key. Each is refused (403, or 404 where the caller's
// own holding does not exist) and nothing changes (the seller may release
// a reservation: the contract lets buyer or seller reopen it): the ledger's height,
// MinerMSP's holding, users and keys, and the oracle's readings. Lists a
// caller may read never show MinerMSP's rows.
func TestIDOR(t *testing.T) {
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) { idor(t, newGatewayEnv(t, db, envOptions{})) })
	}
}

func idor(t *testing.T, e *gatewayEnv) {
	f := newIDORFixture(t, e)
	site := map[string]any{"site_id": f.pendingSite, "name": "taken", "country": "ES", "grid_region": "ES", "latitude_microdeg": 1, "longitude_microdeg": 1,
		"capacity_w": 1000, "fleet": map[string]any{"hashrate_ths": 1, "efficiency_mj_per_th": 1}}
	meter := map[string]any{"meter_id": f.pendingMt, "site_id": f.pendingSite, "kind": "consumption", "capacity_w": 1000, "interval_minutes": 60,
		"public_key": "VKfyq+q58wLL/J0ZNpKZa3Tw05sXxYfF7K2/izLO8/4="}
	newMeter := map[string]any{"meter_id": "SITE0301-EVIL", "site_id": f.pendingSite, "kind": "consumption", "capacity_w": 1000, "interval_minutes": 60,
		"public_key": "VKfyq+q58wLL/J0ZNpKZa3Tw05sXxYfF7K2/izLO8/4="}
	retire := map[string]any{"parts": []map[string]any{{"batch_id": f.batch.BatchID, "quantity": 1}},
		"beneficiary": "Thief Ltd", "jurisdiction": "ES", "purpose": "voluntary-offset", "reporting_year": 2023, "reason": "not mine"}
	m2key := e.apiKey("miner2", auth.Scopes()...).Key
	m2ro := e.apiKey("miner2", auth.ScopeLedgerRead).Key
	week := greenminttest.DemoWeek.Start.Format(time.RFC3339)
	day := greenminttest.DemoWeek.Start.Add(24 * time.Hour).Format(time.RFC3339)

	attacks := []struct {
		name, who    string // who: a seeded login, or "key" for miner2's API key with every scope, "ro" for its ledger:read key
		method, path string
		body         any
		status       int
	}{
		{"holdings of another owner", "miner2", "GET", "/v1/holdings?owner=" + consortium.MinerMSP, nil, 403},
		{"holdings of another owner by API key", "ro", "GET", "/v1/holdings?owner=" + consortium.MinerMSP, nil, 403},
		{"holdings of another owner, buyer", "buyer", "GET", "/v1/holdings?owner=" + consortium.MinerMSP + "&batch_id=" + f.batch.BatchID, nil, 403},
		{"sites of another owner", "miner2", "GET", "/v1/sites?owner=" + consortium.MinerMSP, nil, 403},
		{"meters of another owner", "miner2", "GET", "/v1/meters?owner=" + consortium.MinerMSP, nil, 403},
		{"retirements of another owner", "miner2", "GET", "/v1/retirements?owner=" + consortium.MinerMSP, nil, 403},
		{"retirements of another owner, buyer", "buyer", "GET", "/v1/retirements?owner=" + consortium.MinerMSP, nil, 403},
		{"listings of another seller", "miner2", "GET", "/v1/listings?seller=" + consortium.MinerMSP, nil, 403},
		{"listings of another buyer", "miner2", "GET", "/v1/listings?buyer=" + consortium.BuyerMSP, nil, 403},
		{"reserved listings of others", "miner2", "GET", "/v1/listings?status=reserved", nil, 403},
		{"sold listings of others", "miner2", "GET", "/v1/listings?status=sold", nil, 403},
		{"cancelled listings of others", "ro", "GET", "/v1/listings?status=cancelled", nil, 403},
		{"a reserved listing of others", "miner2", "GET", "/v1/listings/" + f.reserved, nil, 403},
		{"a sold listing of others", "miner2", "GET", "/v1/listings/" + f.sold, nil, 403},
		{"a sold listing of others by API key", "ro", "GET", "/v1/listings/" + f.sold, nil, 403},
		{"another's site matching", "miner2", "GET", "/v1/sites/SITE0042/matching?from=" + week + "&to=" + day, nil, 403},
		{"another's site matching, buyer", "buyer", "GET", "/v1/sites/SITE0042/matching?from=" + week + "&to=" + day, nil, 403},
		{"a batch's provenance", "miner2", "GET", "/v1/batches/" + f.batch.BatchID + "/provenance", nil, 403},
		{"the flags", "buyer", "GET", "/v1/flags?batch_id=" + f.batch.BatchID, nil, 403},

		{"transfer units of a batch not held", "miner2", "POST", "/v1/transfers", map[string]any{"batch_id": f.batch.BatchID, "to": consortium.Miner2MSP, "quantity": 1}, 404},
		{"transfer units of a batch not held, to a third", "miner2", "POST", "/v1/transfers", map[string]any{"batch_id": f.batch.BatchID, "to": consortium.BuyerMSP, "quantity": 1}, 404},
		{"transfer units of a batch not held by API key", "key", "POST", "/v1/transfers", map[string]any{"batch_id": f.batch.BatchID, "to": consortium.Miner2MSP, "quantity": 1}, 404},
		{"list units of a batch not held", "miner2", "POST", "/v1/listings", map[string]any{"batch_id": f.batch.BatchID, "quantity": 1, "price_minor": 1, "currency": "EUR"}, 404},
		{"retire units of a batch not held", "miner2", "POST", "/v1/retirements", retire, 404},
		{"retire units of a batch not held by API key", "key", "POST", "/v1/retirements", retire, 404},
		{"cancel another's listing", "miner2", "POST", "/v1/listings/" + f.open + "/cancel", nil, 403},
		{"cancel another's listing, buyer", "buyer", "POST", "/v1/listings/" + f.reserved + "/cancel", nil, 403},
		{"cancel another's listing by API key", "key", "POST", "/v1/listings/" + f.open + "/cancel", nil, 403},
		{"confirm another seller's listing", "miner2", "POST", "/v1/listings/" + f.reserved + "/confirm", nil, 403},
		{"confirm one's own reservation as the buyer", "buyer", "POST", "/v1/listings/" + f.reserved + "/confirm", nil, 403},
		{"release another's reservation", "miner2", "POST", "/v1/listings/" + f.reserved + "/release", nil, 403},
		{"amend another's pending site", "miner2", "PUT", "/v1/sites/" + f.pendingSite, site, 403},
		{"amend another's pending meter", "miner2", "PUT", "/v1/meters/" + f.pendingMt, meter, 403},
		{"register a meter on another's site", "miner2", "POST", "/v1/meters", newMeter, 403},
		{"revoke another organisation's API key", "miner2", "DELETE", "/v1/api-keys/" + f.minerKeyID, nil, 403},
		{"get another organisation's webhook", "miner2", "GET", "/v1/webhooks/" + f.webhook, nil, 404},
		{"get another organisation's webhook secret", "miner2", "GET", "/v1/webhooks/" + f.webhook + "/secret", nil, 404},
		{"get another organisation's webhook secret, registry", "registrar", "GET", "/v1/webhooks/" + f.webhook + "/secret", nil, 404},
		{"list another organisation's webhook deliveries", "miner2", "GET", "/v1/webhooks/" + f.webhook + "/deliveries", nil, 404},
		{"replay another organisation's webhook delivery", "miner2", "POST", "/v1/webhooks/" + f.webhook + "/deliveries/1/replay", nil, 404},
		{"unsubscribe another organisation's webhook", "miner2", "DELETE", "/v1/webhooks/" + f.webhook, nil, 404},
		{"set the role of another organisation's user", "miner2", "PUT", "/v1/users/" + f.minerUser + "/role", map[string]any{"role": "buyer", "admin": false}, 403},
	}
	before := e.state()
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			e.t = t
			tok := e.as(a.who)
			switch a.who {
			case "key":
				tok = m2key
			case "ro":
				tok = m2ro
			}
			code := map[int]string{403: greenmint.EFORBIDDEN, 404: greenmint.ENOTFOUND}[a.status]
			e.problem(e.do(a.method, a.path, tok, a.body), a.status, code)
		})
	}
	e.t = t
	e.unchanged(before, "another organisation's requests")
	var hs api.List[greenmint.Holding]
	e.call("GET", "/v1/holdings?batch_id="+f.batch.BatchID, e.as("miner"), nil, 200, &hs)
	if len(hs.Items) != 1 || hs.Items[0] != f.minerHolding {
		t.Fatalf("the miner's holding is %+v, was %+v", hs.Items, f.minerHolding)
	}
	var l greenmint.Listing
	e.call("GET", "/v1/listings/"+f.reserved, e.as("miner"), nil, 200, &l)
	if l.Status != greenmint.ListingReserved || l.Buyer != consortium.BuyerMSP {
		t.Fatalf("the reserved listing is %+v", l)
	}

	// Lists another organisation may read show none of MinerMSP's rows.
	for _, who := range []string{"miner2", "buyer", "oracle"} {
		for _, path := range []string{"/v1/holdings", "/v1/sites", "/v1/meters", "/v1/retirements", "/v1/listings?seller=me", "/v1/listings?buyer=me&status=sold"} {
			r := e.call("GET", path, e.as(who), nil, 200, nil)
			if strings.Contains(string(r.Body), consortium.MinerMSP+`"`) && !(who == "buyer" && strings.Contains(path, "buyer=me")) {
				t.Errorf("GET %s as %s shows MinerMSP's data: %s", path, who, r.Body)
			}
		}
		var users api.List[api.UserView]
		e.call("GET", "/v1/users", e.as(who), nil, 200, &users)
		for _, u := range users.Items {
			if u.Org != orgOf(who) {
				t.Errorf("GET /v1/users as %s lists %+v", who, u)
			}
		}
		var hooks api.List[api.WebhookView]
		e.call("GET", "/v1/webhooks", e.as(who), nil, 200, &hooks)
		for _, h := range hooks.Items {
			if h.Org != orgOf(who) || h.ID == f.webhook || h.Secret != "" {
				t.Errorf("GET /v1/webhooks as %s lists %+v", who, h)
			}
		}
		var keys api.List[api.APIKeyView]
		e.call("GET", "/v1/api-keys", e.as(who), nil, 200, &keys)
		for _, k := range keys.Items {
			if k.Org != orgOf(who) {
				t.Errorf("GET /v1/api-keys as %s lists %+v", who, k)
			}
		}
	}
	// The event streams of another organisation and of the public carry
	// none of MinerMSP's listings, holdings or transactions but what is
	// public (mints and retirements).
	for _, who := range []string{"miner2", "buyer", ""} {
		path := "/v1/events?after=0-0"
		if who == "" {
			path = "/v1/public/events?after=0-0"
		}
		evs := readEvents(t, e, path, e.as(who))
		if len(evs) == 0 {
			t.Fatalf("%s's event stream sent nothing", path)
		}
		for _, ev := range evs {
			if ev.Creator == consortium.MinerMSP && ev.Type != greenmint.TxMint && ev.Type != greenmint.TxRetire && !(who == "buyer" && ev.Type == greenmint.TxConfirmPayment) {
				t.Errorf("%s as %q sent MinerMSP's %+v", path, who, ev)
			}
			for _, o := range ev.Objects {
				if strings.Contains(o, consortium.MinerMSP) || strings.HasPrefix(o, "listing/") && who != "buyer" {
					t.Errorf("%s as %q sent MinerMSP's object %s of %+v", path, who, o, ev)
				}
			}
		}
	}

	// The open listing is the market's: anyone signed in reads it.
	e.call("GET", "/v1/listings/"+f.open, e.as("miner2"), nil, 200, nil)

	// Readings of MinerMSP's meters sent with Miner2MSP's collector key:
	// each is rejected "forbidden" beside the others, and none is stored.
	collector := e.apiKey("miner2", auth.ScopeReadingsWrite).Key
	readings, err := e.net.Site.Readings(greenminttest.Period{Start: greenminttest.DemoWeek.Start, Hours: 3})
	if err != nil {
		t.Fatal(err)
	}
	var sum oracle.Summary
	e.call("POST", "/v1/readings", collector, readings, 200, &sum)
	if sum.Accepted != 0 || sum.Rejected != len(readings) || len(sum.Results) != len(readings) {
		t.Fatalf("another organisation's readings: %+v", sum)
	}
	for i, r := range sum.Results {
		if r.Outcome != oracle.Rejected || r.Reason != "forbidden" || r.Index != i {
			t.Fatalf("result %d = %+v, want rejected forbidden", i, r)
		}
	}
	if n, err := e.net.DB.CountReadings(context.Background()); err != nil || n != 0 {
		t.Fatalf("the oracle stored %d readings (%v) of another organisation's meters", n, err)
	}
	// The owner's collector sends the same readings: accepted.
	own := e.apiKey("miner", auth.ScopeReadingsWrite).Key
	e.call("POST", "/v1/readings", own, readings, 200, &sum)
	if sum.Accepted != len(readings) {
		raw, _ := json.Marshal(sum)
		t.Fatalf("the owner's readings: %s", raw)
	}
}

// readEvents reads an event stream for a second and returns its ledger
// events.
func readEvents(t *testing.T, e *gatewayEnv, path, tok string) []api.LedgerEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", e.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("GET %s = %d", path, res.StatusCode)
	}
	var out []api.LedgerEvent
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:") && event == "ledger":
			var ev api.LedgerEvent
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data:")), &ev); err != nil {
				t.Fatalf("event %q: %v", line, err)
			}
			out = append(out, ev)
		}
	}
	return out
}
