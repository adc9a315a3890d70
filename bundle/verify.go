package bundle

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/greenmint/greenmint"
)

// VerifyOptions are what a verifier trusts beyond the bundle.
type VerifyOptions struct {
	// Head is the embedded ledger's head hash as the verifier obtained it
	// independently (from the ledger's operator, a publication): the
	// bundle's head must be it. Empty: the report notes the head to compare.
	Head string
	// Roots are the organisations' root certificates (PEM) as the verifier
	// obtained them independently, by MSP ID: every organisation of the
	// bundle's channel configuration must have exactly these. Nil: the
	// report notes the roots' fingerprints to compare.
	Roots map[string][]byte
}

// Verify checks a bundle offline and reports every check. It never stops
// at the first failure: each check names what it found wrong.
func Verify(bd *Bundle, opts VerifyOptions) *Report {
	rep := &Report{Subject: bd.Subject, Ledger: bd.Ledger.Type}
	var ev *evidence
	var members *msps
	switch bd.Ledger.Type {
	case LedgerEmbedded:
		ev, members = readEmbedded(bd, rep, opts.Head)
	case LedgerFabric:
		ev, members = readFabric(bd, rep)
	default:
		rep.fail("ledger", "unknown ledger type %q (want %s or %s)", bd.Ledger.Type, LedgerEmbedded, LedgerFabric)
		return rep
	}
	checkRoots(rep, members, opts.Roots)

	v := &verifier{rep: rep, ev: ev, histories: map[string][]historyVersion{}}
	switch bd.Subject.Kind {
	case KindBatch:
		if len(bd.Batches) != 1 || bd.Batches[0].ID != bd.Subject.ID {
			rep.fail("subject", "a batch bundle of %s must hold that one batch", bd.Subject.ID)
		}
		if bd.Statement != nil {
			rep.fail("subject", "a batch bundle holds no statement")
		}
	case KindStatement:
		if bd.Statement == nil {
			rep.fail("subject", "the statement bundle of %s holds no statement", bd.Subject.ID)
		}
	default:
		rep.fail("subject", "unknown subject kind %q (want %s or %s)", bd.Subject.Kind, KindBatch, KindStatement)
	}
	for i := range bd.Batches {
		v.batch(&bd.Batches[i])
	}
	if bd.Subject.Kind == KindStatement && bd.Statement != nil {
		v.statement(bd)
	}
	v.transactions()
	return rep
}

// transactions reports the signature checks of every transaction the
// checks cited, in chain order.
func (v *verifier) transactions() {
	var nums []uint64
	for n := range v.ev.blocks {
		nums = append(nums, n)
	}
	sort.Slice(nums, func(i, j int) bool { return nums[i] < nums[j] })
	for _, n := range nums {
		for _, t := range v.ev.blocks[n].Txs {
			if !t.checked {
				continue
			}
			name := "ledger: transaction " + t.ID
			if t.err != nil {
				v.rep.fail(name, "block %d #%d: %v", t.Block, t.Index, t.err)
				continue
			}
			endorsed := ""
			if len(t.Endorsers) > 0 {
				endorsed = "; endorsed by " + strings.Join(t.Endorsers, ", ") + ", each signature verifying against its organisation's CA"
			}
			v.rep.pass(name, "block %d #%d, %s by %s at %s, %s; the creator's signature verifies against %s's CA%s",
				t.Block, t.Index, t.Function, t.Creator, greenmint.FormatTime(t.Time), t.Validation, t.Creator, endorsed)
		}
	}
}

// checkRoots compares the channel's root certificates with trusted ones.
func checkRoots(rep *Report, m *msps, trusted map[string][]byte) {
	if m == nil {
		return
	}
	if trusted == nil {
		rep.note("ledger: MSP roots", "the channel's organisations' root certificates, by SHA-256: %s: compare them with the consortium's published ones (greenmint verify --msp-dir DIR)", fingerprints(m))
		return
	}
	var bad []string
	for _, id := range m.ids() {
		want := map[string]bool{}
		for rest := trusted[id]; ; {
			var blk *pem.Block
			blk, rest = pem.Decode(rest)
			if blk == nil {
				break
			}
			if c, err := x509.ParseCertificate(blk.Bytes); err == nil {
				want[string(c.Raw)] = true
			}
		}
		if len(want) == 0 {
			bad = append(bad, id+" is not among the trusted organisations")
			continue
		}
		for _, c := range m.certs[id] {
			if !want[string(c.Raw)] {
				bad = append(bad, fmt.Sprintf("%s's root certificate %q is not the trusted one", id, c.Subject.CommonName))
			}
		}
	}
	if len(bad) > 0 {
		rep.fail("ledger: MSP roots", "%s", strings.Join(bad, "; "))
		return
	}
	rep.pass("ledger: MSP roots", "every organisation's root certificates are the trusted ones: %s", fingerprints(m))
}

