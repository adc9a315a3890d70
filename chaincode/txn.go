package chaincode

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

// state is the part of the ledger a transaction uses. stubState implements
// it over the shim's stub; the rules never see the stub itself.
type state interface {
	GetState(key string) ([]byte, error)
	PutState(key string, value []byte) error
	DelState(key string) error
	GetStateByPartialCompositeKey(objectType string, keys []string) (shim.StateQueryIteratorInterface, error)
}

// Object types of the state's composite keys.
const (
	kindPolicy       = "policy"
	kindOracle       = "oracle"
	kindDataset      = "dataset"
	kindSite         = "site"
	kindMeter        = "meter"
	kindAttestation  = "attestation"
	kindSiteHour     = "sitehour"
	kindGenHour      = "genhour"
	kindBatch        = "batch"
	kindSiteBatch    = "sitebatch"
	kindHolding      = "holding"
	kindHolder       = "holder"
	kindListing      = "listing"
	kindBatchListing = "batchlisting"
	kindRetirement   = "retirement"
	kindCancellation = "cancellation"
	kindFlag         = "flag"
	kindIdempotency  = "idem"
	kindAccount      = "account"
	kindSiteMeter    = "sitemeter"
	kindOrg          = "org"
	kindGridRegion   = "gridregion"
)

// caller is the verified identity behind a transaction. Role is what its
// certificate claims; it counts only as t.roleCounts says (R11).
type caller struct {
	MSPID string
	Name  string
	Role  greenmint.Role
}

// txn is one transaction in progress: its state, its caller, its ID and
// timestamp, and the changes it made (for its event). Reads see the
// transaction's own earlier writes, which the stub alone does not.
type txn struct {
	st      state
	caller  caller
	txID    string
	now     time.Time
	written map[string][]byte // key → value written (nil: deleted)
	order   []string
	counts  *bool // whether the caller's role counts, once known
}

func newTxn(ctx contractapi.TransactionContextInterface) (*txn, error) {
	stub := ctx.GetStub()
	ts, err := stub.GetTxTimestamp()
	if err != nil {
		return nil, fmt.Errorf("chaincode: timestamp: %w", err)
	}
	cid := ctx.GetClientIdentity()
	if cid == nil {
		return nil, greenmint.Errorf(greenmint.EUNAUTHENTICATED, "no client identity")
	}
	msp, err := cid.GetMSPID()
	if err != nil {
		return nil, greenmint.E(greenmint.EUNAUTHENTICATED, "", err, "cannot read the caller's MSP ID")
	}
	cert, err := cid.GetX509Certificate()
	if err != nil || cert == nil {
		return nil, greenmint.Errorf(greenmint.EUNAUTHENTICATED, "caller has no X.509 certificate")
	}
	role, _, err := cid.GetAttributeValue(greenmint.RoleAttribute)
	if err != nil {
		return nil, greenmint.E(greenmint.EUNAUTHENTICATED, "", err, "cannot read the caller's role")
	}
	return &txn{
		st:      stub,
		caller:  caller{MSPID: msp, Name: cert.Subject.CommonName, Role: greenmint.Role(role)},
		txID:    stub.GetTxID(),
		now:     ts.AsTime().UTC(),
		written: map[string][]byte{},
	}, nil
}

func key(kind string, attrs ...string) (string, error) {
	k, err := shim.CreateCompositeKey(kind, attrs)
	if err != nil {
		return "", greenmint.E(greenmint.EINVALID, "", err, "bad key part")
	}
	return k, nil
}

// get reads kind/attrs into v and reports whether it exists.
func (t *txn) get(v any, kind string, attrs ...string) (bool, error) {
	k, err := key(kind, attrs...)
	if err != nil {
		return false, err
	}
	raw, ok := t.written[k]
	if !ok {
		if raw, err = t.st.GetState(k); err != nil {
			return false, fmt.Errorf("chaincode: read %s: %w", kind, err)
		}
	}
	if raw == nil {
		return false, nil
	}
	if v != nil {
		if err := json.Unmarshal(raw, v); err != nil {
			return false, fmt.Errorf("chaincode: decode %s: %w", kind, err)
		}
	}
	return true, nil
}

