package chaincode_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/chaincode"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/ledger/embedded"
)

// selfIssued has organisation msp's own CA issue an identity with any role:
// what every organisation can do, since each runs its own CA.
func (w *world) selfIssued(tb testing.TB, msp, user string, role greenmint.Role) *greenmint.Identity {
	tb.Helper()
	e, err := w.c.Store.Enroll(msp, user, role)
	if err != nil {
		tb.Fatal(err)
	}
	return e.Identity()
}

func (w *world) evaluate(id *greenmint.Identity, fn string, req, resp any) error {
	return greenmint.EvaluateJSON(context.Background(), w.Ledger, id, fn, req, resp)
}

func (w *world) retireOne(tb testing.TB, id *greenmint.Identity, batchID string) error {
	tb.Helper()
	return w.call(id, greenmint.TxRetire, greenmint.RetireRequest{Parts: []greenmint.RetirePart{{BatchID: batchID, Quantity: 1}},
		Beneficiary: "b", Jurisdiction: "ES", Purpose: greenmint.PurposeOther, ReportingYear: 2023}, nil)
}

// TestSelfIssuedAuditor: another miner's CA issues itself an auditor
// certificate. It reads none of a competitor's holdings and cannot freeze
// its batch; the owner still retires.
func TestSelfIssuedAuditor(t *testing.T) {
	w := newWorld(t)
	res := w.mintWeek(t, greenmint.EAC)
	rogue := w.selfIssued(t, consortium.Miner2MSP, "rogue-auditor", greenmint.RoleAuditor)
	reads := []struct {
		fn  string
		req any
	}{
		{greenmint.QueryHoldingsByOwner, greenmint.PageQuery{Owner: w.Miner.MSPID}},
		{greenmint.QueryBatchHolders, greenmint.PageQuery{BatchID: res.BatchID}},
		{greenmint.QueryHoldingHistory, greenmint.HoldingQuery{BatchID: res.BatchID, Owner: w.Miner.MSPID}},
		{greenmint.QueryGetAccount, greenmint.IDQuery{ID: w.Miner.MSPID}},
		{greenmint.QueryListFlags, greenmint.IDQuery{ID: res.BatchID}},
	}
	for _, r := range reads {
		var out any
		err := w.evaluate(rogue, r.fn, r.req, &out)
		if greenmint.ErrorCode(err) != greenmint.EFORBIDDEN {
			t.Errorf("%s as a self-issued auditor = %v (%v), want forbidden", r.fn, out, err)
		}
	}
	for i := 0; i < 3; i++ {
		wantCode(t, w.call(rogue, greenmint.TxFlagBatch, greenmint.FlagRequest{BatchID: res.BatchID, Reason: "competitor"}, nil), greenmint.EFORBIDDEN)
	}
	if b := w.batch(t, res.BatchID); b.OpenFlags != 0 {
		t.Fatalf("open flags = %d, want 0", b.OpenFlags)
	}
	if err := w.retireOne(t, w.Miner, res.BatchID); err != nil {
		t.Fatalf("the owner cannot retire: %v", err)
	}
	if w.committedOnError {
		t.Fatal("a refused call committed a block")
	}
}

// TestSelfIssuedRegistry: a buyer's CA issues itself a registry
// certificate. It lists no batch's holders and acts as the registry in
// nothing, admitting itself included.
func TestSelfIssuedRegistry(t *testing.T) {
	w := newWorld(t)
	res := w.mintWeek(t, greenmint.EAC)
	rogue := w.selfIssued(t, consortium.BuyerMSP, "rogue-registrar", greenmint.RoleRegistry)
	var page greenmint.HoldingsPage
	wantCode(t, w.evaluate(rogue, greenmint.QueryBatchHolders, greenmint.PageQuery{BatchID: res.BatchID}, &page), greenmint.EFORBIDDEN)
	wantCode(t, w.evaluate(rogue, greenmint.QueryHoldingsByOwner, greenmint.PageQuery{Owner: w.Miner.MSPID}, &page), greenmint.EFORBIDDEN)
	writes := []struct {
		fn  string
		req any
	}{
		{greenmint.TxAdmitOrganization, greenmint.AdmitOrganizationRequest{MSPID: consortium.BuyerMSP, Roles: []greenmint.Role{greenmint.RoleAuditor}}},
		{greenmint.TxRevokeOrganizationRole, greenmint.RevokeOrganizationRoleRequest{MSPID: consortium.AuditorMSP, Role: greenmint.RoleAuditor, Reason: "x"}},
		{greenmint.TxSetPolicy, greenmint.PolicyRequest{Threshold: 1}},
		{greenmint.TxCancelUnits, greenmint.CancelUnitsRequest{BatchID: res.BatchID, Owner: w.Miner.MSPID, Quantity: 1, Reason: "x"}},
	}
	for _, c := range writes {
		if err := w.call(rogue, c.fn, c.req, nil); greenmint.ErrorCode(err) != greenmint.EFORBIDDEN {
			t.Errorf("%s as a self-issued registry = %v, want forbidden", c.fn, err)
		}
	}
	w.query(t, w.Registry, greenmint.QueryBatchHolders, greenmint.PageQuery{BatchID: res.BatchID}, &page)
	if len(page.Holdings) != 1 {
		t.Fatalf("the registry sees holders %+v", page.Holdings)
	}
	if w.committedOnError {
		t.Fatal("a refused call committed a block")
	}
}

