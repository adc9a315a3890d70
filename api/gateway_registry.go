package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/oracle"
	"github.com/greenmint/greenmint/refdata"
)

// ReasonBody gives a reason.
type ReasonBody struct {
	Reason string `json:"reason,omitempty" maxLength:"1000"`
}

// RequiredReasonBody gives a reason that must be there.
type RequiredReasonBody struct {
	Reason string `json:"reason" minLength:"1" maxLength:"1000"`
}

// AdmitBody admits an organisation to roles.
type AdmitBody struct {
	Roles []greenmint.Role `json:"roles" minItems:"1" maxItems:"4" enum:"miner,oracle,auditor,buyer"`
}

// RevokeRoleBody takes a role back.
type RevokeRoleBody struct {
	Role   greenmint.Role `json:"role" enum:"miner,oracle,auditor,buyer"`
	Reason string         `json:"reason" minLength:"1" maxLength:"1000"`
}

// OracleBody registers an oracle key.
type OracleBody struct {
	OracleID  string `json:"oracle_id" minLength:"1" maxLength:"64"`
	MSPID     string `json:"msp_id" minLength:"1" maxLength:"64"`
	PublicKey []byte `json:"public_key" doc:"The Ed25519 public key, base64 (44 characters)" minLength:"44" maxLength:"44"`
}

// PolicyBody sets the policy.
type PolicyBody struct {
	Threshold             int64 `json:"threshold" minimum:"1" maximum:"100"`
	ToleranceBP           int64 `json:"tolerance_bp" minimum:"0" maximum:"10000"`
	ReservationTTLSeconds int64 `json:"reservation_ttl_seconds,omitempty" minimum:"0" doc:"0 keeps the current value"`
}

// DatasetBody publishes an emission-factor dataset (R9) from CSV; a file
// not given takes the shipped factors (IFI grid factors, IPCC lifecycle
// factors).
type DatasetBody struct {
	ID          string `json:"id" minLength:"1" maxLength:"64"`
	Version     string `json:"version" minLength:"1" maxLength:"32"`
	Source      string `json:"source,omitempty" maxLength:"1000"`
	License     string `json:"license,omitempty" maxLength:"200"`
	GridFactors string `json:"grid_factors_csv,omitempty" maxLength:"1000000" doc:"CSV region,firm_g_per_kwh,intermittent_g_per_kwh"`
	Lifecycle   string `json:"lifecycle_csv,omitempty" maxLength:"100000" doc:"CSV technology,g_per_kwh"`
	Hourly      string `json:"hourly_csv,omitempty" maxLength:"1000000" doc:"CSV of hourly factors per region"`
}

// CancelBody cancels units of a holding.
type CancelBody struct {
	Owner    string `json:"owner" minLength:"1" maxLength:"64"`
	Quantity int64  `json:"quantity" minimum:"1"`
	Reason   string `json:"reason" minLength:"1" maxLength:"1000"`
}

// ReissueBody mints a corrected batch in place of a withdrawn one.
type ReissueBody struct {
	Attestation greenmint.SignedAttestation `json:"attestation"`
}

// ResolveBody closes an auditor's flag.
type ResolveBody struct {
	Outcome    greenmint.FlagStatus `json:"outcome" enum:"upheld,dismissed"`
	Resolution string               `json:"resolution" minLength:"1" maxLength:"2000"`
}

