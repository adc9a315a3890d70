package greenmint

import "sort"

// Role is the role attribute carried by an actor's X.509 certificate, in the
// Fabric CA attribute format (attribute name "role").
type Role string

// The roles of DOMAIN.md.
const (
	RoleRegistry Role = "registry"
	RoleMiner    Role = "miner"
	RoleOracle   Role = "oracle"
	RoleAuditor  Role = "auditor"
	RoleBuyer    Role = "buyer"
)

// RoleAttribute is the name of the certificate attribute that holds the role.
const RoleAttribute = "role"

// Status is the registration status of a site or meter.
type Status string

// Registration statuses. Sites and meters start pending until the registry
// approves them; a suspended one may be approved again.
const (
	StatusPending   Status = "pending"
	StatusApproved  Status = "approved"
	StatusSuspended Status = "suspended"
)

// Instrument is what a batch certifies.
type Instrument string

// The instruments of DOMAIN.md.
const (
	// EAC is an energy attribute certificate: 1 unit = 1 Wh of renewable
	// electricity consumed in the hour it was generated.
	EAC Instrument = "EAC"
	// CO2E is an avoided-emission certificate: 1 unit = 1 gCO2e.
	CO2E Instrument = "CO2E"
)

// MeterKind says whether a meter measures a site's consumption or a plant's
// generation.
type MeterKind string

// Meter kinds.
const (
	MeterConsumption MeterKind = "consumption"
	MeterGeneration  MeterKind = "generation"
)

// Fleet describes a site's mining fleet.
type Fleet struct {
	HashrateTHs  int64 `json:"hashrate_ths"`         // total hashrate in TH/s
	EfficiencyMJ int64 `json:"efficiency_mj_per_th"` // energy per terahash in millijoules (J/TH × 1,000)
}

// Site is a mining site registered by a miner organisation.
type Site struct {
	ID             string `json:"id"`
	Owner          string `json:"owner"` // the owning organisation's MSP ID
	Name           string `json:"name"`
	Country        string `json:"country"`     // ISO 3166-1 alpha-2
	GridRegion     string `json:"grid_region"` // key of the dataset's grid factors
	LatitudeMicro  int64  `json:"latitude_microdeg"`
	LongitudeMicro int64  `json:"longitude_microdeg"`
	CapacityW      int64  `json:"capacity_w"`
	Fleet          Fleet  `json:"fleet"`
	Status         Status `json:"status"`
	BatchCount     int64  `json:"batch_count"` // batches minted so far; numbers batch IDs
	RegisteredAt   string `json:"registered_at"`
	UpdatedAt      string `json:"updated_at"`
}

// Meter is a consumption meter at a site or a generation meter at a plant
// that supplies the owner's sites.
type Meter struct {
	ID              string    `json:"id"`
	SiteID          string    `json:"site_id"`
	Owner           string    `json:"owner"`
	Kind            MeterKind `json:"kind"`
	Technology      string    `json:"technology,omitempty"` // generation meters: an IPCC technology
	CapacityW       int64     `json:"capacity_w"`
	IntervalMinutes int64     `json:"interval_minutes"` // 5, 15, 30 or 60
	PublicKey       []byte    `json:"public_key"`       // Ed25519, 32 bytes
	Status          Status    `json:"status"`
	RegisteredAt    string    `json:"registered_at"`
	UpdatedAt       string    `json:"updated_at"`
}

// Reading is one signed measurement of a meter over one interval.
type Reading struct {
	MeterID    string `json:"meter_id"`
	Seq        int64  `json:"seq"`
	Start      string `json:"start"` // RFC 3339, UTC
	End        string `json:"end"`
	EnergyWh   int64  `json:"energy_wh"`
	RegisterWh int64  `json:"register_wh"`
	Signature  []byte `json:"signature,omitempty"`
}

// OracleStatus is the status of an oracle registration.
type OracleStatus string

// Oracle statuses.
const (
	OracleActive  OracleStatus = "active"
	OracleRevoked OracleStatus = "revoked"
)

// OracleRegistration is an oracle's attestation-signing key as the registry
// registered it.
type OracleRegistration struct {
	ID           string       `json:"id"`
	MSPID        string       `json:"msp_id"`
	PublicKey    []byte       `json:"public_key"` // Ed25519, 32 bytes
	Status       OracleStatus `json:"status"`
	RegisteredAt string       `json:"registered_at"`
	UpdatedAt    string       `json:"updated_at"`
}

