package api

import (
	"context"
	"crypto/ed25519"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/auth"
	"github.com/greenmint/greenmint/bundle"
	"github.com/greenmint/greenmint/internal/store"
	"github.com/greenmint/greenmint/statement"
)

// TxRef is a ledger transaction and the block that holds it.
type TxRef struct {
	TxID      string `json:"tx_id"`
	Block     uint64 `json:"block" doc:"0 when the read model has not seen it yet"`
	Timestamp string `json:"timestamp,omitempty"`
	Function  string `json:"function,omitempty"`
}

// SignatureCheck is one oracle signature as verified.
type SignatureCheck struct {
	OracleID string `json:"oracle_id"`
	Status   string `json:"status" doc:"The oracle key's status now: active or revoked"`
	Valid    bool   `json:"valid" doc:"The Ed25519 signature verifies over the attestation's canonical bytes with the registered key"`
}

// Checks are the verifications of a batch, each true or false with what
// failed.
type Checks struct {
	Verified          bool             `json:"verified" doc:"Every check below holds"`
	AttestationHash   bool             `json:"attestation_hash" doc:"The attestation's SHA-256 over its canonical bytes is its ID, the batch's attestation_id"`
	Signatures        []SignatureCheck `json:"signatures"`
	SignaturesValid   bool             `json:"signatures_valid" doc:"At least the threshold of distinct registered oracles signed, every signature valid (R5)"`
	Threshold         int64            `json:"threshold"`
	DatasetMatches    bool             `json:"dataset_matches" doc:"The pinned dataset is registered with this SHA-256 (R9)"`
	QuantitiesBalance bool             `json:"quantities_balance" doc:"issued = tradable + escrowed + retired + cancelled (R3)"`
	QuantityMatches   bool             `json:"quantity_matches" doc:"The batch issued what the attestation computes (after carried retirements, for a reissue)"`
	Problems          []string         `json:"problems,omitempty"`
}

// BatchVerification is the public verification of a batch.
type BatchVerification struct {
	Batch        greenmint.Batch `json:"batch"`
	ReadingsRoot string          `json:"readings_root" doc:"The Merkle root of the meter readings the attestation covers"`
	PeriodStart  string          `json:"period_start"`
	PeriodEnd    string          `json:"period_end"`
	MatchedWh    int64           `json:"matched_wh"`
	Mint         TxRef           `json:"mint"`
	Checks       Checks          `json:"checks"`
}

// RetirementVerification is the public verification of a statement.
type RetirementVerification struct {
	Statement greenmint.RetirementStatement `json:"statement"`
	Retired   TxRef                         `json:"retired"`
	Batches   []BatchVerification           `json:"batches"`
	Verified  bool                          `json:"verified" doc:"Every part's batch verifies and holds at least the retired units"`
}

// ListingVerification is the public view of a listing: its state and the
// batch behind it. The price shows while the listing is open (an offer to
// the market), the buyer never.
type ListingVerification struct {
	ID         string                  `json:"id"`
	BatchID    string                  `json:"batch_id"`
	Seller     string                  `json:"seller"`
	Quantity   int64                   `json:"quantity"`
	Status     greenmint.ListingStatus `json:"status"`
	PriceMinor int64                   `json:"price_minor,omitempty"`
	Currency   string                  `json:"currency,omitempty"`
	CreatedAt  string                  `json:"created_at"`
	UpdatedAt  string                  `json:"updated_at"`
	Batch      BatchVerification       `json:"batch"`
}

// Provenance is a batch's whole story for an auditor.
type Provenance struct {
	BatchVerification
	Attestation greenmint.AttestationRecord `json:"attestation"`
	History     []HistoryRef                `json:"history" doc:"Every change of the batch, oldest first"`
	Holdings    []greenmint.Holding         `json:"holdings"`
	Listings    []greenmint.Listing         `json:"listings"`
	Flags       []greenmint.Flag            `json:"flags"`
}

// HistoryRef is a history entry and the block of its transaction.
type HistoryRef struct {
	greenmint.HistoryEntry
	Block uint64 `json:"block"`
}