// verifier runs the domain checks against the ledger's evidence.
type verifier struct {
	rep       *Report
	ev        *evidence
	batches   map[string]*greenmint.Batch // the last version of each verified batch
	histories map[string][]historyVersion // each batch's verified history
}

// historyVersion is one version of a batch that verified.
type historyVersion struct {
	tx    *ledgerTx
	batch greenmint.Batch
}

// jsonEqual reports whether two JSON texts are the same JSON value: white
// space, key order and string escapes aside (a bundle may be re-indented or
// re-keyed by any JSON tool), the same members with the same values and
// numbers spelled alike.
func jsonEqual(a, b []byte) bool {
	va, errA := jsonValue(a)
	vb, errB := jsonValue(b)
	return errA == nil && errB == nil && reflect.DeepEqual(va, vb)
}

func jsonValue(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("trailing data")
	}
	return v, nil
}

// written checks that v is what its transaction wrote to key, and returns
// the transaction.
func (v *verifier) written(val *Value, key string) (*ledgerTx, error) {
	tx, err := v.ev.tx(val.Ref)
	if err != nil {
		return nil, err
	}
	w, ok := tx.Writes[key]
	switch {
	case !ok:
		return tx, fmt.Errorf("transaction %s (block %d) did not write %s", short(tx.ID), tx.Block, describeKey(key))
	case w.Delete:
		return tx, fmt.Errorf("transaction %s (block %d) deleted %s", short(tx.ID), tx.Block, describeKey(key))
	case !jsonEqual(w.Value, val.Value):
		return tx, fmt.Errorf("the bundle's copy differs from what transaction %s (block %d) wrote to %s", short(tx.ID), tx.Block, describeKey(key))
	}
	return tx, nil
}

// readAt checks that tx read key at the version ref wrote.
func readAt(tx *ledgerTx, key string, ref Ref) error {
	ver, ok := tx.Reads[key]
	switch {
	case !ok:
		return fmt.Errorf("transaction %s did not read %s", short(tx.ID), describeKey(key))
	case ver == nil:
		return fmt.Errorf("transaction %s read %s when it did not exist", short(tx.ID), describeKey(key))
	case *ver != (version{Block: ref.Block, Tx: ref.Tx}):
		return fmt.Errorf("transaction %s read %s as written at %s; the bundle's copy was written at block %d #%d", short(tx.ID), describeKey(key), ver, ref.Block, ref.Tx)
	}
	return nil
}

// decode decodes a bundle value strictly into dst.
func decode(raw json.RawMessage, dst any) error {
	if len(raw) == 0 {
		return fmt.Errorf("missing")
	}
	if err := greenmint.DecodeStrict(raw, dst); err != nil {
		return err
	}
	return nil
}

// object checks a value the mint read: decoded, written by its
// transaction to key, and the version the mint read (mint nil: not
// checked). It reports the check and returns whether it passed.
func (v *verifier) object(name string, val *Value, dst any, key func() string, mint *ledgerTx, detail func() string) bool {
	err := decode(val.Value, dst)
	if err == nil {
		_, err = v.written(val, key())
	}
	if err == nil && mint != nil {
		err = readAt(mint, key(), val.Ref)
	}
	if err != nil {
		v.rep.fail(name, "%v", err)
		return false
	}
	v.rep.pass(name, "%s", detail())
	return true
}