// Policy holds the registry's settings for the ledger.
type Policy struct {
	RegistryMSP string `json:"registry_msp"`
	Threshold   int64  `json:"threshold"`    // oracle signatures needed to mint
	ToleranceBP int64  `json:"tolerance_bp"` // energy above capacity × duration tolerated, basis points
	// ReservationTTLSeconds is how long a buyer's reservation of a listing
	// holds, in transaction time. A policy written before the field existed
	// has 0 here and takes DefaultReservationTTLSeconds (ReservationTTL).
	ReservationTTLSeconds int64  `json:"reservation_ttl_seconds"`
	UpdatedAt             string `json:"updated_at"`
}

// GridFactor is a grid region's combined-margin emission factor, gCO2e/MWh,
// for firm and for intermittent renewables.
type GridFactor struct {
	Region       string `json:"region"`
	Firm         int64  `json:"firm_g_per_mwh"`
	Intermittent int64  `json:"intermittent_g_per_mwh"`
}

// LifecycleFactor is a technology's lifecycle emissions, gCO2e/MWh.
type LifecycleFactor struct {
	Technology string `json:"technology"`
	Factor     int64  `json:"g_per_mwh"`
}

// HourlyFactor is a grid region's emission factor for one hour, gCO2e/MWh.
type HourlyFactor struct {
	Region string `json:"region"`
	Hour   string `json:"hour"` // RFC 3339 UTC, on the hour
	Factor int64  `json:"g_per_mwh"`
}

// DatasetContent is the part of an emission-factor dataset that its SHA-256
// covers.
type DatasetContent struct {
	ID               string            `json:"id"`
	Version          string            `json:"version"`
	Source           string            `json:"source"`
	License          string            `json:"license"`
	GridFactors      []GridFactor      `json:"grid_factors"`      // sorted by region
	LifecycleFactors []LifecycleFactor `json:"lifecycle_factors"` // sorted by technology
	// HourlyFactors, sorted by region then hour, give some regions an
	// hourly series: for an attested hour of such a region, the hour's
	// factor replaces the combined-margin factors.
	HourlyFactors []HourlyFactor `json:"hourly_factors,omitempty"`
	// AverageIntensity is each region's yearly average grid intensity
	// (location-based, gCO2e/MWh), sorted by region: for reporting; the CO2E
	// formula uses the combined margin.
	AverageIntensity []RegionFactor `json:"average_intensity,omitempty"`
}

// RegionFactor is one number per grid region, gCO2e/MWh.
type RegionFactor struct {
	Region string `json:"region"`
	Factor int64  `json:"g_per_mwh"`
}

// HourlyFactorFor finds a region's factor for an hour in a sorted series.
func HourlyFactorFor(series []HourlyFactor, region, hour string) (int64, bool) {
	i := sort.Search(len(series), func(i int) bool {
		return series[i].Region > region || (series[i].Region == region && series[i].Hour >= hour)
	})
	if i < len(series) && series[i].Region == region && series[i].Hour == hour {
		return series[i].Factor, true
	}
	return 0, false
}

// HasHourlySeries reports whether a sorted series covers a region.
func HasHourlySeries(series []HourlyFactor, region string) bool {
	i := sort.Search(len(series), func(i int) bool { return series[i].Region >= region })
	return i < len(series) && series[i].Region == region
}

// Dataset is an emission-factor dataset registered on the ledger (R9).
type Dataset struct {
	DatasetContent
	SHA256      string `json:"sha256"` // hex of SHA-256 over the canonical DatasetContent
	PublishedAt string `json:"published_at"`
}

// DatasetPin names one exact dataset.
type DatasetPin struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	SHA256  string `json:"sha256"`
}

// BatchStatus is the status of a batch.
type BatchStatus string

// Batch statuses.
const (
	BatchActive    BatchStatus = "active"
	BatchWithdrawn BatchStatus = "withdrawn"
)

// Batch is the certificates minted from one attestation, as one instrument.
// R3: Issued = Tradable + Escrowed + Retired + Cancelled.
type Batch struct {
	ID             string      `json:"id"`
	Instrument     Instrument  `json:"instrument"`
	SiteID         string      `json:"site_id"`
	Country        string      `json:"country"`
	Owner          string      `json:"owner"` // the organisation it was minted to
	PeriodStart    string      `json:"period_start"`
	PeriodEnd      string      `json:"period_end"`
	AttestationID  string      `json:"attestation_id"`
	Dataset        DatasetPin  `json:"dataset"`
	MatchedWh      int64       `json:"matched_wh"`
	Issued         int64       `json:"issued"`
	Tradable       int64       `json:"tradable"`
	Escrowed       int64       `json:"escrowed"`
	Retired        int64       `json:"retired"`
	Cancelled      int64       `json:"cancelled"`
	Status         BatchStatus `json:"status"`
	OpenFlags      int64       `json:"open_flags"`
	Replaces       string      `json:"replaces,omitempty"`
	ReplacedBy     string      `json:"replaced_by,omitempty"`
	CarriedRetired int64       `json:"carried_retired,omitempty"` // retired in the batch it replaces and the ones before it
	MintTxID       string      `json:"mint_tx_id"`
	MintedAt       string      `json:"minted_at"`
}