// mustGet reads kind/attrs into v, ENOTFOUND if absent.
func (t *txn) mustGet(v any, what, kind string, attrs ...string) error {
	ok, err := t.get(v, kind, attrs...)
	if err != nil {
		return err
	}
	if !ok {
		return greenmint.Errorf(greenmint.ENOTFOUND, "%s %s does not exist", what, attrs[len(attrs)-1])
	}
	return nil
}

func (t *txn) put(v any, kind string, attrs ...string) error {
	k, err := key(kind, attrs...)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("chaincode: encode %s: %w", kind, err)
	}
	if err := t.st.PutState(k, raw); err != nil {
		return fmt.Errorf("chaincode: write %s: %w", kind, err)
	}
	if _, seen := t.written[k]; !seen {
		t.order = append(t.order, k)
	}
	t.written[k] = raw
	return nil
}

func (t *txn) del(kind string, attrs ...string) error {
	k, err := key(kind, attrs...)
	if err != nil {
		return err
	}
	if err := t.st.DelState(k); err != nil {
		return fmt.Errorf("chaincode: delete %s: %w", kind, err)
	}
	if _, seen := t.written[k]; !seen {
		t.order = append(t.order, k)
	}
	t.written[k] = nil
	return nil
}

// scan returns the attributes and values of all keys of kind starting with
// attrs, in key order. (Fabric allows only unpaginated scans in writes.)
func (t *txn) scan(kind string, attrs ...string) ([][]string, [][]byte, error) {
	it, err := t.st.GetStateByPartialCompositeKey(kind, attrs)
	if err != nil {
		return nil, nil, fmt.Errorf("chaincode: scan %s: %w", kind, err)
	}
	defer it.Close()
	var keys [][]string
	var vals [][]byte
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			return nil, nil, fmt.Errorf("chaincode: scan %s: %w", kind, err)
		}
		_, parts, err := splitKey(kv.Key)
		if err != nil {
			return nil, nil, err
		}
		keys = append(keys, parts)
		vals = append(vals, kv.Value)
	}
	return keys, vals, nil
}

func splitKey(k string) (string, []string, error) {
	if len(k) < 2 || k[0] != 0 {
		return "", nil, fmt.Errorf("chaincode: %q is not a composite key", k)
	}
	var parts []string
	from := 1
	for i := 1; i < len(k); i++ {
		if k[i] == 0 {
			parts = append(parts, k[from:i])
			from = i + 1
		}
	}
	if len(parts) == 0 {
		return "", nil, fmt.Errorf("chaincode: %q is not a composite key", k)
	}
	return parts[0], parts[1:], nil
}

// changes lists what the transaction wrote, in key order (R8), leaving out
// idempotency records.
func (t *txn) changes() ([]greenmint.Change, error) {
	keys := append([]string(nil), t.order...)
	sort.Strings(keys)
	out := make([]greenmint.Change, 0, len(keys))
	for _, k := range keys {
		kind, attrs, err := splitKey(k)
		if err != nil {
			return nil, err
		}
		if kind == kindIdempotency {
			continue
		}
		v := t.written[k]
		out = append(out, greenmint.Change{Kind: kind, Key: attrs, Value: v, Deleted: v == nil})
	}
	return out, nil
}

func (t *txn) stamp() string { return greenmint.FormatTime(t.now) }

// shortID derives a readable, unique ID from the transaction ID.
func (t *txn) shortID(prefix string) string {
	id := t.txID
	if len(id) > 16 {
		id = id[:16]
	}
	return prefix + "-" + id
}

// Access rules.

func (t *txn) policy() (*greenmint.Policy, error) {
	var p greenmint.Policy
	ok, err := t.get(&p, kindPolicy)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, greenmint.Errorf(greenmint.ECONFLICT, "the ledger is not bootstrapped: the registry must call Bootstrap first")
	}
	return &p, nil
}

// requireRole admits a caller whose certificate claims one of roles and
// whose organisation holds that role on the ledger (R11).
func (t *txn) requireRole(roles ...greenmint.Role) error {
	claimed := false
	for _, r := range roles {
		if t.caller.Role == r {
			claimed = true
		}
	}
	if !claimed {
		return greenmint.Errorf(greenmint.EFORBIDDEN, "role %q may not do this (needs %v)", t.caller.Role, roles)
	}
	ok, err := t.roleCounts()
	if err != nil {
		return err
	}
	if !ok {
		return t.notAdmitted()
	}
	return nil
}