// verifyCache keeps attestation checks (immutable once minted) by
// attestation ID, and whole public answers while the read model has not
// moved.
type verifyCache struct {
	mu    sync.Mutex
	max   int
	att   map[string]attCheck
	batch map[string]cachedBatch
}

type attCheck struct {
	record greenmint.AttestationRecord
	checks Checks
}

type cachedBatch struct {
	at store.Checkpoint
	v  BatchVerification
}

func newVerifyCache(max int) *verifyCache {
	return &verifyCache{max: max, att: map[string]attCheck{}, batch: map[string]cachedBatch{}}
}

// verifyBatch verifies a batch from the read model and the ledger.
func (g *Gateway) verifyBatch(ctx context.Context, id string) (BatchVerification, greenmint.AttestationRecord, error) {
	cp := g.cfg.Projector.Checkpoint()
	g.verify.mu.Lock()
	if c, ok := g.verify.batch[id]; ok && c.at == cp {
		ac := g.verify.att[c.v.Batch.AttestationID]
		g.verify.mu.Unlock()
		return c.v, ac.record, nil
	}
	g.verify.mu.Unlock()
	b, err := g.cfg.DB.ReadModelBatch(ctx, id)
	if err != nil {
		return BatchVerification{}, greenmint.AttestationRecord{}, err
	}
	ac, err := g.attestationChecks(ctx, b.AttestationID)
	if err != nil {
		return BatchVerification{}, greenmint.AttestationRecord{}, err
	}
	ch := ac.checks
	ch.Problems = append([]string(nil), ch.Problems...)
	ch.QuantitiesBalance = b.Issued >= 0 && b.Tradable >= 0 && b.Escrowed >= 0 && b.Retired >= 0 && b.Cancelled >= 0 &&
		b.Issued == b.Tradable+b.Escrowed+b.Retired+b.Cancelled
	if !ch.QuantitiesBalance {
		ch.Problems = append(ch.Problems, "issued differs from tradable + escrowed + retired + cancelled (R3)")
	}
	a := ac.record.Attestation.Attestation
	ch.QuantityMatches = ac.record.BatchID != "" && a.Quantity == b.Issued+b.CarriedRetired
	if b.Instrument == greenmint.EAC {
		ch.QuantityMatches = a.Totals.MatchedWh == b.Issued+b.CarriedRetired
	}
	if !ch.QuantityMatches {
		ch.Problems = append(ch.Problems, "the batch did not issue what its attestation computes")
	}
	if ch.AttestationHash && b.AttestationID != ac.record.ID {
		ch.AttestationHash = false
		ch.Problems = append(ch.Problems, "the batch names another attestation")
	}
	ch.Verified = ch.AttestationHash && ch.SignaturesValid && ch.DatasetMatches && ch.QuantitiesBalance && ch.QuantityMatches
	v := BatchVerification{Batch: b, ReadingsRoot: a.ReadingsRoot, PeriodStart: a.PeriodStart, PeriodEnd: a.PeriodEnd, MatchedWh: a.Totals.MatchedWh,
		Mint: g.txRef(ctx, b.MintTxID), Checks: ch}
	g.verify.mu.Lock()
	if len(g.verify.batch) >= g.verify.max {
		clear(g.verify.batch)
	}
	g.verify.batch[id] = cachedBatch{at: cp, v: v}
	g.verify.mu.Unlock()
	return v, ac.record, nil
}

// txRef finds a transaction's block in the read model.
func (g *Gateway) txRef(ctx context.Context, txID string) TxRef {
	r := TxRef{TxID: txID}
	if block, _, ok, err := g.cfg.DB.ReadModelTxPosition(ctx, txID); err == nil && ok {
		r.Block = block
	}
	return r
}

