package greenmint

import "encoding/json"

// The contract's transactions each take one JSON argument, a request below,
// and return one JSON value. Clients (the API, the oracle, the CLI) build
// these; the contract decodes them strictly (unknown fields are refused).
// A write request may carry an idempotency key (R10): retrying it with the
// same key and the same request returns the first result and changes
// nothing; the same key with a different request is ECONFLICT.

// Contract transaction names.
const (
	TxBootstrap          = "Bootstrap"
	TxOpenAccount        = "OpenAccount"
	TxSetPolicy          = "SetPolicy"
	TxRegisterOracle     = "RegisterOracle"
	TxRevokeOracle       = "RevokeOracle"
	TxPublishDataset     = "PublishDataset"
	TxRegisterSite       = "RegisterSite"
	TxRegisterMeter      = "RegisterMeter"
	TxAmendSite          = "AmendSite"
	TxAmendMeter         = "AmendMeter"
	TxApproveSite        = "ApproveSite"
	TxSuspendSite        = "SuspendSite"
	TxApproveMeter       = "ApproveMeter"
	TxSuspendMeter       = "SuspendMeter"
	TxMint               = "Mint"
	TxTransfer           = "Transfer"
	TxListForSale        = "ListForSale"
	TxReserveListing     = "ReserveListing"
	TxReleaseReservation = "ReleaseReservation"
	TxConfirmPayment     = "ConfirmPayment"
	TxCancelListing      = "CancelListing"
	TxRetire             = "Retire"
	TxCancelUnits        = "CancelUnits"
	TxWithdrawBatch      = "WithdrawBatch"
	TxReissueBatch       = "ReissueBatch"
	TxFlagBatch          = "FlagBatch"
	TxResolveFlag        = "ResolveFlag"

	TxAdmitOrganization      = "AdmitOrganization"
	TxRevokeOrganizationRole = "RevokeOrganizationRole"

	QueryGetPolicy       = "GetPolicy"
	QueryGetAccount      = "GetAccount"
	QueryGetSite         = "GetSite"
	QueryGetMeter        = "GetMeter"
	QueryGetMeters       = "GetMeters"
	QuerySiteHistory     = "SiteHistory"
	QueryMeterHistory    = "MeterHistory"
	QueryGetOracle       = "GetOracle"
	QueryListOracles     = "ListOracles"
	QueryGetDataset      = "GetDataset"
	QueryListDatasets    = "ListDatasets"
	QueryGetBatch        = "GetBatch"
	QueryGetAttestation  = "GetAttestation"
	QueryHoldingsByOwner = "HoldingsByOwner"
	QueryBatchHolders    = "BatchHolders"
	QueryBatchHistory    = "BatchHistory"
	QueryHoldingHistory  = "HoldingHistory"
	QueryGetListing      = "GetListing"
	QueryGetRetirement   = "GetRetirement"
	QueryClaimsBySite    = "ClaimsBySite"
	QueryListFlags       = "ListFlags"
	QuerySiteMeters      = "SiteMeters"
	QueryGenerationHours = "GenerationHours"

	QueryGetOrganization   = "GetOrganization"
	QueryListOrganizations = "ListOrganizations"
)