// batch runs every check of one batch.
func (v *verifier) batch(b *Batch) {
	p := "batch " + b.ID + ": "
	r := v.rep

	// The attestation as minted.
	var rec greenmint.AttestationRecord
	var mint *ledgerTx
	if err := decode(b.Attestation.Value, &rec); err != nil {
		r.fail(p+"attestation", "%v", err)
	} else if tx, err := v.written(&b.Attestation, compositeKey("attestation", rec.ID)); err != nil {
		r.fail(p+"attestation", "%v", err)
	} else if tx.Function != greenmint.TxMint && tx.Function != greenmint.TxReissueBatch {
		r.fail(p+"attestation", "transaction %s that wrote it is %s, not a mint", short(tx.ID), tx.Function)
	} else if rec.TxID != tx.ID || rec.BatchID != b.ID {
		r.fail(p+"attestation", "the record names transaction %s and batch %s; it was written by %s for batch %s", short(rec.TxID), rec.BatchID, short(tx.ID), b.ID)
	} else {
		mint = tx
		r.pass(p+"attestation", "minted by transaction %s (%s by %s, block %d, %s)", tx.ID, tx.Function, tx.Creator, tx.Block, greenmint.FormatTime(tx.Time))
	}
	a := &rec.Attestation.Attestation
	if id, err := a.ID(); err != nil || id != rec.ID {
		r.fail(p+"attestation ID", "SHA-256 of the canonical attestation is %s, the record's ID is %s", id, rec.ID)
	} else {
		r.pass(p+"attestation ID", "SHA-256 of the canonical attestation = %s", id)
	}

	// What the mint read: policy, oracles, dataset, site, meters.
	var pol greenmint.Policy
	polOK := v.object(p+"policy", &b.Policy, &pol, func() string { return compositeKey("policy") }, mint,
		func() string {
			return fmt.Sprintf("threshold %d, tolerance %d bp, as the mint read it (written by %s)", pol.Threshold, pol.ToleranceBP, short(b.Policy.TxID))
		})
	oracles := map[string]*greenmint.OracleRegistration{}
	for i := range b.Oracles {
		var o greenmint.OracleRegistration
		name := fmt.Sprintf("%soracle %d", p, i)
		if json.Unmarshal(b.Oracles[i].Value, &o) == nil && o.ID != "" {
			name = p + "oracle " + o.ID
		}
		if v.object(name, &b.Oracles[i], &o, func() string { return compositeKey("oracle", o.ID) }, mint,
			func() string {
				return fmt.Sprintf("key %s of %s, %s, as the mint read it (written by %s)", base64.StdEncoding.EncodeToString(o.PublicKey), o.MSPID, o.Status, short(b.Oracles[i].TxID))
			}) {
			oracles[o.ID] = &o
		}
	}
	if !polOK {
		r.fail(p+"oracle signatures (R5)", "the policy, with the threshold, does not verify")
	} else {
		lookup := func(id string) (*greenmint.OracleRegistration, error) {
			if o, ok := oracles[id]; ok {
				return o, nil
			}
			return nil, greenmint.Errorf(greenmint.ENOTFOUND, "oracle %s is not in the bundle", id)
		}
		err := greenmint.VerifyAttestationSignatures(a, rec.Attestation.Signatures, lookup, pol.Threshold)
		var ids []string
		for _, s := range rec.Attestation.Signatures {
			ids = append(ids, s.OracleID)
		}
		r.result(p+"oracle signatures (R5)", err, "%d signatures (%s) verify over the canonical attestation with the registered keys; threshold %d", len(ids), strings.Join(ids, ", "), pol.Threshold)
	}

	var ds greenmint.Dataset
	dsOK := v.object(p+"dataset", &b.Dataset, &ds, func() string { return compositeKey("dataset", ds.ID, ds.Version) }, mint,
		func() string {
			return fmt.Sprintf("%s %s, as the mint read it (published by %s)", ds.ID, ds.Version, short(b.Dataset.TxID))
		})
	if dsOK {
		r.result(p+"dataset pin (R9)", checkDataset(a, &ds), "SHA-256 of the dataset's content = %s = the attestation's pin; the factors of %s are the dataset's", ds.SHA256, a.Factors.GridRegion)
	} else {
		r.fail(p+"dataset pin (R9)", "the dataset does not verify")
	}

	var site greenmint.Site
	siteOK := v.object(p+"site", &b.Site, &site, func() string { return compositeKey("site", site.ID) }, mint,
		func() string {
			return fmt.Sprintf("%s (%s, grid region %s, %s, owner %s), as the mint read it", site.ID, site.Country, site.GridRegion, site.Status, site.Owner)
		})
	if siteOK {
		var err error
		switch {
		case site.ID != a.SiteID:
			err = fmt.Errorf("the site is %s, the attestation's %s", site.ID, a.SiteID)
		case site.Status != greenmint.StatusApproved:
			err = fmt.Errorf("site %s was %s when minted, not approved", site.ID, site.Status)
		case site.GridRegion != a.Factors.GridRegion:
			err = fmt.Errorf("site %s is in grid region %s, the factors are for %s", site.ID, site.GridRegion, a.Factors.GridRegion)
		}
		r.result(p+"site rules", err, "approved when minted; in grid region %s, whose factors the attestation used", site.GridRegion)
	}

	meters := map[string]*greenmint.Meter{}
	for i := range b.Meters {
		var m greenmint.Meter
		name := fmt.Sprintf("%smeter %d", p, i)
		if json.Unmarshal(b.Meters[i].Value, &m) == nil && m.ID != "" {
			name = p + "meter " + m.ID
		}
		var rd *ledgerTx
		if mint != nil {
			if _, read := mint.Reads[compositeKey("meter", m.ID)]; read {
				rd = mint
			}
		}
		ok := v.object(name, &b.Meters[i], &m, func() string { return compositeKey("meter", m.ID) }, rd,
			func() string {
				how := "as the mint read it"
				if rd == nil {
					how = "registered before the mint (which did not read it)"
				}
				return fmt.Sprintf("%s meter, %d W, key %s, %s, %s", strings.TrimSpace(string(m.Kind)+" "+m.Technology), m.CapacityW, base64.StdEncoding.EncodeToString(m.PublicKey), m.Status, how)
			})
		if ok && rd == nil && mint != nil && !before(b.Meters[i].Ref, mint) {
			r.fail(name, "written at block %d #%d, not before the mint at block %d #%d", b.Meters[i].Block, b.Meters[i].Tx, mint.Block, mint.Index)
			ok = false
		}
		if ok {
			meters[m.ID] = &m
		}
	}
	if siteOK && polOK {
		r.result(p+"meters and physical bounds", checkMeters(a, &site, &pol, meters, mint),
			"the consumption meters are approved at the site, the supplying meters approved generation meters of the site's owner of the technologies attested; no hour exceeds capacity × 1 h + %d bp", pol.ToleranceBP)
	}

	// The attestation alone: R2, the form, the quantity, R12.
	r.result(p+"R2", checkR2(a), "%d hours: each hour M ≤ min(C, S) and its allocations add up; totals C %d Wh, S %d Wh, M %d Wh are the sums of the hours",
		len(a.Hours), a.Totals.ConsumptionWh, a.Totals.SupplyWh, a.Totals.MatchedWh)
	r.result(p+"attestation rules", greenmint.CheckAttestation(a), "version %d, site %s, %s to %s, %d hours and %d gaps cover the period, lists in their one order",
		a.Version, a.SiteID, a.PeriodStart, a.PeriodEnd, len(a.Hours), len(a.Gaps))
	q, err := greenmint.ComputeQuantity(a)
	if err == nil && q != a.Quantity {
		err = fmt.Errorf("the attestation states quantity %d; the hours give %d", a.Quantity, q)
	}
	r.result(p+"quantity", err, "%s", formula(a, q))
	if mint != nil {
		r.result(p+"R12", greenmint.CheckAttestationTime(a, mint.Time), "the period ended %s, attested %s, minted %s by the ledger's time", a.PeriodEnd, a.AttestedAt, greenmint.FormatTime(mint.Time))
		r.result(p+"R1 site-hours", checkSiteHours(a, b.ID, mint), "each of the %d attested hours of site %s was unclaimed when minted, and the mint claimed it for this batch", len(a.Hours), a.SiteID)
	}

	v.readings(p, b, a, meters)
	v.history(p, b, a, &rec, mint)
}