// TestBootstrapIsFixedAtDeployment: on a fresh ledger a miner's registry
// certificate cannot bootstrap it first; the configured registry can; a
// contract deployed without a registry refuses Bootstrap to everyone.
func TestBootstrapIsFixedAtDeployment(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l, c, err := greenminttest.CreateEmbedded(dir, embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e, err := c.Store.Enroll(consortium.MinerMSP, "rogue", greenmint.RoleRegistry)
	if err != nil {
		t.Fatal(err)
	}
	_, err = greenmint.SubmitJSON(ctx, l, e.Identity(), greenmint.TxBootstrap, greenmint.PolicyRequest{Threshold: 1}, nil)
	wantCode(t, err, greenmint.EFORBIDDEN)
	registry := c.MustIdentity(consortium.RegistryMSP, "registrar")
	var p greenmint.Policy
	wantCode(t, greenmint.EvaluateJSON(ctx, l, registry, greenmint.QueryGetPolicy, struct{}{}, &p), greenmint.ECONFLICT) // still not bootstrapped
	if _, err := greenmint.SubmitJSON(ctx, l, registry, greenmint.TxBootstrap, greenmint.PolicyRequest{Threshold: 2}, &p); err != nil {
		t.Fatal(err)
	}
	if p.RegistryMSP != consortium.RegistryMSP {
		t.Fatalf("registry = %s, want %s", p.RegistryMSP, consortium.RegistryMSP)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	t.Run("unconfigured contract", func(t *testing.T) {
		dir := t.TempDir()
		l, c, err := greenminttest.CreateEmbedded(dir, embedded.Options{})
		if err != nil {
			t.Fatal(err)
		}
		l.Close()
		cc, err := chaincode.New(chaincode.Config{})
		if err != nil {
			t.Fatal(err)
		}
		l, err = embedded.Open(filepath.Join(dir, "ledger"), cc, embedded.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		_, err = greenmint.SubmitJSON(ctx, l, c.MustIdentity(consortium.RegistryMSP, "registrar"), greenmint.TxBootstrap, greenmint.PolicyRequest{Threshold: 2}, nil)
		wantCode(t, err, greenmint.EFORBIDDEN)
		if !strings.Contains(err.Error(), "GREENMINT_REGISTRY_MSP") {
			t.Fatalf("refusal %q does not say how to configure the registry", err)
		}
	})
	t.Run("malformed configuration", func(t *testing.T) {
		_, err := chaincode.New(chaincode.Config{RegistryMSP: "Registry MSP"})
		wantCode(t, err, greenmint.EINVALID)
	})
}

// TestSelfIssuedOracle: a miner's CA issues itself an oracle certificate.
// It cannot submit a mint, the registry cannot register an oracle key for
// an organisation not admitted as an oracle operator, and once an
// operator's role is revoked its keys' co-signatures no longer count.
func TestSelfIssuedOracle(t *testing.T) {
	w := newWorld(t)
	sa := w.signedWeek(t, greenmint.EAC)
	rogue := w.selfIssued(t, consortium.MinerMSP, "rogue-oracle", greenmint.RoleOracle)
	wantCode(t, w.mintAs(rogue, sa), greenmint.EFORBIDDEN)

	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, w.call(w.Registry, greenmint.TxRegisterOracle, greenmint.RegisterOracleRequest{OracleID: "rogue", MSPID: consortium.MinerMSP, PublicKey: pub}, nil), greenmint.ECONFLICT)

	w.mustCall(t, w.Registry, greenmint.TxRevokeOrganizationRole, greenmint.RevokeOrganizationRoleRequest{MSPID: consortium.OracleBMSP, Role: greenmint.RoleOracle, Reason: "operator contract ended"}, nil)
	err = w.mintAs(w.OracleA, sa)
	wantCode(t, err, greenmint.EFORBIDDEN)
	if !strings.Contains(err.Error(), greenminttest.OracleBID) {
		t.Fatalf("refusal %q does not name the voided oracle", err)
	}
	wantCode(t, w.mintAs(w.OracleB, sa), greenmint.EFORBIDDEN)
	if w.committedOnError {
		t.Fatal("a refused call committed a block")
	}

	w.mustCall(t, w.Registry, greenmint.TxAdmitOrganization, greenmint.AdmitOrganizationRequest{MSPID: consortium.OracleBMSP, Roles: []greenmint.Role{greenmint.RoleOracle}}, nil)
	if err := w.mintAs(w.OracleA, sa); err != nil {
		t.Fatalf("mint after the operator's readmission: %v", err)
	}
}

// TestRevokedAuditorCannotFlag: once the registry revokes an auditor
// organisation, its auditors neither flag nor read others' holdings.
func TestRevokedAuditorCannotFlag(t *testing.T) {
	w := newWorld(t)
	res := w.mintWeek(t, greenmint.EAC)
	var a greenmint.Admission
	w.mustCall(t, w.Registry, greenmint.TxRevokeOrganizationRole, greenmint.RevokeOrganizationRoleRequest{MSPID: consortium.AuditorMSP, Role: greenmint.RoleAuditor, Reason: "accreditation withdrawn"}, &a)
	if len(a.Roles) != 0 || len(a.Revocations) != 1 || a.Revocations[0].Reason != "accreditation withdrawn" {
		t.Fatalf("admission after revocation = %+v", a)
	}
	wantCode(t, w.call(w.Auditor, greenmint.TxFlagBatch, greenmint.FlagRequest{BatchID: res.BatchID, Reason: "x"}, nil), greenmint.EFORBIDDEN)
	wantCode(t, w.evaluate(w.Auditor, greenmint.QueryHoldingsByOwner, greenmint.PageQuery{Owner: w.Miner.MSPID}, new(greenmint.HoldingsPage)), greenmint.EFORBIDDEN)
	var b greenmint.Batch
	w.query(t, w.Registry, greenmint.QueryGetBatch, greenmint.IDQuery{ID: res.BatchID}, &b)
	if b.OpenFlags != 0 {
		t.Fatalf("open flags = %d", b.OpenFlags)
	}
	var pub greenmint.Admission
	w.query(t, w.Buyer, greenmint.QueryGetOrganization, greenmint.IDQuery{ID: consortium.AuditorMSP}, &pub)
	if pub.Has(greenmint.RoleAuditor) || len(pub.Revocations) != 1 {
		t.Fatalf("public admission record = %+v", pub)
	}
	wantCode(t, w.call(w.Registry, greenmint.TxRevokeOrganizationRole, greenmint.RevokeOrganizationRoleRequest{MSPID: consortium.AuditorMSP, Role: greenmint.RoleAuditor, Reason: "again"}, nil), greenmint.ECONFLICT)
}

// TestOneOpenFlagPerAuditorOrganisation: an auditor organisation keeps at
// most one open flag per batch, whichever of its auditors opens it.
func TestOneOpenFlagPerAuditorOrganisation(t *testing.T) {
	w := newWorld(t)
	res := w.mintWeek(t, greenmint.EAC)
	var first greenmint.Flag
	w.mustCall(t, w.Auditor, greenmint.TxFlagBatch, greenmint.FlagRequest{BatchID: res.BatchID, Reason: "meter seal"}, &first)
	wantCode(t, w.call(w.Auditor, greenmint.TxFlagBatch, greenmint.FlagRequest{BatchID: res.BatchID, Reason: "again"}, nil), greenmint.ECONFLICT)
	colleague := w.selfIssued(t, consortium.AuditorMSP, "auditor2", greenmint.RoleAuditor)
	wantCode(t, w.call(colleague, greenmint.TxFlagBatch, greenmint.FlagRequest{BatchID: res.BatchID, Reason: "again"}, nil), greenmint.ECONFLICT)
	if b := w.batch(t, res.BatchID); b.OpenFlags != 1 {
		t.Fatalf("open flags = %d, want 1", b.OpenFlags)
	}
	w.mustCall(t, w.Registry, greenmint.TxResolveFlag, greenmint.ResolveFlagRequest{BatchID: res.BatchID, FlagID: first.ID, Outcome: greenmint.FlagDismissed, Resolution: "seal intact"}, nil)
	w.mustCall(t, colleague, greenmint.TxFlagBatch, greenmint.FlagRequest{BatchID: res.BatchID, Reason: "new evidence"}, nil)
	if w.committedOnError {
		t.Fatal("a refused call committed a block")
	}
}

// TestReadRule reaches one organisation's data through every query that
// returns it, as that organisation, the registry, an admitted auditor,
// another admitted member and a self-issued auditor; and checks that
// public-verification data stays public.
func TestReadRule(t *testing.T) {
	w := newWorld(t)
	res := w.mintWeek(t, greenmint.EAC)
	w.mustCall(t, w.Buyer, greenmint.TxOpenAccount, greenmint.OpenAccountRequest{}, nil)
	w.mustCall(t, w.Miner, greenmint.TxTransfer, greenmint.TransferRequest{BatchID: res.BatchID, To: w.Buyer.MSPID, Quantity: 5}, nil)
	var reserved, open greenmint.Listing
	w.mustCall(t, w.Miner, greenmint.TxListForSale, greenmint.ListRequest{BatchID: res.BatchID, Quantity: 10, PriceMinor: 100, Currency: "EUR"}, &reserved)
	w.mustCall(t, w.Buyer, greenmint.TxReserveListing, greenmint.ListingRequest{ListingID: reserved.ID}, nil)
	w.mustCall(t, w.Miner, greenmint.TxListForSale, greenmint.ListRequest{BatchID: res.BatchID, Quantity: 10, PriceMinor: 100, Currency: "EUR"}, &open)
	var stmt greenmint.RetirementStatement
	w.mustCall(t, w.Miner, greenmint.TxRetire, greenmint.RetireRequest{Parts: []greenmint.RetirePart{{BatchID: res.BatchID, Quantity: 1}},
		Beneficiary: "b", Jurisdiction: "ES", Purpose: greenmint.PurposeOther, ReportingYear: 2023}, &stmt)
	w.mustCall(t, w.Auditor, greenmint.TxFlagBatch, greenmint.FlagRequest{BatchID: res.BatchID, Reason: "x"}, nil)
	rogue := w.selfIssued(t, consortium.Miner2MSP, "rogue-auditor", greenmint.RoleAuditor)

	type who struct {
		name string
		id   *greenmint.Identity
	}
	owner, registry, auditor := who{"owner", w.Miner}, who{"registry", w.Registry}, who{"auditor", w.Auditor}
	other, buyer, selfIssued := who{"another miner", w.Miner2}, who{"buyer", w.Buyer}, who{"self-issued auditor", rogue}
	tests := []struct {
		name    string
		fn      string
		req     any
		allowed []who
		refused []who
	}{
		{"account", greenmint.QueryGetAccount, greenmint.IDQuery{ID: w.Miner.MSPID}, []who{owner, registry, auditor}, []who{other, buyer, selfIssued}},
		{"holdings", greenmint.QueryHoldingsByOwner, greenmint.PageQuery{Owner: w.Miner.MSPID}, []who{owner, registry, auditor}, []who{other, buyer, selfIssued}},
		{"holding history", greenmint.QueryHoldingHistory, greenmint.HoldingQuery{BatchID: res.BatchID, Owner: w.Miner.MSPID}, []who{owner, registry, auditor}, []who{other, buyer, selfIssued}},
		{"batch holders", greenmint.QueryBatchHolders, greenmint.PageQuery{BatchID: res.BatchID}, []who{registry, auditor}, []who{owner, other, buyer, selfIssued}},
		{"flags", greenmint.QueryListFlags, greenmint.IDQuery{ID: res.BatchID}, []who{owner, buyer, registry, auditor}, []who{other, selfIssued}},
		{"reserved listing", greenmint.QueryGetListing, greenmint.IDQuery{ID: reserved.ID}, []who{owner, buyer, registry, auditor}, []who{other, selfIssued}},
		{"open listing", greenmint.QueryGetListing, greenmint.IDQuery{ID: open.ID}, []who{owner, other, buyer, registry, auditor}, []who{selfIssued}},
		// Public-verification data: any channel identity, whatever its role.
		{"batch", greenmint.QueryGetBatch, greenmint.IDQuery{ID: res.BatchID}, []who{owner, other, selfIssued}, nil},
		{"batch history", greenmint.QueryBatchHistory, greenmint.IDQuery{ID: res.BatchID}, []who{other, selfIssued}, nil},
		{"attestation", greenmint.QueryGetAttestation, greenmint.IDQuery{ID: res.AttestationID}, []who{other, selfIssued}, nil},
		{"retirement", greenmint.QueryGetRetirement, greenmint.IDQuery{ID: stmt.ID}, []who{other, selfIssued}, nil},
		{"site", greenmint.QueryGetSite, greenmint.IDQuery{ID: w.site.ID}, []who{other, selfIssued}, nil},
		{"site meters", greenmint.QuerySiteMeters, greenmint.IDQuery{ID: w.site.ID}, []who{other, selfIssued}, nil},
		{"organisations", greenmint.QueryListOrganizations, struct{}{}, []who{other, selfIssued}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, c := range tc.allowed {
				var out any
				if err := w.evaluate(c.id, tc.fn, tc.req, &out); err != nil {
					t.Errorf("%s(%v) as %s = %v, want an answer", tc.fn, tc.req, c.name, err)
				}
			}
			for _, c := range tc.refused {
				var out any
				if err := w.evaluate(c.id, tc.fn, tc.req, &out); greenmint.ErrorCode(err) != greenmint.EFORBIDDEN {
					t.Errorf("%s(%v) as %s = %v (%v), want forbidden", tc.fn, tc.req, c.name, out, err)
				}
			}
		})
	}
}

// TestAdmissions checks the admission record and its transactions: what
// the demo seeds, what the registry may and may not admit, and that a
// revoked member no longer transacts.
func TestAdmissions(t *testing.T) {
	w := newWorld(t)
	var orgs []greenmint.Admission
	w.query(t, w.Buyer, greenmint.QueryListOrganizations, struct{}{}, &orgs)
	got := map[string]string{}
	for _, o := range orgs {
		got[o.MSPID] = strings.Join(rolesOf(o), ",")
	}
	want := map[string]string{
		consortium.AuditorMSP: "auditor", consortium.BuyerMSP: "buyer", consortium.MinerMSP: "miner",
		consortium.Miner2MSP: "miner", consortium.OracleAMSP: "oracle", consortium.OracleBMSP: "oracle",
	}
	if len(got) != len(want) {
		t.Fatalf("admissions = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("admissions = %v, want %v", got, want)
		}
	}

	admit := func(msp string, roles ...greenmint.Role) greenmint.AdmitOrganizationRequest {
		return greenmint.AdmitOrganizationRequest{MSPID: msp, Roles: roles}
	}
	tests := []struct {
		name string
		id   *greenmint.Identity
		fn   string
		req  any
		code string
	}{
		{"registry role", w.Registry, greenmint.TxAdmitOrganization, admit(consortium.BuyerMSP, greenmint.RoleRegistry), greenmint.EINVALID},
		{"unknown role", w.Registry, greenmint.TxAdmitOrganization, admit(consortium.BuyerMSP, "trader"), greenmint.EINVALID},
		{"no role", w.Registry, greenmint.TxAdmitOrganization, admit(consortium.BuyerMSP), greenmint.EINVALID},
		{"role twice", w.Registry, greenmint.TxAdmitOrganization, admit(consortium.BuyerMSP, greenmint.RoleAuditor, greenmint.RoleAuditor), greenmint.EINVALID},
		{"malformed MSP", w.Registry, greenmint.TxAdmitOrganization, admit("Buyer MSP", greenmint.RoleBuyer), greenmint.EINVALID},
		{"already admitted", w.Registry, greenmint.TxAdmitOrganization, admit(consortium.BuyerMSP, greenmint.RoleBuyer), greenmint.ECONFLICT},
		{"by a miner", w.Miner, greenmint.TxAdmitOrganization, admit(consortium.MinerMSP, greenmint.RoleAuditor), greenmint.EFORBIDDEN},
		{"by an auditor", w.Auditor, greenmint.TxRevokeOrganizationRole, greenmint.RevokeOrganizationRoleRequest{MSPID: consortium.MinerMSP, Role: greenmint.RoleMiner, Reason: "x"}, greenmint.EFORBIDDEN},
		{"revoke without reason", w.Registry, greenmint.TxRevokeOrganizationRole, greenmint.RevokeOrganizationRoleRequest{MSPID: consortium.MinerMSP, Role: greenmint.RoleMiner}, greenmint.EINVALID},
		{"revoke a role not held", w.Registry, greenmint.TxRevokeOrganizationRole, greenmint.RevokeOrganizationRoleRequest{MSPID: consortium.MinerMSP, Role: greenmint.RoleAuditor, Reason: "x"}, greenmint.ECONFLICT},
		{"revoke from an unknown organisation", w.Registry, greenmint.TxRevokeOrganizationRole, greenmint.RevokeOrganizationRoleRequest{MSPID: "NobodyMSP", Role: greenmint.RoleMiner, Reason: "x"}, greenmint.ENOTFOUND},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, w.call(tc.id, tc.fn, tc.req, nil), tc.code)
			if w.committedOnError {
				t.Fatal("a refused call committed a block")
			}
		})
	}

	var a greenmint.Admission
	w.mustCall(t, w.Registry, greenmint.TxAdmitOrganization, admit(consortium.BuyerMSP, greenmint.RoleMiner, greenmint.RoleBuyer), &a)
	if len(a.Roles) != 2 || a.Roles[0] != greenmint.RoleBuyer || a.Roles[1] != greenmint.RoleMiner {
		t.Fatalf("roles after a second admission = %v, want [buyer miner]", a.Roles)
	}
	w.mustCall(t, w.Registry, greenmint.TxRevokeOrganizationRole, greenmint.RevokeOrganizationRoleRequest{MSPID: consortium.Miner2MSP, Role: greenmint.RoleMiner, Reason: "left the consortium"}, nil)
	wantCode(t, w.call(w.Miner2, greenmint.TxOpenAccount, greenmint.OpenAccountRequest{}, nil), greenmint.EFORBIDDEN)
	wantCode(t, w.call(w.Miner2, greenmint.TxRegisterSite, greenmint.RegisterSiteRequest{SiteID: "SITE0100", Name: "x", Country: "ES", GridRegion: "ES", CapacityW: 1}, nil), greenmint.EFORBIDDEN)
}