// attestationChecks verifies an attestation once: its hash, its oracle
// signatures with the registered keys, its dataset.
func (g *Gateway) attestationChecks(ctx context.Context, id string) (attCheck, error) {
	g.verify.mu.Lock()
	ac, ok := g.verify.att[id]
	g.verify.mu.Unlock()
	if ok {
		return ac, nil
	}
	var rec greenmint.AttestationRecord
	if err := g.evaluateAsReader(ctx, greenmint.QueryGetAttestation, greenmint.IDQuery{ID: id}, &rec); err != nil {
		return attCheck{}, err
	}
	var pol greenmint.Policy
	if err := g.evaluateAsReader(ctx, greenmint.QueryGetPolicy, struct{}{}, &pol); err != nil {
		return attCheck{}, err
	}
	a := &rec.Attestation.Attestation
	ch := Checks{Threshold: pol.Threshold, Signatures: []SignatureCheck{}}
	if got, err := a.ID(); err == nil && got == rec.ID {
		ch.AttestationHash = true
	} else {
		ch.Problems = append(ch.Problems, "the attestation's hash is not its ID")
	}
	canon, err := a.Canonical()
	if err != nil {
		return attCheck{}, err
	}
	msg := greenmint.SigningBytes(greenmint.ContextAttestation, canon)
	seen := map[string]bool{}
	valid := 0
	for _, s := range rec.Attestation.Signatures {
		sc := SignatureCheck{OracleID: s.OracleID}
		var reg greenmint.OracleRegistration
		err := g.evaluateAsReader(ctx, greenmint.QueryGetOracle, greenmint.IDQuery{ID: s.OracleID}, &reg)
		switch {
		case greenmint.ErrorCode(err) == greenmint.ENOTFOUND:
			sc.Status = "unregistered"
		case err != nil:
			return attCheck{}, err
		default:
			sc.Status = string(reg.Status)
			sc.Valid = len(reg.PublicKey) == ed25519.PublicKeySize && ed25519.Verify(reg.PublicKey, msg, s.Signature)
		}
		if sc.Valid && !seen[string(reg.PublicKey)] {
			seen[string(reg.PublicKey)] = true
			valid++
		} else if !sc.Valid {
			ch.Problems = append(ch.Problems, "the signature of oracle "+s.OracleID+" does not verify")
		}
		ch.Signatures = append(ch.Signatures, sc)
	}
	ch.SignaturesValid = valid == len(rec.Attestation.Signatures) && int64(valid) >= pol.Threshold
	if int64(valid) < pol.Threshold {
		ch.Problems = append(ch.Problems, "fewer valid signatures than the threshold")
	}
	var ds greenmint.Dataset
	err = g.evaluateAsReader(ctx, greenmint.QueryGetDataset, greenmint.DatasetQuery{ID: a.Dataset.ID, Version: a.Dataset.Version}, &ds)
	if err != nil && greenmint.ErrorCode(err) != greenmint.ENOTFOUND {
		return attCheck{}, err
	}
	ch.DatasetMatches = err == nil && ds.SHA256 == a.Dataset.SHA256
	if !ch.DatasetMatches {
		ch.Problems = append(ch.Problems, "the pinned dataset is not registered with this SHA-256")
	}
	ac = attCheck{record: rec, checks: ch}
	g.verify.mu.Lock()
	if len(g.verify.att) >= g.verify.max {
		clear(g.verify.att)
	}
	g.verify.att[id] = ac
	g.verify.mu.Unlock()
	return ac, nil
}