// before reports whether ref lies before tx in the chain.
func before(ref Ref, tx *ledgerTx) bool {
	return ref.Block < tx.Block || (ref.Block == tx.Block && ref.Tx < tx.Index)
}

// checkDataset enforces R9 offline: the dataset's content hashes to its
// SHA-256 and to the attestation's pin, and the attestation's factors are
// the dataset's for the region (hour by hour when it has a series).
func checkDataset(a *greenmint.Attestation, ds *greenmint.Dataset) error {
	sum, err := greenmint.DatasetSHA256(ds.DatasetContent)
	if err != nil {
		return err
	}
	if sum != ds.SHA256 {
		return fmt.Errorf("the dataset's content hashes to %s, not its recorded %s", sum, ds.SHA256)
	}
	if a.Dataset != (greenmint.DatasetPin{ID: ds.ID, Version: ds.Version, SHA256: ds.SHA256}) {
		return fmt.Errorf("the attestation pins %s %s %s, the dataset is %s %s %s", a.Dataset.ID, a.Dataset.Version, a.Dataset.SHA256, ds.ID, ds.Version, ds.SHA256)
	}
	var grid *greenmint.GridFactor
	for i := range ds.GridFactors {
		if ds.GridFactors[i].Region == a.Factors.GridRegion {
			grid = &ds.GridFactors[i]
		}
	}
	if grid == nil {
		return fmt.Errorf("the dataset has no factors for grid region %s", a.Factors.GridRegion)
	}
	if grid.Firm != a.Factors.Firm || grid.Intermittent != a.Factors.Intermittent {
		return fmt.Errorf("the attestation's grid factors firm %d, intermittent %d gCO2e/MWh differ from the dataset's %d, %d", a.Factors.Firm, a.Factors.Intermittent, grid.Firm, grid.Intermittent)
	}
	dsf := greenmint.Factors{Lifecycle: ds.LifecycleFactors}
	for _, l := range a.Factors.Lifecycle {
		if f, ok := dsf.LifecycleFor(l.Technology); !ok || f != l.Factor {
			return fmt.Errorf("the attestation's lifecycle factor of %s, %d gCO2e/MWh, is not the dataset's", l.Technology, l.Factor)
		}
	}
	hourly := greenmint.HasHourlySeries(ds.HourlyFactors, a.Factors.GridRegion)
	for _, h := range a.Hours {
		f, ok := greenmint.HourlyFactorFor(ds.HourlyFactors, a.Factors.GridRegion, h.Start)
		switch {
		case !hourly && h.GridFactor != nil:
			return fmt.Errorf("hour %s carries an hourly grid factor; the dataset has no series for %s", h.Start, a.Factors.GridRegion)
		case hourly && (!ok || h.GridFactor == nil || *h.GridFactor != f):
			return fmt.Errorf("hour %s: the grid factor is not the dataset's hourly factor for %s", h.Start, a.Factors.GridRegion)
		}
	}
	return nil
}