func rolesOf(a greenmint.Admission) []string {
	out := make([]string, len(a.Roles))
	for i, r := range a.Roles {
		out[i] = string(r)
	}
	return out
}

// A transfer's answer shows the sender its own holding only. Before, it
// returned the receiver's holding too: anyone holding a unit of a batch
// could read a competitor's balance in it by sending it one unit, which
// HoldingsByOwner refuses (R11).
func TestTransferShowsOnlyTheSendersHolding(t *testing.T) {
	w := newWorld(t)
	res := w.mintWeek(t, greenmint.EAC)
	w.mustCall(t, w.Buyer, greenmint.TxOpenAccount, greenmint.OpenAccountRequest{}, nil)
	w.mustCall(t, w.Miner, greenmint.TxTransfer, greenmint.TransferRequest{BatchID: res.BatchID, To: w.Buyer.MSPID, Quantity: 5}, nil)
	var raw json.RawMessage
	w.mustCall(t, w.Buyer, greenmint.TxTransfer, greenmint.TransferRequest{BatchID: res.BatchID, To: w.Miner.MSPID, Quantity: 1}, &raw)
	var h greenmint.Holding
	if err := greenmint.DecodeStrict(raw, &h); err != nil {
		t.Fatalf("Transfer answered %s, want the sender's holding alone: %v", raw, err)
	}
	if h.Owner != w.Buyer.MSPID || h.Tradable != 4 {
		t.Fatalf("Transfer answered %+v, want the buyer's holding with 4 tradable", h)
	}
	if strings.Contains(string(raw), w.Miner.MSPID) {
		t.Fatalf("Transfer answer %s names the receiver", raw)
	}
}