// Idempotent is embedded by every write request.
type Idempotent struct {
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// OpenAccountRequest opens the caller's organisation's account.
type OpenAccountRequest struct {
	Idempotent
}

// PolicyRequest sets the oracle signature threshold, the tolerance on
// physical bounds and the reservation period (Bootstrap and SetPolicy).
type PolicyRequest struct {
	Idempotent
	Threshold   int64 `json:"threshold"`
	ToleranceBP int64 `json:"tolerance_bp"`
	// ReservationTTLSeconds, from MinReservationTTLSeconds to
	// MaxReservationTTLSeconds: 0 (or absent) takes the default in
	// Bootstrap and keeps the current value in SetPolicy.
	ReservationTTLSeconds int64 `json:"reservation_ttl_seconds,omitempty"`
}

// RegisterOracleRequest registers an oracle's Ed25519 key.
type RegisterOracleRequest struct {
	Idempotent
	OracleID  string `json:"oracle_id"`
	MSPID     string `json:"msp_id"`
	PublicKey []byte `json:"public_key"`
}

// RevokeOracleRequest revokes an oracle key.
type RevokeOracleRequest struct {
	Idempotent
	OracleID string `json:"oracle_id"`
	Reason   string `json:"reason"`
}

// PublishDatasetRequest publishes an emission-factor dataset (R9).
type PublishDatasetRequest struct {
	Idempotent
	Dataset DatasetContent `json:"dataset"`
	SHA256  string         `json:"sha256"`
}

// RegisterSiteRequest registers a mining site; it is pending until approved.
type RegisterSiteRequest struct {
	Idempotent
	SiteID         string `json:"site_id"`
	Name           string `json:"name"`
	Country        string `json:"country"`
	GridRegion     string `json:"grid_region"`
	LatitudeMicro  int64  `json:"latitude_microdeg"`
	LongitudeMicro int64  `json:"longitude_microdeg"`
	CapacityW      int64  `json:"capacity_w"`
	Fleet          Fleet  `json:"fleet"`
}

// RegisterMeterRequest registers a meter; it is pending until approved.
type RegisterMeterRequest struct {
	Idempotent
	MeterID         string    `json:"meter_id"`
	SiteID          string    `json:"site_id"`
	Kind            MeterKind `json:"kind"`
	Technology      string    `json:"technology,omitempty"`
	CapacityW       int64     `json:"capacity_w"`
	IntervalMinutes int64     `json:"interval_minutes"`
	PublicKey       []byte    `json:"public_key"`
}

// StatusRequest approves or suspends a site or meter.
type StatusRequest struct {
	Idempotent
	ID     string `json:"id"`
	Reason string `json:"reason,omitempty"`
}

// MintRequest submits a co-signed attestation for minting.
type MintRequest struct {
	Idempotent
	Attestation SignedAttestation `json:"attestation"`
}

// TransferRequest moves tradable units to another organisation.
type TransferRequest struct {
	Idempotent
	BatchID  string `json:"batch_id"`
	To       string `json:"to"`
	Quantity int64  `json:"quantity"`
}

// ListRequest lists part of a holding for sale, escrowing it.
type ListRequest struct {
	Idempotent
	BatchID    string `json:"batch_id"`
	Quantity   int64  `json:"quantity"`
	PriceMinor int64  `json:"price_minor"`
	Currency   string `json:"currency"`
}

// ListingRequest names a listing (reserve, release, confirm, cancel).
type ListingRequest struct {
	Idempotent
	ListingID string `json:"listing_id"`
}

// RetireRequest retires one or several parts in one statement.
type RetireRequest struct {
	Idempotent
	Parts         []RetirePart `json:"parts"`
	Beneficiary   string       `json:"beneficiary"`
	Jurisdiction  string       `json:"jurisdiction"`
	Purpose       string       `json:"purpose"`
	ReportingYear int64        `json:"reporting_year"`
	Reason        string       `json:"reason"`
}

// RetirePart is one batch's part of a retirement request.
type RetirePart struct {
	BatchID  string `json:"batch_id"`
	Quantity int64  `json:"quantity"`
}

// CancelUnitsRequest cancels tradable units of a holding (registry).
type CancelUnitsRequest struct {
	Idempotent
	BatchID  string `json:"batch_id"`
	Owner    string `json:"owner"`
	Quantity int64  `json:"quantity"`
	Reason   string `json:"reason"`
}

// WithdrawRequest withdraws a batch (registry).
type WithdrawRequest struct {
	Idempotent
	BatchID string `json:"batch_id"`
	Reason  string `json:"reason"`
}

// ReissueRequest mints a corrected batch in place of a withdrawn one.
type ReissueRequest struct {
	Idempotent
	WithdrawnBatchID string            `json:"withdrawn_batch_id"`
	Attestation      SignedAttestation `json:"attestation"`
}

// FlagRequest opens an auditor's inquiry on a batch.
type FlagRequest struct {
	Idempotent
	BatchID string `json:"batch_id"`
	Reason  string `json:"reason"`
}

// ResolveFlagRequest closes an inquiry (registry).
type ResolveFlagRequest struct {
	Idempotent
	BatchID    string     `json:"batch_id"`
	FlagID     string     `json:"flag_id"`
	Outcome    FlagStatus `json:"outcome"` // upheld or dismissed
	Resolution string     `json:"resolution"`
}

// AdmitOrganizationRequest admits an organisation to one or more roles
// (registry only; R11). Roles already admitted are kept.
type AdmitOrganizationRequest struct {
	Idempotent
	MSPID string `json:"msp_id"`
	Roles []Role `json:"roles"`
}

// RevokeOrganizationRoleRequest withdraws one role from an organisation,
// with a reason (registry only; R11).
type RevokeOrganizationRoleRequest struct {
	Idempotent
	MSPID  string `json:"msp_id"`
	Role   Role   `json:"role"`
	Reason string `json:"reason"`
}

// IDQuery names one object by ID.
type IDQuery struct {
	ID string `json:"id"`
}

// IDsQuery names several objects by ID.
type IDsQuery struct {
	IDs []string `json:"ids"`
}

// MaxIDsPerQuery is how many IDs one IDsQuery may name.
const MaxIDsPerQuery = 1000

// DatasetQuery names one dataset version.
type DatasetQuery struct {
	ID      string `json:"id"`
	Version string `json:"version"`
}

// PageQuery asks for one page of a list.
type PageQuery struct {
	Owner    string `json:"owner,omitempty"`
	BatchID  string `json:"batch_id,omitempty"`
	PageSize int64  `json:"page_size,omitempty"`
	Bookmark string `json:"bookmark,omitempty"`
}

// HoldingQuery names one holding.
type HoldingQuery struct {
	BatchID string `json:"batch_id"`
	Owner   string `json:"owner"`
}

// ClaimsQuery asks for a site's batches overlapping a period.
type ClaimsQuery struct {
	SiteID string `json:"site_id"`
	From   string `json:"from"`
	To     string `json:"to"`
}

// GenerationQuery asks what attestations took from a generation meter's
// hours in [From, To).
type GenerationQuery struct {
	MeterID string `json:"meter_id"`
	From    string `json:"from"`
	To      string `json:"to"`
}

// GenerationHour is what attestations took from one hour of a generation
// meter (R1, supply side).
type GenerationHour struct {
	Hour        string `json:"hour"`
	GeneratedWh int64  `json:"generated_wh"`
	AllocatedWh int64  `json:"allocated_wh"`
}

// HoldingsPage is a page of holdings.
type HoldingsPage struct {
	Holdings []Holding `json:"holdings"`
	Bookmark string    `json:"bookmark"`
}

// HistoryEntry is one committed change of a ledger object.
type HistoryEntry struct {
	TxID      string          `json:"tx_id"`
	Timestamp string          `json:"timestamp"`
	Deleted   bool            `json:"deleted"`
	Value     json.RawMessage `json:"value"` // the object's JSON after the change
}

// AttestationRecord is a minted attestation as the ledger keeps it.
type AttestationRecord struct {
	ID          string            `json:"id"`
	BatchID     string            `json:"batch_id"`
	TxID        string            `json:"tx_id"`
	Attestation SignedAttestation `json:"attestation"`
}

// MintResult is what Mint and ReissueBatch return.
type MintResult struct {
	BatchID       string `json:"batch_id"`
	AttestationID string `json:"attestation_id"`
	Quantity      int64  `json:"quantity"`
}

// Change is one object a transaction wrote, as its event reports it.
type Change struct {
	Kind    string          `json:"kind"` // the key's object type: batch, holding, listing, …
	Key     []string        `json:"key"`  // the key's attributes
	Value   json.RawMessage `json:"value"`
	Deleted bool            `json:"deleted,omitempty"`
}

// EventPayload is the payload of the one event every write transaction
// emits: enough for a listener to rebuild what changed.
type EventPayload struct {
	TxID      string   `json:"tx_id"`
	Function  string   `json:"function"`
	Creator   string   `json:"creator"` // MSP ID
	Timestamp string   `json:"timestamp"`
	Changes   []Change `json:"changes"`
}

// IdemKey returns the request's idempotency key ("" for none).
func (i Idempotent) IdemKey() string { return i.IdempotencyKey }