func (g *Gateway) publicRoutes() {
	anyone := access{public: true}
	const tag = "public"
	huma.Register(g.api, operation(http.MethodGet, "/public/batches/{id}", "verifyBatch", "Verify a batch: status, quantities, the mint transaction and block, and whether every signature and hash checks out", tag, anyone),
		func(ctx context.Context, in *IDPath) (*bodyOf[BatchVerification], error) {
			v, _, err := g.verifyBatch(ctx, in.ID)
			if err != nil {
				return nil, err
			}
			return &bodyOf[BatchVerification]{v}, nil
		})
	huma.Register(g.api, operation(http.MethodGet, "/public/retirements/{id}", "verifyRetirement", "Verify a retirement statement: beneficiary, purpose, parts, the transaction and block, and each batch's verification", tag, anyone),
		func(ctx context.Context, in *IDPath) (*bodyOf[RetirementVerification], error) {
			st, err := g.cfg.DB.ReadModelRetirement(ctx, in.ID)
			if err != nil {
				return nil, err
			}
			out := RetirementVerification{Statement: st, Retired: g.txRef(ctx, st.TxID), Verified: len(st.Parts) > 0, Batches: []BatchVerification{}}
			out.Retired.Timestamp = st.RetiredAt
			for _, p := range st.Parts {
				v, _, err := g.verifyBatch(ctx, p.BatchID)
				if err != nil {
					return nil, err
				}
				out.Batches = append(out.Batches, v)
				out.Verified = out.Verified && v.Checks.Verified && v.Batch.Retired+v.Batch.CarriedRetired >= p.Quantity
			}
			return &bodyOf[RetirementVerification]{out}, nil
		})
	huma.Register(g.api, operation(http.MethodGet, "/public/listings/{id}", "verifyListing", "Verify a listing: its state, quantity and the batch behind it", tag, anyone),
		func(ctx context.Context, in *IDPath) (*bodyOf[ListingVerification], error) {
			l, err := g.cfg.DB.ReadModelListing(ctx, in.ID)
			if err != nil {
				return nil, err
			}
			v, _, err := g.verifyBatch(ctx, l.BatchID)
			if err != nil {
				return nil, err
			}
			out := ListingVerification{ID: l.ID, BatchID: l.BatchID, Seller: l.Seller, Quantity: l.Quantity, Status: l.Status, CreatedAt: l.CreatedAt, UpdatedAt: l.UpdatedAt, Batch: v}
			if l.Status == greenmint.ListingOpen {
				out.PriceMinor, out.Currency = l.PriceMinor, l.Currency
			}
			return &bodyOf[ListingVerification]{out}, nil
		})
}

// statementOutput is a statement file.
type statementOutput struct {
	ContentType        string `header:"Content-Type"`
	ContentDisposition string `header:"Content-Disposition"`
	CacheControl       string `header:"Cache-Control"`
	Body               []byte
}

// statementInput reads what a retirement statement is made from: the
// statement and its block from the read model, each part's batch,
// attestation and site.
func (g *Gateway) statementInput(ctx context.Context, id string) (statement.Input, error) {
	st, err := g.cfg.DB.ReadModelRetirement(ctx, id)
	if err != nil {
		return statement.Input{}, err
	}
	ref := g.txRef(ctx, st.TxID)
	if ref.Block == 0 {
		return statement.Input{}, greenmint.Errorf(greenmint.ENOTFOUND, "retirement %s is not in the read model yet", id)
	}
	in := statement.Input{Statement: st, Block: ref.Block, VerifyURL: g.publicURL(ctx) + "/verify/retirements/" + url.PathEscape(id)}
	if g.cfg.Web == nil {
		in.VerifyURL = g.publicURL(ctx) + "/v1/public/retirements/" + url.PathEscape(id)
	}
	seen := map[string]bool{}
	for _, p := range st.Parts {
		if seen[p.BatchID] {
			continue
		}
		seen[p.BatchID] = true
		b, err := g.cfg.DB.ReadModelBatch(ctx, p.BatchID)
		if err != nil {
			return statement.Input{}, err
		}
		ac, err := g.attestationChecks(ctx, b.AttestationID)
		if err != nil {
			return statement.Input{}, err
		}
		var site greenmint.Site
		if err := g.evaluateAsReader(ctx, greenmint.QueryGetSite, greenmint.IDQuery{ID: b.SiteID}, &site); err != nil {
			return statement.Input{}, err
		}
		in.Batches = append(in.Batches, statement.Batch{Batch: b, Attestation: ac.record, Site: site})
	}
	return in, nil
}

// fileOperation documents an operation that answers a file of one media
// type.
func fileOperation(op huma.Operation, mediaType, format string) huma.Operation {
	schema := &huma.Schema{Type: huma.TypeString, Format: format}
	if mediaType == "application/json" {
		schema = &huma.Schema{Type: huma.TypeObject, Description: "An offline proof bundle, format greenmint-proof-bundle (docs/verify.md)", AdditionalProperties: true}
	}
	op.Responses = map[string]*huma.Response{"200": {Description: "The file", Content: map[string]*huma.MediaType{mediaType: {Schema: schema}}}}
	return op
}

// publicURL is the gateway's URL as users reach it.
func (g *Gateway) publicURL(ctx context.Context) string {
	if g.cfg.PublicURL != "" {
		return strings.TrimSuffix(g.cfg.PublicURL, "/")
	}
	if u, ok := ctx.Value(requestURLKey{}).(*url.URL); ok && u.Host != "" {
		return u.Scheme + "://" + u.Host
	}
	return "http://localhost"
}

