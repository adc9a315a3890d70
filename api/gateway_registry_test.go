package api_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/api"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/oracle"
)

// TestRegistryOperations runs each of the registry's operations over HTTP
// as the registry's user and checks the ledger's answer: admissions and a
// role taken back, an oracle key registered and revoked, the policy, a
// dataset from CSV, units cancelled, a batch withdrawn and reissued with a
// corrected attestation (carrying what was retired).
func TestRegistryOperations(t *testing.T) {
	e := newGatewayEnv(t, greenminttest.StoreDBs(t)["sqlite"], envOptions{})
	reg := e.as("registrar")

	var adm api.Written[greenmint.Admission]
	e.call("POST", "/v1/organisations/"+consortium.Miner2MSP+"/roles", reg, map[string]any{"roles": []string{"buyer"}}, 200, &adm)
	if !hasRole(adm.Result.Roles, greenmint.RoleBuyer) || !hasRole(adm.Result.Roles, greenmint.RoleMiner) {
		t.Fatalf("admission %+v", adm.Result)
	}
	e.call("POST", "/v1/organisations/"+consortium.Miner2MSP+"/revocations", reg, map[string]any{"role": "buyer", "reason": "trial ended"}, 200, &adm)
	if hasRole(adm.Result.Roles, greenmint.RoleBuyer) || len(adm.Result.Revocations) != 1 {
		t.Fatalf("after the revocation %+v", adm.Result)
	}
	e.waitVisible(adm.TxID)
	var orgs api.List[greenmint.Admission]
	e.call("GET", "/v1/organisations?role=buyer", reg, nil, 200, &orgs)
	for _, o := range orgs.Items {
		if o.MSPID == consortium.Miner2MSP {
			t.Fatalf("%s is listed as a buyer after the revocation", o.MSPID)
		}
	}
	if len(orgs.Items) == 0 {
		t.Fatal("no buyer organisation listed")
	}

	pub, _, _ := ed25519.GenerateKey(nil)
	var o api.Written[greenmint.OracleRegistration]
	e.call("POST", "/v1/oracles", reg, map[string]any{"oracle_id": "oracle-c", "msp_id": consortium.OracleBMSP, "public_key": base64.StdEncoding.EncodeToString(pub)}, 200, &o)
	e.call("POST", "/v1/oracles/oracle-c/revoke", reg, map[string]any{"reason": "key rotated"}, 200, &o)
	if o.Result.Status != greenmint.OracleRevoked {
		t.Fatalf("revoked oracle %+v", o.Result)
	}
	var oracles api.List[greenmint.OracleRegistration]
	e.call("GET", "/v1/oracles", e.as("auditor"), nil, 200, &oracles)
	if len(oracles.Items) != 3 {
		t.Fatalf("%d oracles listed, want 3", len(oracles.Items))
	}
	// Lists held whole page like the others: two, then the last by Link.
	r := e.call("GET", "/v1/oracles?limit=2", e.as("auditor"), nil, 200, &oracles)
	link := r.Header.Get("Link")
	if len(oracles.Items) != 2 || oracles.NextCursor == "" || !strings.HasSuffix(link, `>; rel="next"`) {
		t.Fatalf("first page %d items, cursor %q, Link %q", len(oracles.Items), oracles.NextCursor, link)
	}
	var last api.List[greenmint.OracleRegistration]
	e.call("GET", link[1:strings.Index(link, ">")], e.as("auditor"), nil, 200, &last)
	if len(last.Items) != 1 || last.NextCursor != "" || last.Items[0].ID == oracles.Items[0].ID || last.Items[0].ID == oracles.Items[1].ID {
		t.Fatalf("last page %+v after %+v", last, oracles)
	}

	var pol api.Written[greenmint.Policy]
	e.call("PUT", "/v1/policy", reg, map[string]any{"threshold": 2, "tolerance_bp": 600}, 200, &pol)
	var got greenmint.Policy
	e.call("GET", "/v1/policy", e.as("miner"), nil, 200, &got)
	if got.ToleranceBP != 600 || got.Threshold != 2 {
		t.Fatalf("policy %+v", got)
	}

	var pin api.Written[greenmint.DatasetPin]
	e.call("POST", "/v1/datasets", reg, map[string]any{"id": "TEST-GRID", "version": "2026.1", "source": "test", "license": "CC-BY-4.0",
		"grid_factors_csv": oracle.GridFactorsHeader + "\nES,209,329.5\nDE,313,523\n"}, 200, &pin)
	if pin.Result.ID != "TEST-GRID" || len(pin.Result.SHA256) != 64 {
		t.Fatalf("dataset pin %+v", pin.Result)
	}
	bad := e.do("POST", "/v1/datasets", reg, map[string]any{"id": "BAD", "version": "1", "grid_factors_csv": "region,nothing\nES,x\n"})
	e.problem(bad, 400, greenmint.EINVALID)

	// A batch minted to the miner: some units cancelled, some retired,
	// then withdrawn and reissued from a corrected attestation.
	ctx := context.Background()
	sa, err := e.net.Attest(e.net.Site, greenmint.CO2E, greenminttest.DemoWeek, greenminttest.OracleAID, greenminttest.OracleBID)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.net.Mint(ctx, sa)
	if err != nil {
		t.Fatal(err)
	}
	var c api.Written[greenmint.Cancellation]
	e.call("POST", "/v1/batches/"+res.BatchID+"/cancellations", reg, map[string]any{"owner": consortium.MinerMSP, "quantity": 1000, "reason": "double counted with a national registry"}, 200, &c)
	e.call("POST", "/v1/retirements", e.as("miner"), map[string]any{"parts": []map[string]any{{"batch_id": res.BatchID, "quantity": 500}},
		"beneficiary": "Miner itself", "jurisdiction": "ES", "purpose": "other", "reporting_year": 2023, "reason": "own use"}, 200, nil)
	var wd api.Written[greenmint.Batch]
	e.call("POST", "/v1/batches/"+res.BatchID+"/withdrawal", reg, map[string]any{"reason": "meter mis-scaled"}, 200, &wd)
	if wd.Result.Status != greenmint.BatchWithdrawn {
		t.Fatalf("withdrawn batch %+v", wd.Result)
	}
	s := *e.net.Site
	s.LoadW = s.LoadW * 99 / 100
	corrected, err := e.net.Attest(&s, greenmint.CO2E, greenminttest.DemoWeek, greenminttest.OracleAID, greenminttest.OracleBID)
	if err != nil {
		t.Fatal(err)
	}
	var re api.Written[greenmint.MintResult]
	e.call("POST", "/v1/batches/"+res.BatchID+"/reissue", reg, map[string]any{"attestation": corrected}, 200, &re)
	var nb greenmint.Batch
	e.call("GET", "/v1/batches/"+re.Result.BatchID, e.as("auditor"), nil, 200, &nb)
	if nb.Replaces != res.BatchID || nb.CarriedRetired != 500 || nb.Issued != corrected.Attestation.Quantity-500 {
		t.Fatalf("reissued batch %+v", nb)
	}
	// The public verification of the reissue accounts for what it carries.
	e.waitVisible(re.TxID)
	var v api.BatchVerification
	e.call("GET", "/v1/public/batches/"+re.Result.BatchID, "", nil, 200, &v)
	if !v.Checks.Verified {
		t.Fatalf("the reissued batch does not verify: %+v", v.Checks)
	}
}

func hasRole(rs []greenmint.Role, r greenmint.Role) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}