// hourLimit is capacity × 1 h × (1 + tolerance), as the contract bounds an
// hour's energy.
func hourLimit(capacityW, toleranceBP int64) int64 {
	v := new(big.Int).Mul(big.NewInt(capacityW), big.NewInt(10_000+toleranceBP))
	v.Quo(v, big.NewInt(10_000))
	if !v.IsInt64() {
		return 1<<63 - 1
	}
	return v.Int64()
}

// checkMeters checks the meters as the mint does: consumption meters
// approved at the site, supplying meters approved generation meters of the
// site's owner of the attested technology, and each hour within the
// physical bounds.
func checkMeters(a *greenmint.Attestation, site *greenmint.Site, pol *greenmint.Policy, meters map[string]*greenmint.Meter, mint *ledgerTx) error {
	var capW int64
	for _, id := range a.ConsumptionMeters {
		m := meters[id]
		switch {
		case m == nil:
			return fmt.Errorf("consumption meter %s is not in the bundle", id)
		case m.Kind != greenmint.MeterConsumption || m.SiteID != site.ID || m.Owner != site.Owner:
			return fmt.Errorf("meter %s is a %s meter of site %s (%s), not a consumption meter of site %s", id, m.Kind, m.SiteID, m.Owner, site.ID)
		case m.Status != greenmint.StatusApproved:
			return fmt.Errorf("consumption meter %s was %s when minted", id, m.Status)
		}
		if mint != nil {
			if _, read := mint.Reads[compositeKey("meter", id)]; !read {
				return fmt.Errorf("the mint did not read consumption meter %s", id)
			}
		}
		capW += m.CapacityW
	}
	consLimit := min(hourLimit(capW, pol.ToleranceBP), hourLimit(site.CapacityW, pol.ToleranceBP))
	for _, h := range a.Hours {
		if h.ConsumptionWh > consLimit {
			return fmt.Errorf("hour %s: consumption %d Wh exceeds the physical bound of %d Wh", h.Start, h.ConsumptionWh, consLimit)
		}
		for _, al := range h.Allocations {
			m := meters[al.MeterID]
			switch {
			case m == nil:
				return fmt.Errorf("supplying meter %s is not in the bundle", al.MeterID)
			case m.Kind != greenmint.MeterGeneration || m.Owner != site.Owner || m.Technology != al.Technology:
				return fmt.Errorf("meter %s is a %s %s meter of %s; hour %s allocates it as a %s generation meter of %s", m.ID, m.Technology, m.Kind, m.Owner, h.Start, al.Technology, site.Owner)
			case m.Status != greenmint.StatusApproved:
				return fmt.Errorf("generation meter %s was %s when minted", m.ID, m.Status)
			case al.GeneratedWh > hourLimit(m.CapacityW, pol.ToleranceBP):
				return fmt.Errorf("hour %s: meter %s generated %d Wh, beyond its physical bound", h.Start, m.ID, al.GeneratedWh)
			}
		}
	}
	return nil
}

