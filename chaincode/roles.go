package chaincode

import (
	"encoding/json"
	"fmt"

	"github.com/greenmint/greenmint"
)

// Roles are bound to organisations (R11). Every organisation runs its own
// CA and can write any role into its own certificates, so the role a
// certificate claims counts only when the ledger says the caller's
// organisation holds it: the registry role for the organisation recorded
// at Bootstrap (fixed by the contract's configuration), every other role for
// an organisation the registry admitted to it (kindOrg records). Every
// transaction's role check (requireRole) and every query's read rule go
// through roleCounts.

// admitted reports whether organisation msp holds role r on the ledger.
// For the registry role on a ledger not yet bootstrapped it returns the
// policy's error (ECONFLICT).
func (t *txn) admitted(msp string, r greenmint.Role) (bool, error) {
	if r == greenmint.RoleRegistry {
		p, err := t.policy()
		if err != nil {
			return false, err
		}
		return p.RegistryMSP == msp, nil
	}
	if greenmint.CheckAdmissibleRole(r) != nil {
		return false, nil
	}
	var a greenmint.Admission
	ok, err := t.get(&a, kindOrg, msp)
	if err != nil || !ok {
		return false, err
	}
	return a.Has(r), nil
}

// roleCounts reports whether the role the caller's certificate claims
// counts for the caller's organisation. The answer is kept for the rest of
// the transaction.
func (t *txn) roleCounts() (bool, error) {
	if t.counts != nil {
		return *t.counts, nil
	}
	ok, err := t.admitted(t.caller.MSPID, t.caller.Role)
	if err != nil {
		return false, err
	}
	t.counts = &ok
	return ok, nil
}

// notAdmitted is the refusal of a caller whose claimed role does not count.
func (t *txn) notAdmitted() error {
	if t.caller.Role == greenmint.RoleRegistry {
		p, err := t.policy()
		if err != nil {
			return err
		}
		return greenmint.Errorf(greenmint.EFORBIDDEN, "organisation %s is not the registry (%s): its registry certificates do not count (R11)", t.caller.MSPID, p.RegistryMSP)
	}
	return greenmint.Errorf(greenmint.EFORBIDDEN, "organisation %s is not admitted as %s by the registry: a role counts only for an organisation admitted to it (R11)", t.caller.MSPID, t.caller.Role)
}

// requireAdmitted fails with ECONFLICT unless organisation msp holds role r.
func (t *txn) requireAdmitted(msp string, r greenmint.Role) error {
	ok, err := t.admitted(msp, r)
	if err != nil {
		return err
	}
	if !ok {
		return greenmint.Errorf(greenmint.ECONFLICT, "organisation %s is not admitted as %s; the registry must admit it first", msp, r)
	}
	return nil
}

// oracleKey returns a registered oracle key whose signatures count: its
// operator's organisation must hold the oracle role (R11), so that
// revoking an operator also voids its keys. It is the lookup of
// greenmint.VerifyAttestationSignatures.
func (t *txn) oracleKey(id string) (*greenmint.OracleRegistration, error) {
	var o greenmint.OracleRegistration
	if err := t.mustGet(&o, "oracle", kindOracle, id); err != nil {
		return nil, err
	}
	ok, err := t.admitted(o.MSPID, greenmint.RoleOracle)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, greenmint.Errorf(greenmint.EFORBIDDEN, "oracle %s is operated by %s, which is not admitted as an oracle operator (R11)", o.ID, o.MSPID)
	}
	return &o, nil
}

func (t *txn) admitOrganization(r *greenmint.AdmitOrganizationRequest) (any, error) {
	if _, err := t.requireRegistry(); err != nil {
		return nil, err
	}
	if err := checkID("msp_id", r.MSPID, mspPattern); err != nil {
		return nil, err
	}
	a := greenmint.Admission{MSPID: r.MSPID}
	if _, err := t.get(&a, kindOrg, r.MSPID); err != nil {
		return nil, err
	}
	if err := a.Admit(r.Roles, t.stamp()); err != nil {
		return nil, err
	}
	return a, t.put(a, kindOrg, a.MSPID)
}

func (t *txn) revokeOrganizationRole(r *greenmint.RevokeOrganizationRoleRequest) (any, error) {
	if _, err := t.requireRegistry(); err != nil {
		return nil, err
	}
	if err := checkID("msp_id", r.MSPID, mspPattern); err != nil {
		return nil, err
	}
	if err := checkText("reason", r.Reason, true, 1000); err != nil {
		return nil, err
	}
	var a greenmint.Admission
	if err := t.mustGet(&a, "organisation", kindOrg, r.MSPID); err != nil {
		return nil, err
	}
	if err := a.Revoke(r.Role, r.Reason, t.stamp()); err != nil {
		return nil, err
	}
	return a, t.put(a, kindOrg, a.MSPID)
}

