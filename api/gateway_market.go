package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/auth"
	"github.com/greenmint/greenmint/internal/store"
)

// BatchFilters are a list's filters on the batch's columns, with paging.
type BatchFilters struct {
	PageParams
	Instrument string `query:"instrument" enum:"CO2E,EAC"`
	Country    string `query:"country" maxLength:"2" doc:"ISO 3166-1 alpha-2 of the site"`
	Technology string `query:"technology" maxLength:"64" doc:"A technology among the attestation's supplies, e.g. solar_pv_utility"`
	Vintage    int64  `query:"vintage" minimum:"0" maximum:"9999" doc:"The year the period starts"`
	// MinSurplusShare is store.Filter.MinSurplusBP.
	MinSurplusShare int64 `query:"min_surplus_share" minimum:"0" maximum:"10000" doc:"The least grid surplus share of the batch, in basis points (0 to 10000; 2500 = 25%): the share of its period's hours, gaps included, that were grid surplus hours, rounded down to a basis point. 0 or absent: any"`
}

// filter returns the store filter of a list's batch filters and paging.
func (in BatchFilters) filter() store.Filter {
	f := filterOf(in.PageParams)
	f.Instrument, f.Country, f.Technology, f.Vintage = in.Instrument, in.Country, in.Technology, in.Vintage
	f.MinSurplusBP = in.MinSurplusShare
	return f
}