// requireRegistry admits only the registry role of the registry's
// organisation.
func (t *txn) requireRegistry() (*greenmint.Policy, error) {
	if err := t.requireRole(greenmint.RoleRegistry); err != nil {
		return nil, err
	}
	return t.policy()
}

// requireHolder admits the roles that may hold units, miners and buyers,
// and opens the caller's organisation's account if it has none.
func (t *txn) requireHolder() error {
	if err := t.requireRole(greenmint.RoleMiner, greenmint.RoleBuyer); err != nil {
		return err
	}
	if ok, err := t.get(nil, kindAccount, t.caller.MSPID); err != nil || ok {
		return err // an account exists only on a bootstrapped ledger
	}
	if _, err := t.policy(); err != nil {
		return err
	}
	_, err := t.ensureAccount()
	return err
}

// ensureAccount returns the caller's organisation's account, opening it if
// needed, and whether it was opened now.
func (t *txn) ensureAccount() (*greenmint.Account, error) {
	var a greenmint.Account
	ok, err := t.get(&a, kindAccount, t.caller.MSPID)
	if err != nil || ok {
		return &a, err
	}
	a = greenmint.Account{MSPID: t.caller.MSPID, Role: t.caller.Role, OpenedBy: t.caller.Name, OpenedAt: t.stamp()}
	return &a, t.put(a, kindAccount, a.MSPID)
}

// requireAccount fails with ENOTFOUND if an organisation has no account.
func (t *txn) requireAccount(mspID string) error {
	ok, err := t.get(nil, kindAccount, mspID)
	if err != nil {
		return err
	}
	if !ok {
		return greenmint.Errorf(greenmint.ENOTFOUND, "organisation %s has no account; it must open one before it can receive units", mspID)
	}
	return nil
}

func (t *txn) openAccount(_ *greenmint.OpenAccountRequest) (any, error) {
	if _, err := t.policy(); err != nil {
		return nil, err
	}
	if err := t.requireRole(greenmint.RoleMiner, greenmint.RoleBuyer); err != nil {
		return nil, err
	}
	if ok, err := t.get(nil, kindAccount, t.caller.MSPID); err != nil {
		return nil, err
	} else if ok {
		return nil, greenmint.Errorf(greenmint.ECONFLICT, "organisation %s already has an account", t.caller.MSPID)
	}
	return t.ensureAccount()
}

// Validation of request fields.

