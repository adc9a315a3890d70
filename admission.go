package greenmint

import "sort"

// Every organisation runs its own CA and can write any role into its own
// certificates, so a certificate's role counts only for an organisation the
// registry admitted to that role on the ledger (R11). The registry's own
// role is bound to the organisation fixed when the contract was deployed;
// the other roles are admitted, and revoked, by the registry.

// Admission is the registry's record of the roles an organisation may act
// in: the miner and buyer roles of member organisations, the auditor role
// of audit firms, the oracle role of oracle operators.
type Admission struct {
	MSPID       string           `json:"msp_id"`
	Roles       []Role           `json:"roles"`                 // sorted, never registry
	Revocations []RoleRevocation `json:"revocations,omitempty"` // oldest first
	AdmittedAt  string           `json:"admitted_at"`           // first admission
	UpdatedAt   string           `json:"updated_at"`
}

// RoleRevocation records a role the registry took back, and why.
type RoleRevocation struct {
	Role      Role   `json:"role"`
	Reason    string `json:"reason"`
	RevokedAt string `json:"revoked_at"`
}

// AdmissibleRoles are the roles the registry admits organisations to. The
// registry role is not among them: it is fixed at deployment.
func AdmissibleRoles() []Role {
	return []Role{RoleAuditor, RoleBuyer, RoleMiner, RoleOracle}
}

// CheckAdmissibleRole rejects a role the registry cannot admit an
// organisation to.
func CheckAdmissibleRole(r Role) error {
	for _, a := range AdmissibleRoles() {
		if r == a {
			return nil
		}
	}
	if r == RoleRegistry {
		return Errorf(EINVALID, "the registry role is fixed when the contract is deployed; it cannot be admitted")
	}
	return Errorf(EINVALID, "role %q is not one of %v", r, AdmissibleRoles())
}

// Has reports whether the organisation is admitted to role r.
func (a *Admission) Has(r Role) bool {
	for _, x := range a.Roles {
		if x == r {
			return true
		}
	}
	return false
}

// Admit adds roles at time at. A role listed twice or not admissible is
// EINVALID; if every role is admitted already it is ECONFLICT. Nothing
// changes on an error.
func (a *Admission) Admit(roles []Role, at string) error {
	if len(roles) == 0 {
		return Errorf(EINVALID, "roles is required (some of %v)", AdmissibleRoles())
	}
	seen := map[Role]bool{}
	var added []Role
	for _, r := range roles {
		if err := CheckAdmissibleRole(r); err != nil {
			return err
		}
		if seen[r] {
			return Errorf(EINVALID, "role %s is listed twice", r)
		}
		seen[r] = true
		if !a.Has(r) {
			added = append(added, r)
		}
	}
	if len(added) == 0 {
		return Errorf(ECONFLICT, "organisation %s is already admitted as %v", a.MSPID, roles)
	}
	a.Roles = append(append([]Role(nil), a.Roles...), added...)
	sort.Slice(a.Roles, func(i, j int) bool { return a.Roles[i] < a.Roles[j] })
	if a.AdmittedAt == "" {
		a.AdmittedAt = at
	}
	a.UpdatedAt = at
	return nil
}

// Revoke withdraws role r at time at, recording the reason. ECONFLICT if
// the organisation does not hold the role; nothing changes on an error.
func (a *Admission) Revoke(r Role, reason, at string) error {
	if err := CheckAdmissibleRole(r); err != nil {
		return err
	}
	if !a.Has(r) {
		return Errorf(ECONFLICT, "organisation %s is not admitted as %s", a.MSPID, r)
	}
	roles := make([]Role, 0, len(a.Roles)-1)
	for _, x := range a.Roles {
		if x != r {
			roles = append(roles, x)
		}
	}
	a.Roles = roles
	a.Revocations = append(append([]RoleRevocation(nil), a.Revocations...), RoleRevocation{Role: r, Reason: reason, RevokedAt: at})
	a.UpdatedAt = at
	return nil
}