// IDPath is an operation on one object by ID, with the Idempotency-Key
// header of writes.
type IDPath struct {
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"128" doc:"Retrying with the same key and body returns the first answer (draft-ietf-httpapi-idempotency-key-header); on ledger writes it is also the contract's idempotency key (R10)"`
	ID             string `path:"id" minLength:"1" maxLength:"128"`
}

// OrganisationView is an organisation's admissions as the read model has
// them.
type OrganisationView = greenmint.Admission

func (g *Gateway) registryRoutes() {
	registry := access{roles: []greenmint.Role{greenmint.RoleRegistry}}
	signedIn := access{}
	const tag = "registry"

	statusRoute[greenmint.Site](g, "sites", "approve", "approveSite", "Approve a site", greenmint.TxApproveSite)
	statusRoute[greenmint.Site](g, "sites", "suspend", "suspendSite", "Suspend a site", greenmint.TxSuspendSite)
	statusRoute[greenmint.Meter](g, "meters", "approve", "approveMeter", "Approve a meter", greenmint.TxApproveMeter)
	statusRoute[greenmint.Meter](g, "meters", "suspend", "suspendMeter", "Suspend a meter", greenmint.TxSuspendMeter)

	huma.Register(g.api, operation(http.MethodGet, "/organisations", "listOrganisations", "Organisations and the roles the registry admitted them to (R11)", tag, signedIn),
		func(ctx context.Context, in *struct {
			PageParams
			Role string `query:"role" enum:"miner,oracle,auditor,buyer" doc:"Only organisations admitted to this role"`
		}) (*listOutput[OrganisationView], error) {
			f := filterOf(in.PageParams)
			f.Role = in.Role
			items, next, err := g.cfg.DB.ReadModelOrganisations(ctx, f)
			if err != nil {
				return nil, err
			}
			out := make([]OrganisationView, 0, len(items))
			for _, o := range items {
				out = append(out, o.Admission)
			}
			return page(ctx, out, next), nil
		})
	huma.Register(g.api, operation(http.MethodPost, "/organisations/{id}/roles", "admitOrganisation", "Admit an organisation to roles (R11)", tag, registry),
		func(ctx context.Context, in *struct {
			IDPath
			Body AdmitBody
		}) (*writtenOutput[greenmint.Admission], error) {
			req := greenmint.AdmitOrganizationRequest{MSPID: in.ID, Roles: in.Body.Roles}
			req.IdempotencyKey = in.IdempotencyKey
			return write[greenmint.Admission](ctx, g, greenmint.TxAdmitOrganization, req)
		})
	huma.Register(g.api, operation(http.MethodPost, "/organisations/{id}/revocations", "revokeOrganisationRole", "Take a role back from an organisation, with a reason (R11)", tag, registry),
		func(ctx context.Context, in *struct {
			IDPath
			Body RevokeRoleBody
		}) (*writtenOutput[greenmint.Admission], error) {
			req := greenmint.RevokeOrganizationRoleRequest{MSPID: in.ID, Role: in.Body.Role, Reason: in.Body.Reason}
			req.IdempotencyKey = in.IdempotencyKey
			return write[greenmint.Admission](ctx, g, greenmint.TxRevokeOrganizationRole, req)
		})

	huma.Register(g.api, operation(http.MethodGet, "/oracles", "listOracles", "Registered oracle keys and their status", tag, signedIn),
		queryList[greenmint.OracleRegistration](g, greenmint.QueryListOracles))
	huma.Register(g.api, operation(http.MethodPost, "/oracles", "registerOracle", "Register an oracle's Ed25519 key", tag, registry),
		func(ctx context.Context, in *struct {
			IdemHeader
			Body OracleBody
		}) (*writtenOutput[greenmint.OracleRegistration], error) {
			req := greenmint.RegisterOracleRequest{OracleID: in.Body.OracleID, MSPID: in.Body.MSPID, PublicKey: in.Body.PublicKey}
			req.IdempotencyKey = in.IdempotencyKey
			return write[greenmint.OracleRegistration](ctx, g, greenmint.TxRegisterOracle, req)
		})
	huma.Register(g.api, operation(http.MethodPost, "/oracles/{id}/revoke", "revokeOracle", "Revoke an oracle key", tag, registry),
		func(ctx context.Context, in *struct {
			IDPath
			Body RequiredReasonBody
		}) (*writtenOutput[greenmint.OracleRegistration], error) {
			req := greenmint.RevokeOracleRequest{OracleID: in.ID, Reason: in.Body.Reason}
			req.IdempotencyKey = in.IdempotencyKey
			return write[greenmint.OracleRegistration](ctx, g, greenmint.TxRevokeOracle, req)
		})

	huma.Register(g.api, operation(http.MethodGet, "/policy", "getPolicy", "The policy: oracle threshold, tolerance, reservation period", tag, signedIn),
		func(ctx context.Context, _ *struct{}) (*bodyOf[greenmint.Policy], error) {
			var p greenmint.Policy
			if err := g.evaluate(ctx, greenmint.QueryGetPolicy, struct{}{}, &p); err != nil {
				return nil, err
			}
			return &bodyOf[greenmint.Policy]{p}, nil
		})
	huma.Register(g.api, operation(http.MethodPut, "/policy", "setPolicy", "Set the oracle threshold, tolerance and reservation period", tag, registry),
		func(ctx context.Context, in *struct {
			IdemHeader
			Body PolicyBody
		}) (*writtenOutput[greenmint.Policy], error) {
			req := greenmint.PolicyRequest{Threshold: in.Body.Threshold, ToleranceBP: in.Body.ToleranceBP, ReservationTTLSeconds: in.Body.ReservationTTLSeconds}
			req.IdempotencyKey = in.IdempotencyKey
			return write[greenmint.Policy](ctx, g, greenmint.TxSetPolicy, req)
		})

	huma.Register(g.api, operation(http.MethodGet, "/datasets", "listDatasets", "Registered emission-factor datasets (R9)", tag, signedIn),
		queryList[greenmint.Dataset](g, greenmint.QueryListDatasets))
	huma.Register(g.api, operation(http.MethodPost, "/datasets", "publishDataset", "Publish an emission-factor dataset from CSV (R9)", tag, registry),
		func(ctx context.Context, in *struct {
			IdemHeader
			Body DatasetBody
		}) (*writtenOutput[greenmint.DatasetPin], error) {
			ds, err := refdata.DefaultDataset()
			if err != nil {
				return nil, err
			}
			ds.ID, ds.Version, ds.Source, ds.License = in.Body.ID, in.Body.Version, in.Body.Source, in.Body.License
			for _, f := range []struct {
				name, csv string
				parse     func(string) error
			}{
				{"grid_factors_csv", in.Body.GridFactors, func(s string) (err error) {
					ds.GridFactors, err = oracle.ParseGridFactors(strings.NewReader(s))
					return
				}},
				{"lifecycle_csv", in.Body.Lifecycle, func(s string) (err error) {
					ds.LifecycleFactors, err = oracle.ParseLifecycle(strings.NewReader(s))
					return
				}},
				{"hourly_csv", in.Body.Hourly, func(s string) (err error) {
					ds.HourlyFactors, err = oracle.ParseHourlyFactors(strings.NewReader(s))
					return
				}},
			} {
				if f.csv == "" {
					continue
				}
				if err := f.parse(f.csv); err != nil {
					return nil, greenmint.E(greenmint.EINVALID, "", err, "%s", f.name)
				}
			}
			sum, err := greenmint.DatasetSHA256(ds)
			if err != nil {
				return nil, err
			}
			req := greenmint.PublishDatasetRequest{Dataset: ds, SHA256: sum}
			req.IdempotencyKey = in.IdempotencyKey
			return write[greenmint.DatasetPin](ctx, g, greenmint.TxPublishDataset, req)
		})

	huma.Register(g.api, operation(http.MethodPost, "/batches/{id}/cancellations", "cancelUnits", "Cancel tradable units of a holding", tag, registry),
		func(ctx context.Context, in *struct {
			IDPath
			Body CancelBody
		}) (*writtenOutput[greenmint.Cancellation], error) {
			req := greenmint.CancelUnitsRequest{BatchID: in.ID, Owner: in.Body.Owner, Quantity: in.Body.Quantity, Reason: in.Body.Reason}
			req.IdempotencyKey = in.IdempotencyKey
			return write[greenmint.Cancellation](ctx, g, greenmint.TxCancelUnits, req)
		})
	huma.Register(g.api, operation(http.MethodPost, "/batches/{id}/withdrawal", "withdrawBatch", "Withdraw a batch", tag, registry),
		func(ctx context.Context, in *struct {
			IDPath
			Body RequiredReasonBody
		}) (*writtenOutput[greenmint.Batch], error) {
			req := greenmint.WithdrawRequest{BatchID: in.ID, Reason: in.Body.Reason}
			req.IdempotencyKey = in.IdempotencyKey
			return write[greenmint.Batch](ctx, g, greenmint.TxWithdrawBatch, req)
		})
	huma.Register(g.api, operation(http.MethodPost, "/batches/{id}/reissue", "reissueBatch", "Mint a corrected batch in place of a withdrawn one (keeps the instrument)", tag, registry),
		func(ctx context.Context, in *struct {
			IDPath
			Body ReissueBody
		}) (*writtenOutput[greenmint.MintResult], error) {
			req := greenmint.ReissueRequest{WithdrawnBatchID: in.ID, Attestation: in.Body.Attestation}
			req.IdempotencyKey = in.IdempotencyKey
			return write[greenmint.MintResult](ctx, g, greenmint.TxReissueBatch, req)
		})
	huma.Register(g.api, operation(http.MethodPost, "/batches/{id}/flags/{flag}/resolution", "resolveFlag", "Resolve an auditor's flag: upheld or dismissed", tag, registry),
		func(ctx context.Context, in *struct {
			IDPath
			Flag string `path:"flag" minLength:"1" maxLength:"128"`
			Body ResolveBody
		}) (*writtenOutput[greenmint.Flag], error) {
			req := greenmint.ResolveFlagRequest{BatchID: in.ID, FlagID: in.Flag, Outcome: in.Body.Outcome, Resolution: in.Body.Resolution}
			req.IdempotencyKey = in.IdempotencyKey
			return write[greenmint.Flag](ctx, g, greenmint.TxResolveFlag, req)
		})
}

// statusRoute adds the registry's approval or suspension of a site or
// meter.
func statusRoute[T any](g *Gateway, kind, verb, id, summary, fn string) {
	huma.Register(g.api, operation(http.MethodPost, "/"+kind+"/{id}/"+verb, id, summary, "registry", access{roles: []greenmint.Role{greenmint.RoleRegistry}}),
		func(ctx context.Context, in *struct {
			IDPath
			Body *ReasonBody
		}) (*writtenOutput[T], error) {
			req := greenmint.StatusRequest{ID: in.ID}
			if in.Body != nil {
				req.Reason = in.Body.Reason
			}
			req.IdempotencyKey = in.IdempotencyKey
			return write[T](ctx, g, fn, req)
		})
}

// queryList answers a page of what a contract query that takes no
// argument lists, as the caller.
func queryList[T any](g *Gateway, fn string) func(context.Context, *struct{ PageParams }) (*listOutput[T], error) {
	return func(ctx context.Context, in *struct{ PageParams }) (*listOutput[T], error) {
		var out []T
		if err := g.evaluate(ctx, fn, struct{}{}, &out); err != nil {
			return nil, err
		}
		return pageOf(ctx, out, in.PageParams)
	}
}