func (g *Gateway) statementRoutes() {
	anyone := access{public: true}
	huma.Register(g.api, fileOperation(operation(http.MethodGet, "/public/retirements/{id}/statement.pdf", "statementPDF", "A retirement statement as a PDF: beneficiary, purpose, each batch's figures, the transaction and block, and a QR code of its public verification page", "public", anyone), "application/pdf", "binary"),
		func(ctx context.Context, in *IDPath) (*statementOutput, error) {
			si, err := g.statementInput(ctx, in.ID)
			if err != nil {
				return nil, err
			}
			pdf, err := statement.PDF(si)
			if err != nil {
				return nil, err
			}
			return &statementOutput{ContentType: "application/pdf", ContentDisposition: `attachment; filename="` + in.ID + `.pdf"`, CacheControl: "public, max-age=300", Body: pdf}, nil
		})
	huma.Register(g.api, fileOperation(operation(http.MethodGet, "/public/retirements/{id}/statement.jws", "statementJWS", "A retirement statement as JSON signed by the gateway (compact JWS, EdDSA; the key is in /.well-known/jwks.json; docs/statement.md)", "public", anyone), "application/jose", ""),
		func(ctx context.Context, in *IDPath) (*statementOutput, error) {
			if g.cfg.StatementKey == nil {
				return nil, greenmint.Errorf(greenmint.EUNAVAILABLE, "this gateway has no statement-signing key")
			}
			si, err := g.statementInput(ctx, in.ID)
			if err != nil {
				return nil, err
			}
			jws, err := statement.Signed(si, *g.cfg.StatementKey)
			if err != nil {
				return nil, err
			}
			return &statementOutput{ContentType: "application/jose", ContentDisposition: `attachment; filename="` + in.ID + `.jws"`, CacheControl: "public, max-age=300", Body: jws}, nil
		})
}

// bundleRoutes serve offline proof bundles (docs/verify.md): everything
// needed to check a batch or a statement without any server.
func (g *Gateway) bundleRoutes() {
	anyone := access{public: true}
	for _, k := range []struct {
		path, id, summary string
		build             func(context.Context, greenmint.Ledger, bundle.BlockSource, *greenmint.Identity, string, bundle.Options) (*bundle.Bundle, error)
	}{
		{"/public/batches/{id}/bundle", "batchBundle", "A batch's offline proof bundle: the attestation, oracle keys, dataset, readings or their proofs, history and the ledger's blocks behind them; check it with greenmint verify", bundle.BuildBatch},
		{"/public/retirements/{id}/bundle", "statementBundle", "A retirement statement's offline proof bundle, with every batch it retires from; check it with greenmint verify", bundle.BuildStatement},
	} {
		huma.Register(g.api, fileOperation(operation(http.MethodGet, k.path, k.id, k.summary, "public", anyone), "application/json", ""),
			func(ctx context.Context, in *IDPath) (*statementOutput, error) {
				if !g.builds.tryAcquire() {
					return nil, tooMany(time.Second)
				}
				defer g.builds.release()
				reader, err := g.cfg.Keyring.Identity(ctx, g.cfg.Reader)
				if err != nil {
					return nil, err
				}
				opts := bundle.Options{Now: g.cfg.Now}
				if g.cfg.Oracle != nil && g.cfg.Oracle.DB != nil {
					opts.Readings = g.cfg.Oracle.DB
				}
				b, err := k.build(ctx, g.cfg.Ledger, nil, reader, in.ID, opts)
				if err != nil {
					return nil, err
				}
				raw, err := bundle.Marshal(b)
				if err != nil {
					return nil, err
				}
				return &statementOutput{ContentType: "application/json", ContentDisposition: `attachment; filename="` + in.ID + `.bundle.json"`, CacheControl: "no-cache", Body: raw}, nil
			})
	}
}

// FlagBody opens an inquiry.
type FlagBody struct {
	Reason string `json:"reason" minLength:"1" maxLength:"2000"`
}

