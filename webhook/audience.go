package webhook

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/store"
)

// Who sees an event (R11). An organisation sees an event that touches its
// own data, the event's transactions it submitted itself, and, when it
// reads everything (the registry, admitted auditors), every event. A
// subscription that asks for public events also gets every mint, reissue
// and retirement, with only their public objects.

// publicFunctions are the transactions whose events are public: what they
// write can be verified by anyone (batches, attestations, retirement
// statements).
var publicFunctions = []string{greenmint.TxMint, greenmint.TxReissueBatch, greenmint.TxRetire}

// publicKinds are the kinds of object anyone may read (the public
// verification pages show them).
var publicKinds = []string{store.KindBatch, store.KindRetirement, "attestation"}

// ReadsEverything reports whether an organisation (MSP ID) reads every
// organisation's data: the registry and admitted auditors (R11).
type ReadsEverything func(ctx context.Context, org string) (bool, error)

// RegistryAndAuditors returns the ReadsEverything of a deployment whose
// registry organisation is registryMSP: that organisation, and the
// organisations the read model records as admitted to the auditor role now.
func RegistryAndAuditors(db *store.DB, registryMSP string) ReadsEverything {
	return func(ctx context.Context, org string) (bool, error) {
		if org == registryMSP {
			return true, nil
		}
		o, err := db.ReadModelOrganisation(ctx, org)
		if greenmint.ErrorCode(err) == greenmint.ENOTFOUND {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		return slices.Contains(o.Roles, greenmint.RoleAuditor), nil
	}
}

// audience decides, for the events of one round, which objects of an event
// an organisation may see. It reads the read model as it is now (an
// object's owner, a listing's parties, a batch's holders) and caches what
// it read for the round.
type audience struct {
	db       *store.DB
	reads    ReadsEverything
	everyone map[string]bool     // org → reads everything
	owners   map[string][]string // key → the organisations whose data it is
}

func newAudience(db *store.DB, reads ReadsEverything) *audience {
	return &audience{db: db, reads: reads, everyone: map[string]bool{}, owners: map[string][]string{}}
}

// objects returns the keys of ev that subscription s is sent, and whether
// it is sent the event at all.
func (a *audience) objects(ctx context.Context, s store.WebhookSubscription, ev store.RecordedEvent) ([]string, bool, error) {
	if len(s.Functions) > 0 && !slices.Contains(s.Functions, ev.Function) {
		return nil, false, nil
	}
	all, ok := a.everyone[s.Org]
	if !ok {
		var err error
		if all, err = a.reads(ctx, s.Org); err != nil {
			return nil, false, fmt.Errorf("webhook: whether %s reads everything: %w", s.Org, err)
		}
		a.everyone[s.Org] = all
	}
	if all || ev.Creator == s.Org {
		return ev.Keys, true, nil
	}
	var keys []string
	own := false
	for _, k := range ev.Keys {
		owners, err := a.ownersOf(ctx, k)
		if err != nil {
			return nil, false, err
		}
		switch {
		case slices.Contains(owners, s.Org):
			own = true
			keys = append(keys, k)
		case public(k):
			keys = append(keys, k)
		}
	}
	if own {
		return keys, true, nil
	}
	if s.Public && slices.Contains(publicFunctions, ev.Function) {
		return keys, true, nil // its public objects only
	}
	return nil, false, nil
}

func public(key string) bool {
	kind, _, _ := strings.Cut(key, "/")
	return slices.Contains(publicKinds, kind)
}

// ownersOf returns the organisations whose data the object key
// ("kind/attr/…") is: the holder of a holding, the owner of an account,
// site, meter or retirement, the seller of a listing, the owner, holders
// and auditor of a flagged batch.
// Objects the read model no longer has, and kinds that belong to no
// organisation (batches, policy, datasets, oracles, cancellations), have
// none.
func (a *audience) ownersOf(ctx context.Context, key string) ([]string, error) {
	if o, ok := a.owners[key]; ok {
		return o, nil
	}
	parts := strings.Split(key, "/")
	kind, attrs := parts[0], parts[1:]
	at := func(i int) string {
		if i < len(attrs) {
			return attrs[i]
		}
		return ""
	}
	var owners []string
	var err error
	switch kind {
	case store.KindHolding, "account", store.KindOrganisation:
		owners = []string{at(0)}
	case "holder":
		owners = []string{at(1)}
	case store.KindListing:
		owners, err = a.listingParties(ctx, at(0))
	case "batchlisting":
		owners, err = a.listingParties(ctx, at(1))
	case store.KindRetirement:
		owners, err = found(a.db.ReadModelRetirement(ctx, at(0)))(func(r greenmint.RetirementStatement) []string { return []string{r.Owner} })
	case store.KindSite, "sitemeter", "sitebatch", "sitehour":
		owners, err = found(a.db.ReadModelSite(ctx, at(0)))(func(s greenmint.Site) []string { return []string{s.Owner} })
	case store.KindMeter, "genhour":
		owners, err = found(a.db.ReadModelMeter(ctx, at(0)))(func(m greenmint.Meter) []string { return []string{m.Owner} })
	case store.KindFlag:
		owners, err = a.flagParties(ctx, at(0), at(1))
	}
	if err != nil {
		return nil, fmt.Errorf("webhook: who owns %s: %w", key, err)
	}
	a.owners[key] = owners
	return owners, nil
}

// found applies f to v unless err is not_found (no owners then).
func found[T any](v T, err error) func(f func(T) []string) ([]string, error) {
	return func(f func(T) []string) ([]string, error) {
		switch {
		case greenmint.ErrorCode(err) == greenmint.ENOTFOUND:
			return nil, nil
		case err != nil:
			return nil, err
		}
		return f(v), nil
	}
}

// listingParties are a listing's seller only: a listing's buyer changes
// (reservations are released and lapse, another buyer reserves), and the
// read model holds only its latest buyer, so deciding by it could show an
// event to a buyer that was not the buyer then. A buyer sees the events it
// submitted and the sale that fills its holding.
func (a *audience) listingParties(ctx context.Context, id string) ([]string, error) {
	return found(a.db.ReadModelListing(ctx, id))(func(l greenmint.Listing) []string { return nonEmpty(l.Seller) })
}

// flagParties are a flagged batch's owner, its holders and the flag's
// auditor.
func (a *audience) flagParties(ctx context.Context, batchID, flagID string) ([]string, error) {
	var out []string
	owner, err := found(a.db.ReadModelBatch(ctx, batchID))(func(b greenmint.Batch) []string { return []string{b.Owner} })
	if err != nil {
		return nil, err
	}
	out = append(out, owner...)
	auditor, err := found(a.db.ReadModelFlag(ctx, flagID))(func(f greenmint.Flag) []string { return []string{f.Auditor} })
	if err != nil {
		return nil, err
	}
	out = append(out, auditor...)
	for cursor := ""; ; {
		hs, next, err := a.db.ReadModelHoldings(ctx, store.Filter{BatchID: batchID, Cursor: cursor})
		if err != nil {
			return nil, err
		}
		for _, h := range hs {
			out = append(out, h.Owner)
		}
		if cursor = next; cursor == "" {
			break
		}
	}
	return nonEmpty(out...), nil
}

func nonEmpty(xs ...string) []string {
	var out []string
	for _, x := range xs {
		if x != "" && !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// Audience decides which of an event's objects an organisation may see
// (R11), for any consumer of the event stream (the gateway's Server-Sent
// Events use it as the Sender does). It caches what it reads from the read
// model: make one per batch of events, not one per connection.
type Audience struct{ a *audience }

// NewAudience returns an Audience reading db, with reads telling who reads
// everything.
func NewAudience(db *store.DB, reads ReadsEverything) *Audience {
	return &Audience{a: newAudience(db, reads)}
}

// Objects returns the keys of ev that organisation org may see and whether
// it is told the event at all; with public, the public events (mints,
// reissues, retirements) too, with their public objects only. An empty org
// is told the public events only.
func (x *Audience) Objects(ctx context.Context, org string, public bool, ev store.RecordedEvent) ([]string, bool, error) {
	return x.a.objects(ctx, store.WebhookSubscription{Org: org, Public: public}, ev)
}