// Holding is what one owner holds of one batch.
type Holding struct {
	BatchID  string `json:"batch_id"`
	Owner    string `json:"owner"`
	Tradable int64  `json:"tradable"`
	Escrowed int64  `json:"escrowed"`
}

// ListingStatus is the state of a listing.
type ListingStatus string

// Listing states: open → reserved → sold, or cancelled. A reservation
// lapses at its reserved_until (in transaction time) and the listing is open
// again; see ReserveListing.
const (
	ListingOpen      ListingStatus = "open"
	ListingReserved  ListingStatus = "reserved"
	ListingSold      ListingStatus = "sold"
	ListingCancelled ListingStatus = "cancelled"
)

// Listing offers escrowed units of a holding for sale at a price paid
// off-ledger.
type Listing struct {
	ID         string        `json:"id"`
	BatchID    string        `json:"batch_id"`
	Seller     string        `json:"seller"`
	Quantity   int64         `json:"quantity"`
	PriceMinor int64         `json:"price_minor"` // total price in the currency's minor unit
	Currency   string        `json:"currency"`    // ISO 4217
	Status     ListingStatus `json:"status"`
	Buyer      string        `json:"buyer,omitempty"`
	// ReservedUntil is when the current reservation lapses (reserved only).
	// A reservation made before reservations expired has none and lapses
	// one reservation period after its UpdatedAt.
	ReservedUntil string `json:"reserved_until,omitempty"`
	// HeldBack is the last buyer whose reservation ended without a sale
	// (lapsed or released); it may not reserve the listing again before
	// HeldBackUntil, so that other buyers get their turn.
	HeldBack      string `json:"held_back,omitempty"`
	HeldBackUntil string `json:"held_back_until,omitempty"`
	CreatedAt     string `json:"created_at"`
	UpdatedAt     string `json:"updated_at"`
}

// Retirement purposes.
const (
	PurposeScope2     = "scope2-market-based"
	PurposeVoluntary  = "voluntary-offset"
	PurposeCompliance = "compliance"
	PurposeOther      = "other"
)

// RetirementPart is the part of one batch retired in a statement.
type RetirementPart struct {
	BatchID    string     `json:"batch_id"`
	Instrument Instrument `json:"instrument"`
	Quantity   int64      `json:"quantity"`
}

// RetirementStatement records one retirement request: irreversible (R4).
type RetirementStatement struct {
	ID            string           `json:"id"`
	Owner         string           `json:"owner"`
	Beneficiary   string           `json:"beneficiary"`
	Jurisdiction  string           `json:"jurisdiction"` // ISO 3166-2, e.g. ES-AN, or a country code
	Purpose       string           `json:"purpose"`
	ReportingYear int64            `json:"reporting_year"`
	Reason        string           `json:"reason"`
	Parts         []RetirementPart `json:"parts"`
	TxID          string           `json:"tx_id"`
	RetiredAt     string           `json:"retired_at"`
}

// Cancellation records units the registry cancelled.
type Cancellation struct {
	BatchID  string `json:"batch_id"`
	Owner    string `json:"owner"`
	Quantity int64  `json:"quantity"`
	Reason   string `json:"reason"`
	TxID     string `json:"tx_id"`
	At       string `json:"at"`
}

// FlagStatus is the state of an auditor's flag.
type FlagStatus string

// Flag states.
const (
	FlagOpen      FlagStatus = "open"
	FlagUpheld    FlagStatus = "upheld"
	FlagDismissed FlagStatus = "dismissed"
)

// Flag is an inquiry an auditor opened on a batch. While a batch has an open
// flag its units are frozen (R13): they cannot be transferred, listed,
// reserved, sold or retired, and a withdrawn batch cannot be reissued.
type Flag struct {
	ID         string     `json:"id"`
	BatchID    string     `json:"batch_id"`
	Auditor    string     `json:"auditor"`
	Reason     string     `json:"reason"`
	Status     FlagStatus `json:"status"`
	Resolution string     `json:"resolution,omitempty"`
	OpenedAt   string     `json:"opened_at"`
	ResolvedAt string     `json:"resolved_at,omitempty"`
}

// Account is an organisation's account on the registry: holdings belong to
// organisations, and units can only be transferred to an organisation that
// has an account. A miner or buyer organisation's account opens with its
// first holder transaction, or explicitly with OpenAccount.
type Account struct {
	MSPID    string `json:"msp_id"`
	Role     Role   `json:"role"`      // the role of the identity that opened it
	OpenedBy string `json:"opened_by"` // that identity's common name
	OpenedAt string `json:"opened_at"`
}
