package main

import (
	"fmt"
	"strings"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/workspace"
	"github.com/spf13/cobra"
)

// organisationCommand is the registry's record of which organisations may
// act in which role (R11): admit, revoke a role, list.
func (m *Main) organisationCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "organisation", Short: "The registry's record of which organisations may act in which role (R11)"}
	cmd.AddCommand(m.organisationAdmitCommand(), m.organisationRevokeCommand(), m.organisationListCommand())
	return cmd
}

func (m *Main) organisationAdmitCommand() *cobra.Command {
	var ws wsFlags
	var as, msp string
	var roles []string
	cmd := &cobra.Command{
		Use:   "admit",
		Short: "Admit an organisation to roles (miner, buyer, auditor, oracle), as the registry",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w, registry, err := openAs(&ws, as)
			if err != nil {
				return err
			}
			defer w.Close()
			req := greenmint.AdmitOrganizationRequest{MSPID: msp}
			for _, r := range roles {
				req.Roles = append(req.Roles, greenmint.Role(r))
			}
			var a greenmint.Admission
			if _, err := greenmint.SubmitJSON(cmd.Context(), w.Ledger, registry, greenmint.TxAdmitOrganization, req, &a); err != nil {
				return err
			}
			return m.emit(a, fmt.Sprintf("%s admitted: %s", a.MSPID, joinRoles(a.Roles)))
		},
	}
	ws.bind(cmd, true, false)
	cmd.Flags().StringVar(&msp, "msp", "", "the organisation's MSP ID")
	cmd.Flags().StringSliceVar(&roles, "role", nil, "a role to admit it to (repeat or comma-separate)")
	cmd.Flags().StringVar(&as, "as", consortium.RegistryMSP+":registrar", "the registry identity (MSP:user)")
	_ = cmd.MarkFlagRequired("msp")
	_ = cmd.MarkFlagRequired("role")
	return cmd
}

func (m *Main) organisationRevokeCommand() *cobra.Command {
	var ws wsFlags
	var as, msp, role, reason string
	cmd := &cobra.Command{
		Use:   "revoke",
		Short: "Take a role back from an organisation, with a reason, as the registry",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w, registry, err := openAs(&ws, as)
			if err != nil {
				return err
			}
			defer w.Close()
			req := greenmint.RevokeOrganizationRoleRequest{MSPID: msp, Role: greenmint.Role(role), Reason: reason}
			var a greenmint.Admission
			if _, err := greenmint.SubmitJSON(cmd.Context(), w.Ledger, registry, greenmint.TxRevokeOrganizationRole, req, &a); err != nil {
				return err
			}
			return m.emit(a, fmt.Sprintf("%s no longer acts as %s; its roles: %s", a.MSPID, role, joinRoles(a.Roles)))
		},
	}
	ws.bind(cmd, true, false)
	cmd.Flags().StringVar(&msp, "msp", "", "the organisation's MSP ID")
	cmd.Flags().StringVar(&role, "role", "", "the role to take back")
	cmd.Flags().StringVar(&reason, "reason", "", "why (kept on the ledger)")
	cmd.Flags().StringVar(&as, "as", consortium.RegistryMSP+":registrar", "the registry identity (MSP:user)")
	for _, f := range []string{"msp", "role", "reason"} {
		_ = cmd.MarkFlagRequired(f)
	}
	return cmd
}

func (m *Main) organisationListCommand() *cobra.Command {
	var ws wsFlags
	var as string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List every organisation's roles and revocations",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w, id, err := openAs(&ws, as)
			if err != nil {
				return err
			}
			defer w.Close()
			var all []greenmint.Admission
			if err := greenmint.EvaluateJSON(cmd.Context(), w.Ledger, id, greenmint.QueryListOrganizations, struct{}{}, &all); err != nil {
				return err
			}
			var b strings.Builder
			for _, a := range all {
				fmt.Fprintf(&b, "%-14s %s", a.MSPID, joinRoles(a.Roles))
				for _, r := range a.Revocations {
					fmt.Fprintf(&b, "  (%s revoked %s: %s)", r.Role, r.RevokedAt, r.Reason)
				}
				b.WriteString("\n")
			}
			return m.emit(all, strings.TrimSuffix(b.String(), "\n"))
		},
	}
	ws.bind(cmd, true, false)
	cmd.Flags().StringVar(&as, "as", consortium.AuditorMSP+":auditor", "who reads (MSP:user)")
	return cmd
}

// openAs opens the workspace and the member as (MSP:user) of its
// consortium; the caller closes the workspace.
func openAs(ws *wsFlags, as string) (*workspace.Workspace, *greenmint.Identity, error) {
	w, err := ws.open()
	if err != nil {
		return nil, nil, err
	}
	id, err := w.Identity(as)
	if err != nil {
		w.Close()
		return nil, nil, err
	}
	return w, id, nil
}

func joinRoles(roles []greenmint.Role) string {
	if len(roles) == 0 {
		return "no role"
	}
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}
