package chaincode

import (
	"fmt"

	"github.com/greenmint/greenmint"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// Name is the chaincode's name on the channel.
const Name = "greenmint"

// Contract is Greenmint's certificate contract. Every transaction takes one
// JSON request (see the greenmint package's request types) and returns JSON.
type Contract struct {
	contractapi.Contract
	cfg Config
}

// Config is the contract's deployment configuration. It must be the same on
// every peer that endorses the contract.
type Config struct {
	// RegistryMSP is the MSP ID of the registry authority's organisation:
	// only a registry identity of this organisation may Bootstrap the
	// ledger, which records it as the registry for good. Empty: Bootstrap is
	// refused. Once the ledger is bootstrapped, its recorded registry rules
	// and this setting is not read again.
	RegistryMSP string
}

// New returns the contract configured by cfg as a chaincode, ready for
// shim.Start, a chaincode server or the embedded ledger. A malformed
// RegistryMSP is EINVALID.
func New(cfg Config) (*contractapi.ContractChaincode, error) {
	if cfg.RegistryMSP != "" {
		if err := checkID("registry MSP", cfg.RegistryMSP, mspPattern); err != nil {
			return nil, fmt.Errorf("chaincode.New: %w", err)
		}
	}
	c := &Contract{cfg: cfg}
	c.Name = "Greenmint"
	c.Info.Title = "Greenmint certificate contract"
	c.Info.Version = "1.0.0"
	cc, err := contractapi.NewChaincode(c)
	if err != nil {
		return nil, err
	}
	cc.DefaultContract = c.Name
	cc.Info.Title = c.Info.Title
	cc.Info.Version = c.Info.Version
	return cc, nil
}

// Ctx is the transaction context every transaction receives.
type Ctx = contractapi.TransactionContextInterface

// Bootstrap records the configured registry organisation as the registry
// authority and sets the first policy. Only a registry identity of that
// organisation may call it, and it succeeds once.
func (c *Contract) Bootstrap(ctx Ctx, request string) (string, error) {
	return write(ctx, greenmint.TxBootstrap, request, func(t *txn, r *greenmint.PolicyRequest) (any, error) {
		return t.bootstrap(r, c.cfg.RegistryMSP)
	})
}

// AdmitOrganization admits an organisation to roles (R11).
func (c *Contract) AdmitOrganization(ctx Ctx, request string) (string, error) {
	return write(ctx, greenmint.TxAdmitOrganization, request, (*txn).admitOrganization)
}

// RevokeOrganizationRole withdraws a role from an organisation (R11).
func (c *Contract) RevokeOrganizationRole(ctx Ctx, request string) (string, error) {
	return write(ctx, greenmint.TxRevokeOrganizationRole, request, (*txn).revokeOrganizationRole)
}

// OpenAccount opens the calling miner's or buyer's organisation's account.
func (c *Contract) OpenAccount(ctx Ctx, request string) (string, error) {
	return write(ctx, greenmint.TxOpenAccount, request, (*txn).openAccount)
}

// SetPolicy changes the oracle signature threshold and the tolerance.
func (c *Contract) SetPolicy(ctx Ctx, request string) (string, error) {
	return write(ctx, greenmint.TxSetPolicy, request, (*txn).setPolicy)
}

// RegisterOracle registers an oracle's attestation-signing key.
func (c *Contract) RegisterOracle(ctx Ctx, request string) (string, error) {
	return write(ctx, greenmint.TxRegisterOracle, request, (*txn).registerOracle)
}

// RevokeOracle revokes an oracle's key.
func (c *Contract) RevokeOracle(ctx Ctx, request string) (string, error) {
	return write(ctx, greenmint.TxRevokeOracle, request, (*txn).revokeOracle)
}

// PublishDataset registers an emission-factor dataset with its SHA-256.
func (c *Contract) PublishDataset(ctx Ctx, request string) (string, error) {
	return write(ctx, greenmint.TxPublishDataset, request, (*txn).publishDataset)
}

// RegisterSite registers a miner's site, pending approval.
func (c *Contract) RegisterSite(ctx Ctx, request string) (string, error) {
	return write(ctx, greenmint.TxRegisterSite, request, (*txn).registerSite)
}

// RegisterMeter registers a meter of a miner's site, pending approval.
func (c *Contract) RegisterMeter(ctx Ctx, request string) (string, error) {
	return write(ctx, greenmint.TxRegisterMeter, request, (*txn).registerMeter)
}

// AmendSite replaces a pending site's registration, by its owner, checked
// as RegisterSite checks it. An approved or suspended site is not amended.
func (c *Contract) AmendSite(ctx Ctx, request string) (string, error) {
	return write(ctx, greenmint.TxAmendSite, request, (*txn).amendSite)
}

// AmendMeter replaces a pending meter's registration, by its owner, checked
// as RegisterMeter checks it. An approved or suspended meter is not amended.
func (c *Contract) AmendMeter(ctx Ctx, request string) (string, error) {
	return write(ctx, greenmint.TxAmendMeter, request, (*txn).amendMeter)
}

// ApproveSite approves a site.
func (c *Contract) ApproveSite(ctx Ctx, request string) (string, error) {
	return write(ctx, greenmint.TxApproveSite, request, func(t *txn, r *greenmint.StatusRequest) (any, error) {
		return t.setSiteStatus(r, greenmint.StatusApproved)
	})
}

// SuspendSite suspends a site, with a reason.
func (c *Contract) SuspendSite(ctx Ctx, request string) (string, error) {
	return write(ctx, greenmint.TxSuspendSite, request, func(t *txn, r *greenmint.StatusRequest) (any, error) {
		return t.setSiteStatus(r, greenmint.StatusSuspended)
	})
}

// ApproveMeter approves a meter.
func (c *Contract) ApproveMeter(ctx Ctx, request string) (string, error) {
	return write(ctx, greenmint.TxApproveMeter, request, func(t *txn, r *greenmint.StatusRequest) (any, error) {
		return t.setMeterStatus(r, greenmint.StatusApproved)
	})
}

// SuspendMeter suspends a meter, with a reason.
func (c *Contract) SuspendMeter(ctx Ctx, request string) (string, error) {
	return write(ctx, greenmint.TxSuspendMeter, request, func(t *txn, r *greenmint.StatusRequest) (any, error) {
		return t.setMeterStatus(r, greenmint.StatusSuspended)
	})
}

// Mint verifies a co-signed attestation again and mints its batch.
func (c *Contract) Mint(ctx Ctx, request string) (string, error) {
	return write(ctx, greenmint.TxMint, request, func(t *txn, r *greenmint.MintRequest) (any, error) { return t.mint(r) })
}

// Transfer moves tradable units of a holding to another organisation.
func (c *Contract) Transfer(ctx Ctx, request string) (string, error) {
	return write(ctx, greenmint.TxTransfer, request, (*txn).transfer)
}

// ListForSale escrows part of a holding in a new listing.
func (c *Contract) ListForSale(ctx Ctx, request string) (string, error) {
	return write(ctx, greenmint.TxListForSale, request, (*txn).listForSale)
}

// ReserveListing reserves an open listing for the calling buyer.
func (c *Contract) ReserveListing(ctx Ctx, request string) (string, error) {
	return write(ctx, greenmint.TxReserveListing, request, (*txn).reserveListing)
}

// ReleaseReservation reopens a reserved listing.
func (c *Contract) ReleaseReservation(ctx Ctx, request string) (string, error) {
	return write(ctx, greenmint.TxReleaseReservation, request, (*txn).releaseReservation)
}

// ConfirmPayment, called by the seller, moves the escrow to the buyer.
func (c *Contract) ConfirmPayment(ctx Ctx, request string) (string, error) {
	return write(ctx, greenmint.TxConfirmPayment, request, (*txn).confirmPayment)
}

// CancelListing returns an open listing's escrow to the seller.
func (c *Contract) CancelListing(ctx Ctx, request string) (string, error) {
	return write(ctx, greenmint.TxCancelListing, request, (*txn).cancelListing)
}

// Retire retires one or several parts in one retirement statement.
func (c *Contract) Retire(ctx Ctx, request string) (string, error) {
	return write(ctx, greenmint.TxRetire, request, (*txn).retire)
}

// CancelUnits cancels tradable units of a holding, with a reason.
func (c *Contract) CancelUnits(ctx Ctx, request string) (string, error) {
	return write(ctx, greenmint.TxCancelUnits, request, (*txn).cancelUnits)
}

// WithdrawBatch withdraws a batch for correction.
func (c *Contract) WithdrawBatch(ctx Ctx, request string) (string, error) {
	return write(ctx, greenmint.TxWithdrawBatch, request, (*txn).withdrawBatch)
}

// ReissueBatch mints a corrected batch linked to a withdrawn one.
func (c *Contract) ReissueBatch(ctx Ctx, request string) (string, error) {
	return write(ctx, greenmint.TxReissueBatch, request, (*txn).reissueBatch)
}

// FlagBatch opens an auditor's inquiry, freezing the batch.
func (c *Contract) FlagBatch(ctx Ctx, request string) (string, error) {
	return write(ctx, greenmint.TxFlagBatch, request, (*txn).flagBatch)
}

// ResolveFlag closes an inquiry as upheld or dismissed.
func (c *Contract) ResolveFlag(ctx Ctx, request string) (string, error) {
	return write(ctx, greenmint.TxResolveFlag, request, (*txn).resolveFlag)
}

// GetPolicy returns the registry's policy.
func (c *Contract) GetPolicy(ctx Ctx, request string) (string, error) {
	return query(ctx, greenmint.QueryGetPolicy, request, (*txn).getPolicy)
}

// GetAccount returns an organisation's account, to the organisation, the
// registry and admitted auditors.
func (c *Contract) GetAccount(ctx Ctx, request string) (string, error) {
	return query(ctx, greenmint.QueryGetAccount, request, (*txn).getAccount)
}

// GetSite returns a site.
func (c *Contract) GetSite(ctx Ctx, request string) (string, error) {
	return query(ctx, greenmint.QueryGetSite, request, getOne[greenmint.Site]("site", kindSite))
}

// GetMeter returns a meter.
func (c *Contract) GetMeter(ctx Ctx, request string) (string, error) {
	return query(ctx, greenmint.QueryGetMeter, request, getOne[greenmint.Meter]("meter", kindMeter))
}

// GetMeters returns the meters of a list of IDs (at most
// greenmint.MaxIDsPerQuery), leaving out those not registered: an oracle
// learns a whole batch's meters in one evaluation.
func (c *Contract) GetMeters(ctx Ctx, request string) (string, error) {
	return query(ctx, greenmint.QueryGetMeters, request, (*txn).getMeters)
}

// SiteHistory returns every committed version of a site: its registration,
// amendments and status changes.
func (c *Contract) SiteHistory(ctx Ctx, request string) (string, error) {
	return query(ctx, greenmint.QuerySiteHistory, request, (*txn).siteHistory)
}

// MeterHistory returns every committed version of a meter: its
// registration, amendments and status changes.
func (c *Contract) MeterHistory(ctx Ctx, request string) (string, error) {
	return query(ctx, greenmint.QueryMeterHistory, request, (*txn).meterHistory)
}

// GetOracle returns an oracle registration.
func (c *Contract) GetOracle(ctx Ctx, request string) (string, error) {
	return query(ctx, greenmint.QueryGetOracle, request, getOne[greenmint.OracleRegistration]("oracle", kindOracle))
}

// ListOracles returns every oracle registration.
func (c *Contract) ListOracles(ctx Ctx, request string) (string, error) {
	return query(ctx, greenmint.QueryListOracles, request, listAll[greenmint.OracleRegistration](kindOracle))
}

// GetDataset returns one dataset version with its values.
func (c *Contract) GetDataset(ctx Ctx, request string) (string, error) {
	return query(ctx, greenmint.QueryGetDataset, request, (*txn).getDataset)
}

// ListDatasets returns every dataset.
func (c *Contract) ListDatasets(ctx Ctx, request string) (string, error) {
	return query(ctx, greenmint.QueryListDatasets, request, listAll[greenmint.Dataset](kindDataset))
}

// GetBatch returns a batch.
func (c *Contract) GetBatch(ctx Ctx, request string) (string, error) {
	return query(ctx, greenmint.QueryGetBatch, request, getOne[greenmint.Batch]("batch", kindBatch))
}

// GetAttestation returns a minted attestation with its signatures.
func (c *Contract) GetAttestation(ctx Ctx, request string) (string, error) {
	return query(ctx, greenmint.QueryGetAttestation, request, getOne[greenmint.AttestationRecord]("attestation", kindAttestation))
}

// HoldingsByOwner returns a page of an organisation's holdings, to the
// organisation, the registry and admitted auditors.
func (c *Contract) HoldingsByOwner(ctx Ctx, request string) (string, error) {
	return query(ctx, greenmint.QueryHoldingsByOwner, request, (*txn).holdingsByOwner)
}

// BatchHolders returns a page of a batch's holdings, to the registry and
// admitted auditors.
func (c *Contract) BatchHolders(ctx Ctx, request string) (string, error) {
	return query(ctx, greenmint.QueryBatchHolders, request, (*txn).batchHolders)
}

// BatchHistory returns every committed version of a batch.
func (c *Contract) BatchHistory(ctx Ctx, request string) (string, error) {
	return query(ctx, greenmint.QueryBatchHistory, request, (*txn).batchHistory)
}

// HoldingHistory returns every committed version of a holding, to the
// owner, the registry and admitted auditors.
func (c *Contract) HoldingHistory(ctx Ctx, request string) (string, error) {
	return query(ctx, greenmint.QueryHoldingHistory, request, (*txn).holdingHistory)
}

// GetListing returns a listing to its seller, its buyer, the registry and
// admitted auditors; an open listing also to admitted miners and buyers.
func (c *Contract) GetListing(ctx Ctx, request string) (string, error) {
	return query(ctx, greenmint.QueryGetListing, request, (*txn).getListing)
}

// GetRetirement returns a retirement statement.
func (c *Contract) GetRetirement(ctx Ctx, request string) (string, error) {
	return query(ctx, greenmint.QueryGetRetirement, request, getOne[greenmint.RetirementStatement]("retirement statement", kindRetirement))
}

// ClaimsBySite returns a site's batches that overlap a period.
func (c *Contract) ClaimsBySite(ctx Ctx, request string) (string, error) {
	return query(ctx, greenmint.QueryClaimsBySite, request, (*txn).claimsBySite)
}

// ListFlags returns a batch's auditor flags to its owner, its holders, the
// registry and admitted auditors.
func (c *Contract) ListFlags(ctx Ctx, request string) (string, error) {
	return query(ctx, greenmint.QueryListFlags, request, (*txn).listFlags)
}

// SiteMeters returns the meters registered with a site.
func (c *Contract) SiteMeters(ctx Ctx, request string) (string, error) {
	return query(ctx, greenmint.QuerySiteMeters, request, (*txn).siteMeters)
}

// GenerationHours returns what attestations took from a generation meter's
// hours in a period, so that an oracle offers only what is left (R1).
func (c *Contract) GenerationHours(ctx Ctx, request string) (string, error) {
	return query(ctx, greenmint.QueryGenerationHours, request, (*txn).generationHours)
}

// GetOrganization returns an organisation's admission record.
func (c *Contract) GetOrganization(ctx Ctx, request string) (string, error) {
	return query(ctx, greenmint.QueryGetOrganization, request, getOne[greenmint.Admission]("organisation", kindOrg))
}

// ListOrganizations returns every organisation's admission record.
func (c *Contract) ListOrganizations(ctx Ctx, request string) (string, error) {
	return query(ctx, greenmint.QueryListOrganizations, request, listAll[greenmint.Admission](kindOrg))
}