// checkR2 recomputes R2 hour by hour and the totals.
func checkR2(a *greenmint.Attestation) error {
	var tot greenmint.Totals
	var err error
	for _, h := range a.Hours {
		if h.ConsumptionWh < 0 || h.SupplyWh < 0 || h.MatchedWh < 0 {
			return fmt.Errorf("hour %s: negative energy", h.Start)
		}
		var supply, matched int64
		for _, al := range h.Allocations {
			if al.MatchedWh < 0 || al.AvailableWh < 0 || al.MatchedWh > al.AvailableWh || al.AvailableWh > al.GeneratedWh {
				return fmt.Errorf("hour %s: meter %s: matched %d ≤ available %d ≤ generated %d Wh does not hold", h.Start, al.MeterID, al.MatchedWh, al.AvailableWh, al.GeneratedWh)
			}
			if supply, err = greenmint.AddQty(supply, al.AvailableWh); err != nil {
				return err
			}
			if matched, err = greenmint.AddQty(matched, al.MatchedWh); err != nil {
				return err
			}
		}
		switch {
		case supply != h.SupplyWh:
			return fmt.Errorf("hour %s: supply %d Wh is not the sum of the allocations' available %d Wh", h.Start, h.SupplyWh, supply)
		case matched != h.MatchedWh:
			return fmt.Errorf("hour %s: matched %d Wh is not the sum of the allocations' matched %d Wh", h.Start, h.MatchedWh, matched)
		case h.MatchedWh > min(h.ConsumptionWh, h.SupplyWh):
			return fmt.Errorf("hour %s: matched %d Wh exceeds min(consumption %d, supply %d)", h.Start, h.MatchedWh, h.ConsumptionWh, h.SupplyWh)
		}
		if tot.ConsumptionWh, err = greenmint.AddQty(tot.ConsumptionWh, h.ConsumptionWh); err != nil {
			return err
		}
		if tot.SupplyWh, err = greenmint.AddQty(tot.SupplyWh, h.SupplyWh); err != nil {
			return err
		}
		if tot.MatchedWh, err = greenmint.AddQty(tot.MatchedWh, h.MatchedWh); err != nil {
			return err
		}
	}
	if tot != a.Totals {
		return fmt.Errorf("totals consumption %d, supply %d, matched %d Wh are not the sums of the hours %d, %d, %d Wh",
			a.Totals.ConsumptionWh, a.Totals.SupplyWh, a.Totals.MatchedWh, tot.ConsumptionWh, tot.SupplyWh, tot.MatchedWh)
	}
	return nil
}

// formula says how the quantity was computed.
func formula(a *greenmint.Attestation, q int64) string {
	if a.Instrument == greenmint.EAC {
		return fmt.Sprintf("EAC: 1 unit per matched Wh: Σ hours M = %d Wh = %d units", a.Totals.MatchedWh, q)
	}
	return fmt.Sprintf("CO2E: floor(Σ hours Σ allocations matched Wh × max(0, grid − lifecycle) / 10^6) with grid %d (firm) / %d (intermittent) gCO2e/MWh = %d gCO2e",
		a.Factors.Firm, a.Factors.Intermittent, q)
}

// checkSiteHours checks R1 on the site's side: the mint read each attested
// hour's site-hour key as absent and wrote it with this batch's ID.
func checkSiteHours(a *greenmint.Attestation, batchID string, mint *ledgerTx) error {
	want, _ := json.Marshal(batchID)
	for _, h := range a.Hours {
		k := compositeKey("sitehour", a.SiteID, h.Start)
		ver, read := mint.Reads[k]
		if !read || ver != nil {
			return fmt.Errorf("hour %s: the mint did not find the site-hour unclaimed", h.Start)
		}
		if w, ok := mint.Writes[k]; !ok || w.Delete || !bytes.Equal(w.Value, want) {
			return fmt.Errorf("hour %s: the mint did not claim the site-hour for batch %s", h.Start, batchID)
		}
	}
	return nil
}

