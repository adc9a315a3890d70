package greenmint_test

import (
	"reflect"
	"testing"

	"github.com/greenmint/greenmint"
)

func TestAdmissionAdmitRevoke(t *testing.T) {
	tests := []struct {
		name  string
		start []greenmint.Role
		op    func(a *greenmint.Admission) error
		want  []greenmint.Role
		code  string
	}{
		{"admit", nil, func(a *greenmint.Admission) error {
			return a.Admit([]greenmint.Role{greenmint.RoleMiner, greenmint.RoleBuyer}, "t1")
		}, []greenmint.Role{greenmint.RoleBuyer, greenmint.RoleMiner}, ""},
		{"admit adds only new roles", []greenmint.Role{greenmint.RoleMiner}, func(a *greenmint.Admission) error {
			return a.Admit([]greenmint.Role{greenmint.RoleMiner, greenmint.RoleAuditor}, "t1")
		}, []greenmint.Role{greenmint.RoleAuditor, greenmint.RoleMiner}, ""},
		{"admit nothing new", []greenmint.Role{greenmint.RoleMiner}, func(a *greenmint.Admission) error {
			return a.Admit([]greenmint.Role{greenmint.RoleMiner}, "t1")
		}, []greenmint.Role{greenmint.RoleMiner}, greenmint.ECONFLICT},
		{"admit the registry role", nil, func(a *greenmint.Admission) error {
			return a.Admit([]greenmint.Role{greenmint.RoleRegistry}, "t1")
		}, nil, greenmint.EINVALID},
		{"admit an unknown role", nil, func(a *greenmint.Admission) error {
			return a.Admit([]greenmint.Role{greenmint.RoleMiner, "root"}, "t1")
		}, nil, greenmint.EINVALID},
		{"admit a role twice", nil, func(a *greenmint.Admission) error {
			return a.Admit([]greenmint.Role{greenmint.RoleOracle, greenmint.RoleOracle}, "t1")
		}, nil, greenmint.EINVALID},
		{"admit no role", nil, func(a *greenmint.Admission) error { return a.Admit(nil, "t1") }, nil, greenmint.EINVALID},
		{"revoke", []greenmint.Role{greenmint.RoleAuditor, greenmint.RoleMiner}, func(a *greenmint.Admission) error {
			return a.Revoke(greenmint.RoleAuditor, "why", "t2")
		}, []greenmint.Role{greenmint.RoleMiner}, ""},
		{"revoke a role not held", []greenmint.Role{greenmint.RoleMiner}, func(a *greenmint.Admission) error {
			return a.Revoke(greenmint.RoleAuditor, "why", "t2")
		}, []greenmint.Role{greenmint.RoleMiner}, greenmint.ECONFLICT},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := greenmint.Admission{MSPID: "OrgMSP", Roles: tc.start}
			err := tc.op(&a)
			if got := greenmint.ErrorCode(err); err != nil && got != tc.code || err == nil && tc.code != "" {
				t.Fatalf("error = %v, want code %q", err, tc.code)
			}
			if !reflect.DeepEqual(a.Roles, tc.want) {
				t.Fatalf("roles = %v, want %v", a.Roles, tc.want)
			}
			if err == nil && a.UpdatedAt == "" {
				t.Fatal("UpdatedAt not set")
			}
		})
	}
}
