package api

import (
	"context"
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/internal/store"
)

// Written is the answer to a ledger write: what the contract returned, and
// the transaction and block that hold it.
type Written[T any] struct {
	TxID   string `json:"tx_id" doc:"The ledger transaction"`
	Block  uint64 `json:"block" doc:"The block that holds it"`
	Result T      `json:"result"`
}

type writtenOutput[T any] struct {
	Body Written[T]
}

// List is a page of a list: opaque cursors, at most 100 items.
type List[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty" doc:"Pass as cursor for the next page; absent on the last page"`
}

type listOutput[T any] struct {
	Link string `header:"Link" doc:"<…>; rel=\"next\" when there is a next page"`
	Body List[T]
}

// PageParams is every list's paging.
type PageParams struct {
	Cursor string `query:"cursor" maxLength:"512" doc:"From next_cursor of the previous page"`
	Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"50" doc:"Items per page (1 to 100)"`
}

type requestURLKey struct{}

// page makes a list's answer, with a Link to the next page: the request's
// own URL with the next cursor.
func page[T any](ctx context.Context, items []T, next string) *listOutput[T] {
	if items == nil {
		items = []T{}
	}
	out := &listOutput[T]{Body: List[T]{Items: items, NextCursor: next}}
	if u, ok := ctx.Value(requestURLKey{}).(*url.URL); ok && next != "" {
		q := u.Query()
		q.Set("cursor", next)
		out.Link = "<" + u.Path + "?" + q.Encode() + `>; rel="next"`
	}
	return out
}

// pageOf pages a list held whole (a contract query's answer, a small
// table): its items in the order given, after the cursor (the position
// after the last item of the previous page), at most p.Limit of them.
// The cursor is opaque to clients like every other list's.
func pageOf[T any](ctx context.Context, items []T, p PageParams) (*listOutput[T], error) {
	start, err := p.position()
	if err == nil && start > len(items) {
		err = greenmint.Errorf(greenmint.EINVALID, "cursor %q is not one this list returned", p.Cursor)
	}
	if err != nil {
		return nil, err
	}
	limit := p.Limit
	if limit <= 0 {
		limit = store.MaxPageLimit
	}
	end := min(start+limit, len(items))
	next := ""
	if end < len(items) {
		next = base64.RawURLEncoding.EncodeToString([]byte("at:" + strconv.Itoa(end)))
	}
	return page(ctx, items[start:end], next), nil
}

// position is where a pageOf cursor starts: 0 without one.
func (p PageParams) position() (int, error) {
	if p.Cursor == "" {
		return 0, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(p.Cursor)
	n, perr := strconv.Atoi(strings.TrimPrefix(string(raw), "at:"))
	if err != nil || perr != nil || !strings.HasPrefix(string(raw), "at:") || n < 0 {
		return 0, greenmint.Errorf(greenmint.EINVALID, "cursor %q is not one this list returned", p.Cursor)
	}
	return n, nil
}

// submit runs a contract write as the request's principal and records its
// latency.
func (g *Gateway) submit(ctx context.Context, fn string, req, resp any) (*greenmint.TxResult, error) {
	id, err := g.identityFor(ctx, principalOf(ctx))
	if err != nil {
		return nil, err
	}
	start := time.Now()
	res, err := greenmint.SubmitJSON(ctx, g.cfg.Ledger, id, fn, req, resp)
	outcome := "committed"
	if err != nil {
		outcome = greenmint.ErrorCode(err)
	}
	g.metrics.submit.WithLabelValues(fn, outcome).Observe(time.Since(start).Seconds())
	return res, err
}

// write submits and wraps the result.
func write[T any](ctx context.Context, g *Gateway, fn string, req any) (*writtenOutput[T], error) {
	var out T
	res, err := g.submit(ctx, fn, req, &out)
	if err != nil {
		return nil, err
	}
	return &writtenOutput[T]{Body: Written[T]{TxID: res.TxID, Block: res.BlockNumber, Result: out}}, nil
}

// evaluate runs a contract query as the request's principal: the
// contract's read rule (R11) decides.
func (g *Gateway) evaluate(ctx context.Context, fn string, req, resp any) error {
	id, err := g.identityFor(ctx, principalOf(ctx))
	if err != nil {
		return err
	}
	return greenmint.EvaluateJSON(ctx, g.cfg.Ledger, id, fn, req, resp)
}

// evaluateAsReader runs a public-verification query as the gateway's own
// identity.
func (g *Gateway) evaluateAsReader(ctx context.Context, fn string, req, resp any) error {
	id, err := g.cfg.Keyring.Identity(ctx, g.cfg.Reader)
	if err != nil {
		return err
	}
	return greenmint.EvaluateJSON(ctx, g.cfg.Ledger, id, fn, req, resp)
}

// roleCache remembers organisations' admitted roles for a few seconds: the
// read-model lists apply the contract's read rule with them.
type roleCache struct {
	mu sync.Mutex
	m  map[string]roleEntry
}

type roleEntry struct {
	roles []greenmint.Role
	at    time.Time
}

func newRoleCache() *roleCache { return &roleCache{m: map[string]roleEntry{}} }

const roleCacheTTL = 5 * time.Second

// roleCounts reports whether the principal's role counts (R11): the
// registry role for the registry's organisation, another role for an
// organisation the registry admitted to it.
func (g *Gateway) roleCounts(ctx context.Context, p *Principal) (bool, error) {
	if p.Role == greenmint.RoleRegistry {
		return p.Org == g.cfg.RegistryMSP, nil
	}
	g.roles.mu.Lock()
	e, ok := g.roles.m[p.Org]
	g.roles.mu.Unlock()
	if !ok || time.Since(e.at) > roleCacheTTL {
		var a greenmint.Admission
		err := g.evaluateAsReader(ctx, greenmint.QueryGetOrganization, greenmint.IDQuery{ID: p.Org}, &a)
		if err != nil && greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
			return false, err
		}
		e = roleEntry{roles: a.Roles, at: time.Now()}
		g.roles.mu.Lock()
		if len(g.roles.m) > 10_000 {
			clear(g.roles.m)
		}
		g.roles.m[p.Org] = e
		g.roles.mu.Unlock()
	}
	for _, r := range e.roles {
		if r == p.Role {
			return true, nil
		}
	}
	return false, nil
}

// readsEverything reports whether the principal is the registry or an
// admitted auditor, who read every organisation's data.
func (g *Gateway) readsEverything(ctx context.Context, p *Principal) (bool, error) {
	if p.Role != greenmint.RoleRegistry && p.Role != greenmint.RoleAuditor {
		return false, nil
	}
	return g.roleCounts(ctx, p)
}

// ownerScope is the organisation whose data a list shows: the principal's
// own, unless the registry or an admitted auditor names another (or none:
// everyone's). Anyone else naming another organisation is forbidden (R11).
func (g *Gateway) ownerScope(ctx context.Context, asked string) (string, error) {
	p := principalOf(ctx)
	all, err := g.readsEverything(ctx, p)
	if err != nil {
		return "", err
	}
	if all {
		return asked, nil
	}
	if ok, err := g.roleCounts(ctx, p); err != nil {
		return "", err
	} else if !ok {
		return "", greenmint.Errorf(greenmint.EFORBIDDEN, "organisation %s is not admitted as %s by the registry: a role counts only for an organisation admitted to it (R11)", p.Org, p.Role)
	}
	if asked != "" && asked != p.Org {
		return "", greenmint.Errorf(greenmint.EFORBIDDEN, "the data of %s is visible to %s, the registry and admitted auditors only (R11)", asked, asked)
	}
	return p.Org, nil
}

// filterOf is the store filter of a list's paging.
func filterOf(p PageParams) store.Filter {
	return store.Filter{Cursor: p.Cursor, Limit: p.Limit}
}