// readings checks the readings behind the attestation: their Merkle root,
// their meters' signatures, and each hour's consumption and generation.
func (v *verifier) readings(p string, b *Batch, a *greenmint.Attestation, meters map[string]*greenmint.Meter) {
	name := p + "readings"
	if b.Readings == nil {
		v.rep.skip(name, "the bundle carries no readings: the oracles signed their Merkle root %s, which cannot be recomputed here", a.ReadingsRoot)
		return
	}
	rs := b.Readings.Readings
	sorted := append([]greenmint.Reading(nil), rs...)
	sort.SliceStable(sorted, func(i, j int) bool {
		if sorted[i].MeterID != sorted[j].MeterID {
			return sorted[i].MeterID < sorted[j].MeterID
		}
		return sorted[i].Start < sorted[j].Start
	})
	leaves := make([][32]byte, len(sorted))
	for i, rd := range sorted {
		leaves[i], _ = greenmint.ReadingLeaf(rd)
	}
	root := greenmint.MerkleRoot(leaves)
	got := fmt.Sprintf("%x", root[:])
	if got != a.ReadingsRoot || b.Readings.Root != a.ReadingsRoot {
		v.rep.fail(name, "the %d readings make Merkle root %s; the bundle states %s and the attestation %s", len(rs), got, b.Readings.Root, a.ReadingsRoot)
		return
	}
	start, _ := greenmint.ParseHour(a.PeriodStart)
	end, _ := greenmint.ParseHour(a.PeriodEnd)
	type hourKey struct {
		meter string
		hour  int64
	}
	energy := map[hourKey]int64{}
	for _, rd := range rs {
		m := meters[rd.MeterID]
		if m == nil {
			v.rep.fail(name, "reading %d of meter %s: the meter's registration is not in the bundle", rd.Seq, rd.MeterID)
			return
		}
		if err := greenmint.VerifyReadingSignature(rd, m.PublicKey); err != nil {
			v.rep.fail(name, "reading %d of meter %s (%s): the signature does not verify against the meter's registered key", rd.Seq, rd.MeterID, rd.Start)
			return
		}
		s, err := greenmint.ParseTime(rd.Start)
		if err != nil || s.Before(start) || !s.Before(end) {
			v.rep.fail(name, "reading %d of meter %s starts at %s, outside the period", rd.Seq, rd.MeterID, rd.Start)
			return
		}
		k := hourKey{rd.MeterID, s.Truncate(time.Hour).Unix()}
		energy[k] += rd.EnergyWh
	}
	for _, h := range a.Hours {
		t, _ := greenmint.ParseHour(h.Start)
		var c int64
		for _, id := range a.ConsumptionMeters {
			c += energy[hourKey{id, t.Unix()}]
		}
		if c != h.ConsumptionWh {
			v.rep.fail(name, "hour %s: the consumption meters' readings add up to %d Wh; the attestation states %d Wh", h.Start, c, h.ConsumptionWh)
			return
		}
		for _, al := range h.Allocations {
			if g := energy[hourKey{al.MeterID, t.Unix()}]; g != al.GeneratedWh {
				v.rep.fail(name, "hour %s: meter %s's readings add up to %d Wh; the attestation states it generated %d Wh", h.Start, al.MeterID, g, al.GeneratedWh)
				return
			}
		}
	}
	v.rep.pass(name, "%d readings make the Merkle root %s; each is signed by its meter's registered key; each hour's consumption and generation are their readings' sums", len(rs), got)
}

// history checks a batch's versions: each written by its transaction,
// each transaction having read the version before, R3 after every one, and
// the batch what its attestation minted.
func (v *verifier) history(p string, b *Batch, a *greenmint.Attestation, rec *greenmint.AttestationRecord, mint *ledgerTx) {
	name := p + "history"
	key := compositeKey("batch", b.ID)
	if len(b.History) == 0 {
		v.rep.fail(name, "the bundle holds no history of the batch")
		return
	}
	var out []historyVersion
	for i := range b.History {
		e := &b.History[i]
		var bt greenmint.Batch
		err := decode(e.Value, &bt)
		var tx *ledgerTx
		if err == nil {
			tx, err = v.written(&Value{Ref: e.Ref, Value: e.Value}, key)
		}
		if err == nil && e.Timestamp != greenmint.FormatTime(tx.Time) {
			err = fmt.Errorf("it states time %s; its transaction's time is %s", e.Timestamp, greenmint.FormatTime(tx.Time))
		}
		if err == nil && i > 0 {
			err = readAt(tx, key, b.History[i-1].Ref)
		}
		if err == nil {
			err = greenmint.CheckBatchSupply(&bt)
		}
		if err == nil && i > 0 {
			prev := out[i-1].batch
			switch {
			case bt.ID != prev.ID || bt.AttestationID != prev.AttestationID || bt.Issued != prev.Issued || bt.Instrument != prev.Instrument:
				err = fmt.Errorf("its ID, attestation, instrument or issued quantity changed")
			case bt.Retired < prev.Retired || bt.Cancelled < prev.Cancelled:
				err = fmt.Errorf("retired %d or cancelled %d went down from %d, %d (R4)", bt.Retired, bt.Cancelled, prev.Retired, prev.Cancelled)
			}
		}
		if err != nil {
			v.rep.fail(name, "version %d (transaction %s): %v", i+1, short(e.TxID), err)
			return
		}
		out = append(out, historyVersion{tx: tx, batch: bt})
	}
	first := out[0].batch
	var err error
	issued := a.Quantity - first.CarriedRetired
	switch {
	case mint != nil && out[0].tx != mint:
		err = fmt.Errorf("its first version was written by %s, not by the mint %s", short(out[0].tx.ID), short(mint.ID))
	case first.ID != b.ID || first.MintTxID != rec.TxID:
		err = fmt.Errorf("its first version is batch %s minted by %s", first.ID, short(first.MintTxID))
	case first.AttestationID != rec.ID:
		err = fmt.Errorf("it names attestation %s, not %s", short(first.AttestationID), short(rec.ID))
	case first.Instrument != a.Instrument || first.SiteID != a.SiteID || first.PeriodStart != a.PeriodStart || first.PeriodEnd != a.PeriodEnd || first.Dataset != a.Dataset:
		err = fmt.Errorf("its instrument, site, period or dataset is not the attestation's")
	case first.MatchedWh != a.Totals.MatchedWh:
		err = fmt.Errorf("it records %d matched Wh; the attestation matched %d Wh", first.MatchedWh, a.Totals.MatchedWh)
	case first.Issued != issued:
		err = fmt.Errorf("it issued %d units; the attestation's quantity %d less %d carried retired gives %d", first.Issued, a.Quantity, first.CarriedRetired, issued)
	}
	if err != nil {
		v.rep.fail(name, "%v", err)
		return
	}
	last := out[len(out)-1].batch
	v.histories[b.ID] = out
	v.rep.pass(name, "%d versions, each written by its transaction, each transaction having read the version before; issued %d = tradable %d + escrowed %d + retired %d + cancelled %d (R3) after each; now %s",
		len(out), last.Issued, last.Tradable, last.Escrowed, last.Retired, last.Cancelled, last.Status)
}