// Read rules. Public-verification data (the policy, admissions, oracle
// keys, datasets, sites and meters, batches and their history, attestations,
// retirement statements, what attestations took from generation meters) is
// readable by any channel identity, whatever its role. What belongs to one
// organisation (its account, holdings and their history, listings, flags on
// its batches) is readable by that organisation, the registry and admitted
// auditors only, and only through a role that counts.

// readsEverything reports whether the caller is the registry or an
// admitted auditor.
func (t *txn) readsEverything() (bool, error) {
	if t.caller.Role != greenmint.RoleRegistry && t.caller.Role != greenmint.RoleAuditor {
		return false, nil
	}
	return t.roleCounts()
}

// mayReadOrg admits to what belongs to organisation org an identity of org
// itself, the registry and admitted auditors, each through a role that
// counts. what names the data for the refusal.
func (t *txn) mayReadOrg(org, what string) error {
	ok, err := t.roleCounts()
	if err != nil {
		return err
	}
	if ok && (org == t.caller.MSPID || t.caller.Role == greenmint.RoleRegistry || t.caller.Role == greenmint.RoleAuditor) {
		return nil
	}
	return greenmint.Errorf(greenmint.EFORBIDDEN, "%s of %s is visible to %s, the registry and admitted auditors only (R11)", what, org, org)
}

func (t *txn) getAccount(_ archive, q *greenmint.IDQuery) (any, error) {
	if err := checkID("id", q.ID, mspPattern); err != nil {
		return nil, err
	}
	if err := t.mayReadOrg(q.ID, "the account"); err != nil {
		return nil, err
	}
	var a greenmint.Account
	if err := t.mustGet(&a, "account", kindAccount, q.ID); err != nil {
		return nil, err
	}
	return a, nil
}

// getListing admits the seller, the buyer that reserved it, the registry
// and admitted auditors; an open listing is an offer to the market, so
// admitted miners and buyers read it too.
func (t *txn) getListing(_ archive, q *greenmint.IDQuery) (any, error) {
	if q.ID == "" {
		return nil, greenmint.Errorf(greenmint.EINVALID, "id is required")
	}
	var l greenmint.Listing
	if err := t.mustGet(&l, "listing", kindListing, q.ID); err != nil {
		return nil, err
	}
	ok, err := t.roleCounts()
	if err != nil {
		return nil, err
	}
	if ok {
		switch {
		case t.caller.MSPID == l.Seller, l.Buyer != "" && t.caller.MSPID == l.Buyer,
			t.caller.Role == greenmint.RoleRegistry, t.caller.Role == greenmint.RoleAuditor,
			l.Status == greenmint.ListingOpen && (t.caller.Role == greenmint.RoleMiner || t.caller.Role == greenmint.RoleBuyer):
			return l, nil
		}
	}
	return nil, greenmint.Errorf(greenmint.EFORBIDDEN, "listing %s is visible to its seller, its buyer, the registry and admitted auditors (open listings also to admitted miners and buyers) (R11)", l.ID)
}

// mayReadFlags admits to a batch's flags the registry, admitted auditors,
// the organisation the batch was minted to and the organisations that hold
// units of it, each through a role that counts.
func (t *txn) mayReadFlags(b *greenmint.Batch) error {
	ok, err := t.roleCounts()
	if err != nil {
		return err
	}
	if ok {
		if t.caller.Role == greenmint.RoleRegistry || t.caller.Role == greenmint.RoleAuditor || t.caller.MSPID == b.Owner {
			return nil
		}
		if holds, err := t.get(nil, kindHolding, t.caller.MSPID, b.ID); err != nil || holds {
			return err
		}
	}
	return greenmint.Errorf(greenmint.EFORBIDDEN, "the flags of batch %s are visible to its owner, its holders, the registry and admitted auditors only (R11)", b.ID)
}

// openFlagBy returns the ID of the open flag organisation auditor has on a
// batch, or "": each auditor organisation keeps at most one open flag per
// batch.
func (t *txn) openFlagBy(batchID, auditor string) (string, error) {
	_, vals, err := t.scan(kindFlag, batchID)
	if err != nil {
		return "", err
	}
	for _, raw := range vals {
		var f greenmint.Flag
		if err := json.Unmarshal(raw, &f); err != nil {
			return "", fmt.Errorf("chaincode: decode flag: %w", err)
		}
		if f.Auditor == auditor && f.Status == greenmint.FlagOpen {
			return f.ID, nil
		}
	}
	return "", nil
}