func (g *Gateway) auditRoutes() {
	auditor := access{roles: []greenmint.Role{greenmint.RoleAuditor}}
	readers := access{roles: []greenmint.Role{greenmint.RoleAuditor, greenmint.RoleRegistry}, scope: auth.ScopeLedgerRead}
	const tag = "audit"
	huma.Register(g.api, operation(http.MethodGet, "/batches/{id}/provenance", "batchProvenance", "A batch's full provenance: readings root → attestation and oracle signatures → mint transaction and block → every change, holding, listing and flag, with the verification", tag, readers),
		func(ctx context.Context, in *IDPath) (*bodyOf[Provenance], error) {
			if all, err := g.readsEverything(ctx, principalOf(ctx)); err != nil {
				return nil, err
			} else if !all {
				return nil, greenmint.Errorf(greenmint.EFORBIDDEN, "provenance is for the registry and admitted auditors (R11)")
			}
			v, rec, err := g.verifyBatch(ctx, in.ID)
			if err != nil {
				return nil, err
			}
			out := Provenance{BatchVerification: v, Attestation: rec, History: []HistoryRef{}, Holdings: []greenmint.Holding{}, Listings: []greenmint.Listing{}, Flags: []greenmint.Flag{}}
			var hist []greenmint.HistoryEntry
			if err := g.evaluate(ctx, greenmint.QueryBatchHistory, greenmint.IDQuery{ID: in.ID}, &hist); err != nil {
				return nil, err
			}
			for _, h := range hist {
				out.History = append(out.History, HistoryRef{HistoryEntry: h, Block: g.txRef(ctx, h.TxID).Block})
			}
			var holders greenmint.HoldingsPage
			if err := g.evaluate(ctx, greenmint.QueryBatchHolders, greenmint.PageQuery{BatchID: in.ID}, &holders); err != nil {
				return nil, err
			}
			out.Holdings = append(out.Holdings, holders.Holdings...)
			f := store.Filter{BatchID: in.ID}
			for {
				ls, next, err := g.cfg.DB.ReadModelListings(ctx, f)
				if err != nil {
					return nil, err
				}
				out.Listings = append(out.Listings, ls...)
				if next == "" {
					break
				}
				f.Cursor = next
			}
			var flags []greenmint.Flag
			if err := g.evaluate(ctx, greenmint.QueryListFlags, greenmint.IDQuery{ID: in.ID}, &flags); err != nil {
				return nil, err
			}
			out.Flags = append(out.Flags, flags...)
			return &bodyOf[Provenance]{out}, nil
		})
	huma.Register(g.api, operation(http.MethodGet, "/flags", "listFlags", "Auditors' flags (the registry and admitted auditors)", tag, readers),
		func(ctx context.Context, in *struct {
			PageParams
			BatchID string `query:"batch_id" maxLength:"128"`
			Auditor string `query:"auditor" maxLength:"64"`
			Status  string `query:"status" enum:"open,upheld,dismissed"`
		}) (*listOutput[greenmint.Flag], error) {
			if all, err := g.readsEverything(ctx, principalOf(ctx)); err != nil {
				return nil, err
			} else if !all {
				return nil, greenmint.Errorf(greenmint.EFORBIDDEN, "the list of flags is for the registry and admitted auditors (R11); a batch's owner reads its flags in its provenance")
			}
			f := filterOf(in.PageParams)
			f.BatchID, f.Auditor, f.Status = in.BatchID, in.Auditor, in.Status
			items, next, err := g.cfg.DB.ReadModelFlags(ctx, f)
			if err != nil {
				return nil, err
			}
			return page(ctx, items, next), nil
		})
	huma.Register(g.api, operation(http.MethodPost, "/batches/{id}/flags", "flagBatch", "Open an inquiry on a batch: its units are frozen until the registry resolves it (R13)", tag, auditor),
		func(ctx context.Context, in *struct {
			IDPath
			Body FlagBody
		}) (*writtenOutput[greenmint.Flag], error) {
			req := greenmint.FlagRequest{BatchID: in.ID, Reason: in.Body.Reason}
			req.IdempotencyKey = in.IdempotencyKey
			return write[greenmint.Flag](ctx, g, greenmint.TxFlagBatch, req)
		})
}