// statement checks a retirement statement: written by its Retire
// transaction, by its owner, and each batch's retired units grew by the
// parts it names in that transaction.
func (v *verifier) statement(bd *Bundle) {
	name := "statement " + bd.Subject.ID
	var st greenmint.RetirementStatement
	err := decode(bd.Statement.Value, &st)
	var tx *ledgerTx
	if err == nil {
		tx, err = v.written(bd.Statement, compositeKey("retirement", st.ID))
	}
	switch {
	case err != nil:
	case st.ID != bd.Subject.ID:
		err = fmt.Errorf("the statement is %s", st.ID)
	case tx.Function != greenmint.TxRetire || st.TxID != tx.ID:
		err = fmt.Errorf("it was written by %s (%s), and names transaction %s", short(tx.ID), tx.Function, short(st.TxID))
	case st.Owner != tx.Creator:
		err = fmt.Errorf("it names owner %s; %s retired", st.Owner, tx.Creator)
	case st.RetiredAt != greenmint.FormatTime(tx.Time):
		err = fmt.Errorf("it states retired at %s; the transaction's time is %s", st.RetiredAt, greenmint.FormatTime(tx.Time))
	}
	if err != nil {
		v.rep.fail(name, "%v", err)
		return
	}
	v.rep.pass(name, "retired by %s for %s (%s, %s, reporting year %d) in transaction %s (block %d, %s)",
		st.Owner, st.Beneficiary, st.Jurisdiction, st.Purpose, st.ReportingYear, st.TxID, tx.Block, st.RetiredAt)

	parts := map[string]int64{}
	var order []string
	for _, pt := range st.Parts {
		if _, ok := parts[pt.BatchID]; !ok {
			order = append(order, pt.BatchID)
		}
		parts[pt.BatchID] += pt.Quantity
	}
	inBundle := map[string]bool{}
	for _, b := range bd.Batches {
		inBundle[b.ID] = true
		if _, ok := parts[b.ID]; !ok {
			v.rep.fail(name, "the bundle holds batch %s, which the statement does not retire from", b.ID)
		}
	}
	for _, id := range order {
		pn := fmt.Sprintf("%s: part of %s", name, id)
		hist, ok := v.histories[id]
		switch {
		case !inBundle[id]:
			v.rep.fail(pn, "batch %s is not in the bundle", id)
			continue
		case !ok:
			v.rep.fail(pn, "the history of batch %s does not verify", id)
			continue
		}
		at := -1
		for i, h := range hist {
			if h.tx == tx {
				at = i
			}
		}
		if at <= 0 {
			v.rep.fail(pn, "transaction %s is not in the history of batch %s", short(tx.ID), id)
			continue
		}
		got := hist[at].batch.Retired - hist[at-1].batch.Retired
		var inst greenmint.Instrument
		for _, pt := range st.Parts {
			if pt.BatchID == id {
				inst = pt.Instrument
			}
		}
		if got != parts[id] || inst != hist[at].batch.Instrument {
			v.rep.fail(pn, "the statement retires %d %s; the transaction retired %d %s of batch %s", parts[id], inst, got, hist[at].batch.Instrument, id)
			continue
		}
		v.rep.pass(pn, "%d %s units retired from batch %s by this transaction (R4: retired units never move again)", got, inst, id)
	}
}