var (
	siteIDPattern  = regexp.MustCompile(`^[A-Z0-9]{2,16}$`)
	objIDPattern   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	mspPattern     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	countryPattern = regexp.MustCompile(`^[A-Z]{2}$`)
	jurisdiction   = regexp.MustCompile(`^[A-Z]{2}(-[A-Z0-9]{1,3})?$`)
	currency       = regexp.MustCompile(`^[A-Z]{3}$`)
	sha256Pattern  = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

func checkID(what, v string, re *regexp.Regexp) error {
	if !re.MatchString(v) {
		return greenmint.Errorf(greenmint.EINVALID, "%s %q is malformed (want %s)", what, v, re.String())
	}
	return nil
}

func checkText(what, v string, required bool, maxLen int) error {
	if required && v == "" {
		return greenmint.Errorf(greenmint.EINVALID, "%s is required", what)
	}
	if len(v) > maxLen {
		return greenmint.Errorf(greenmint.EINVALID, "%s is longer than %d bytes", what, maxLen)
	}
	return nil
}

// idemRecord is what an idempotency key remembers.
type idemRecord struct {
	RequestHash string          `json:"request_hash"`
	Response    json.RawMessage `json:"response"`
}

// idempotent is implemented by every write request (greenmint.Idempotent).
type idempotent interface{ IdemKey() string }

// errorText renders err for the chaincode response as "code: function:
// message", the form greenmint.ParseError reads back. Errors without a code
// are internal.
func errorText(function string, err error) error {
	var ge *greenmint.Error
	msg := err.Error()
	if errors.As(err, &ge) {
		msg = greenmint.ErrorMessage(err)
	}
	return errors.New(greenmint.ErrorCode(err) + ": " + function + ": " + msg)
}

func requestHash(function string, canonical []byte) string {
	h := sha256.Sum256(append([]byte(function+"\n"), canonical...))
	return hex.EncodeToString(h[:])
}

// maxIdemKey bounds an idempotency key's length.
const maxIdemKey = 128

// write runs a write transaction: it decodes the request strictly, answers
// a retried idempotency key with the first result (R10), runs h, remembers
// the result under the key and emits the transaction's one event (R7).
func write[R any](ctx contractapi.TransactionContextInterface, function, request string, h func(*txn, *R) (any, error)) (string, error) {
	out, err := runWrite(ctx, function, request, h)
	if err != nil {
		return "", errorText(function, err)
	}
	return out, nil
}

func runWrite[R any](ctx contractapi.TransactionContextInterface, function, request string, h func(*txn, *R) (any, error)) (string, error) {
	t, err := newTxn(ctx)
	if err != nil {
		return "", err
	}
	var req R
	if err := greenmint.DecodeStrict([]byte(request), &req); err != nil {
		return "", err
	}
	idemKey := ""
	if ik, ok := any(req).(idempotent); ok {
		idemKey = ik.IdemKey()
	}
	var reqHash string
	if idemKey != "" {
		if err := checkText("idempotency_key", idemKey, false, maxIdemKey); err != nil {
			return "", err
		}
		canon, err := greenmint.Canonical(req)
		if err != nil {
			return "", err
		}
		reqHash = requestHash(function, canon)
		var rec idemRecord
		found, err := t.get(&rec, kindIdempotency, t.caller.MSPID, t.caller.Name, idemKey)
		if err != nil {
			return "", err
		}
		if found {
			if rec.RequestHash != reqHash {
				return "", greenmint.Errorf(greenmint.ECONFLICT, "idempotency key %q was used for a different request", idemKey)
			}
			return string(rec.Response), nil
		}
	}
	res, err := h(t, &req)
	if err != nil {
		return "", err
	}
	out, err := json.Marshal(res)
	if err != nil {
		return "", fmt.Errorf("chaincode: encode result: %w", err)
	}
	if idemKey != "" {
		if err := t.put(idemRecord{RequestHash: reqHash, Response: out}, kindIdempotency, t.caller.MSPID, t.caller.Name, idemKey); err != nil {
			return "", err
		}
	}
	changes, err := t.changes()
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(greenmint.EventPayload{
		TxID: t.txID, Function: function, Creator: t.caller.MSPID, Timestamp: t.stamp(), Changes: changes,
	})
	if err != nil {
		return "", fmt.Errorf("chaincode: encode event: %w", err)
	}
	if err := ctx.GetStub().SetEvent(function, payload); err != nil {
		return "", fmt.Errorf("chaincode: event: %w", err)
	}
	return string(out), nil
}

// archive is what queries read beyond state: pages and key history.
// *shim.ChaincodeStub (and the embedded ledger's stub) implement it.
type archive interface {
	GetStateByPartialCompositeKeyWithPagination(objectType string, keys []string, pageSize int32, bookmark string) (shim.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error)
	GetHistoryForKey(key string) (shim.HistoryQueryIteratorInterface, error)
}

// query runs a read-only transaction.
func query[R any](ctx contractapi.TransactionContextInterface, function, request string, h func(*txn, archive, *R) (any, error)) (string, error) {
	out, err := runQuery(ctx, request, h)
	if err != nil {
		return "", errorText(function, err)
	}
	return out, nil
}

func runQuery[R any](ctx contractapi.TransactionContextInterface, request string, h func(*txn, archive, *R) (any, error)) (string, error) {
	t, err := newTxn(ctx)
	if err != nil {
		return "", err
	}
	var req R
	if request == "" {
		request = "{}"
	}
	if err := greenmint.DecodeStrict([]byte(request), &req); err != nil {
		return "", err
	}
	res, err := h(t, ctx.GetStub(), &req)
	if err != nil {
		return "", err
	}
	out, err := json.Marshal(res)
	if err != nil {
		return "", fmt.Errorf("chaincode: encode result: %w", err)
	}
	return string(out), nil
}