func (g *Gateway) marketRoutes() {
	signedIn := access{scope: auth.ScopeLedgerRead}
	holders := []greenmint.Role{greenmint.RoleMiner, greenmint.RoleBuyer}
	market := access{roles: holders, scope: auth.ScopeMarketWrite}
	const tag = "market"

	huma.Register(g.api, operation(http.MethodGet, "/batches", "listBatches", "Search batches (public-verification data: every signed-in user sees every batch)", "certificates", signedIn),
		func(ctx context.Context, in *struct {
			BatchFilters
			Owner  string `query:"owner" maxLength:"64" doc:"The organisation it was minted to"`
			SiteID string `query:"site_id" maxLength:"64"`
			Status string `query:"status" enum:"active,withdrawn"`
		}) (*listOutput[greenmint.Batch], error) {
			f := in.filter()
			f.Owner, f.SiteID, f.Status = in.Owner, in.SiteID, in.Status
			items, next, err := g.cfg.DB.ReadModelBatches(ctx, f)
			if err != nil {
				return nil, err
			}
			return page(ctx, items, next), nil
		})
	huma.Register(g.api, operation(http.MethodGet, "/batches/{id}", "getBatch", "A batch (R3: issued = tradable + escrowed + retired + cancelled)", "certificates", signedIn),
		func(ctx context.Context, in *IDPath) (*bodyOf[greenmint.Batch], error) {
			var b greenmint.Batch
			if err := g.evaluate(ctx, greenmint.QueryGetBatch, greenmint.IDQuery{ID: in.ID}, &b); err != nil {
				return nil, err
			}
			return &bodyOf[greenmint.Batch]{b}, nil
		})
	huma.Register(g.api, operation(http.MethodGet, "/batches/{id}/history", "batchHistory", "Every committed change of a batch", "certificates", signedIn),
		func(ctx context.Context, in *historyInput) (*listOutput[greenmint.HistoryEntry], error) {
			return g.history(ctx, greenmint.QueryBatchHistory, in)
		})
	huma.Register(g.api, operation(http.MethodPost, "/account", "openAccount", "Open your organisation's account, so that it can receive transfers (its first holder transaction opens it too)", "certificates",
		access{roles: holders, scope: auth.ScopeCertificatesWrite}),
		func(ctx context.Context, in *struct{ IdemHeader }) (*writtenOutput[greenmint.Account], error) {
			req := greenmint.OpenAccountRequest{}
			req.IdempotencyKey = in.IdempotencyKey
			return write[greenmint.Account](ctx, g, greenmint.TxOpenAccount, req)
		})
	huma.Register(g.api, operation(http.MethodGet, "/account", "getAccount", "Your organisation's account", "certificates", signedIn),
		func(ctx context.Context, _ *struct{}) (*bodyOf[greenmint.Account], error) {
			var a greenmint.Account
			if err := g.evaluate(ctx, greenmint.QueryGetAccount, greenmint.IDQuery{ID: principalOf(ctx).Org}, &a); err != nil {
				return nil, err
			}
			return &bodyOf[greenmint.Account]{a}, nil
		})
	huma.Register(g.api, operation(http.MethodGet, "/holdings", "listHoldings", "Holdings: your organisation's portfolio (the registry and admitted auditors: anyone's)", "certificates", signedIn),
		func(ctx context.Context, in *struct {
			BatchFilters
			Owner   string `query:"owner" maxLength:"64"`
			BatchID string `query:"batch_id" maxLength:"128"`
		}) (*listOutput[greenmint.Holding], error) {
			owner, err := g.ownerScope(ctx, in.Owner)
			if err != nil {
				return nil, err
			}
			f := in.filter()
			f.Owner, f.BatchID = owner, in.BatchID
			items, next, err := g.cfg.DB.ReadModelHoldings(ctx, f)
			if err != nil {
				return nil, err
			}
			return page(ctx, items, next), nil
		})
	huma.Register(g.api, operation(http.MethodGet, "/retirements", "listRetirements", "Retirement statements: your organisation's (the registry and admitted auditors: everyone's)", "certificates", signedIn),
		func(ctx context.Context, in *struct {
			PageParams
			Owner         string `query:"owner" maxLength:"64"`
			Beneficiary   string `query:"beneficiary" maxLength:"200"`
			ReportingYear int64  `query:"reporting_year" minimum:"0" maximum:"9999"`
		}) (*listOutput[greenmint.RetirementStatement], error) {
			owner, err := g.ownerScope(ctx, in.Owner)
			if err != nil {
				return nil, err
			}
			f := filterOf(in.PageParams)
			f.Owner, f.Beneficiary, f.ReportingYear = owner, in.Beneficiary, in.ReportingYear
			items, next, err := g.cfg.DB.ReadModelRetirements(ctx, f)
			if err != nil {
				return nil, err
			}
			return page(ctx, items, next), nil
		})
	huma.Register(g.api, operation(http.MethodGet, "/retirements/{id}", "getRetirement", "A retirement statement", "certificates", signedIn),
		func(ctx context.Context, in *IDPath) (*bodyOf[greenmint.RetirementStatement], error) {
			var st greenmint.RetirementStatement
			if err := g.evaluate(ctx, greenmint.QueryGetRetirement, greenmint.IDQuery{ID: in.ID}, &st); err != nil {
				return nil, err
			}
			return &bodyOf[greenmint.RetirementStatement]{st}, nil
		})

	huma.Register(g.api, operation(http.MethodGet, "/listings", "listListings", "The marketplace: open listings by default; status=reserved|sold|cancelled, or seller=me / buyer=me for your own", tag, signedIn),
		func(ctx context.Context, in *struct {
			BatchFilters
			Status string `query:"status" enum:"open,reserved,sold,cancelled" doc:"Default open; other statuses need seller=me or buyer=me, unless you read everything"`
			Seller string `query:"seller" maxLength:"64" doc:"me, or (registry, auditors) an organisation"`
			Buyer  string `query:"buyer" maxLength:"64" doc:"me, or (registry, auditors) an organisation"`
		}) (*listOutput[greenmint.Listing], error) {
			p := principalOf(ctx)
			f := in.filter()
			f.Status = in.Status
			for _, who := range []struct {
				asked string
				dst   *string
			}{{in.Seller, &f.Owner}, {in.Buyer, &f.Buyer}} {
				if who.asked == "me" {
					*who.dst = p.Org
				} else if who.asked != "" {
					scope, err := g.ownerScope(ctx, who.asked)
					if err != nil {
						return nil, err
					}
					*who.dst = scope
				}
			}
			all, err := g.readsEverything(ctx, p)
			if err != nil {
				return nil, err
			}
			if !all {
				if ok, err := g.roleCounts(ctx, p); err != nil {
					return nil, err
				} else if !ok {
					return nil, greenmint.Errorf(greenmint.EFORBIDDEN, "organisation %s is not admitted as %s by the registry (R11)", p.Org, p.Role)
				}
				if f.Status == "" {
					f.Status = string(greenmint.ListingOpen)
				}
				if f.Status != string(greenmint.ListingOpen) && f.Owner == "" && f.Buyer == "" {
					return nil, greenmint.Errorf(greenmint.EFORBIDDEN, "%s listings are visible to their seller, their buyer, the registry and admitted auditors: add seller=me or buyer=me (R11)", f.Status)
				}
			}
			items, next, err := g.cfg.DB.ReadModelListings(ctx, f)
			if err != nil {
				return nil, err
			}
			return page(ctx, items, next), nil
		})
	huma.Register(g.api, operation(http.MethodPost, "/listings", "listForSale", "List part of a holding for sale: the units are escrowed", tag, market),
		func(ctx context.Context, in *struct {
			IdemHeader
			Body ListBody
		}) (*writtenOutput[greenmint.Listing], error) {
			req := greenmint.ListRequest{BatchID: in.Body.BatchID, Quantity: in.Body.Quantity, PriceMinor: in.Body.PriceMinor, Currency: in.Body.Currency}
			req.IdempotencyKey = in.IdempotencyKey
			return write[greenmint.Listing](ctx, g, greenmint.TxListForSale, req)
		})
	huma.Register(g.api, operation(http.MethodGet, "/listings/{id}", "getListing", "A listing", tag, signedIn),
		func(ctx context.Context, in *IDPath) (*bodyOf[greenmint.Listing], error) {
			var l greenmint.Listing
			if err := g.evaluate(ctx, greenmint.QueryGetListing, greenmint.IDQuery{ID: in.ID}, &l); err != nil {
				return nil, err
			}
			return &bodyOf[greenmint.Listing]{l}, nil
		})
	for _, s := range []struct{ verb, id, summary, fn string }{
		{"reserve", "reserveListing", "Reserve a listing (buyer): pay off-ledger before it lapses", greenmint.TxReserveListing},
		{"release", "releaseReservation", "Release your reservation", greenmint.TxReleaseReservation},
		{"confirm", "confirmPayment", "Confirm payment (seller): the escrowed units move to the buyer", greenmint.TxConfirmPayment},
		{"cancel", "cancelListing", "Cancel your open listing: the units return to your holding", greenmint.TxCancelListing},
	} {
		huma.Register(g.api, operation(http.MethodPost, "/listings/{id}/"+s.verb, s.id, s.summary, tag, market),
			func(ctx context.Context, in *IDPath) (*writtenOutput[greenmint.Listing], error) {
				req := greenmint.ListingRequest{ListingID: in.ID}
				req.IdempotencyKey = in.IdempotencyKey
				return write[greenmint.Listing](ctx, g, s.fn, req)
			})
	}
}
