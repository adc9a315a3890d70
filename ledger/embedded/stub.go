package embedded

import (
	"errors"
	"fmt"
	"sort"
	"unicode/utf8"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// errUnsupported answers the parts of the stub interface that an embedded
// single-channel ledger with LevelDB-like state does not offer.
var errUnsupported = errors.New("not supported by the embedded ledger")

const (
	compositeKeyNamespace = "\x00"
	maxUnicodeRune        = utf8.MaxRune
)

// stub is the embedded ledger's shim.ChaincodeStubInterface: it simulates a
// transaction against committed state and records its read-write set. Like
// Fabric's, it does not let a transaction read its own writes.
type stub struct {
	prop      *Proposal
	signed    *SignedProposal
	view      view
	readOnly  bool // an evaluation: paginated queries are allowed
	reads     map[string]*Version
	readOrder []string
	ranges    []RangeRead
	writes    map[string]Write
	event     *Event
	usedPages bool // a paginated query ran: Fabric allows them only in read-only transactions
}

var _ shim.ChaincodeStubInterface = (*stub)(nil)

func newStub(p *Proposal, sp *SignedProposal, view view, readOnly bool) *stub {
	return &stub{prop: p, signed: sp, view: view, readOnly: readOnly, reads: map[string]*Version{}, writes: map[string]Write{}}
}

func (s *stub) GetArgs() [][]byte {
	out := make([][]byte, 0, len(s.prop.Args)+1)
	out = append(out, []byte(s.prop.Function))
	for _, a := range s.prop.Args {
		out = append(out, []byte(a))
	}
	return out
}

func (s *stub) GetStringArgs() []string {
	return append([]string{s.prop.Function}, s.prop.Args...)
}

func (s *stub) GetFunctionAndParameters() (string, []string) {
	return s.prop.Function, append([]string(nil), s.prop.Args...)
}

func (s *stub) GetArgsSlice() ([]byte, error) {
	var out []byte
	for _, a := range s.GetArgs() {
		out = append(out, a...)
	}
	return out, nil
}

func (s *stub) GetTxID() string      { return s.prop.TxID }
func (s *stub) GetChannelID() string { return s.prop.ChannelID }

func (s *stub) InvokeChaincode(string, [][]byte, string) *peer.Response {
	return &peer.Response{Status: shim.ERROR, Message: "chaincode-to-chaincode calls are " + errUnsupported.Error()}
}

func (s *stub) GetState(key string) ([]byte, error) {
	if key == "" {
		return nil, errors.New("key must not be an empty string")
	}
	val, ver, err := s.view.get(key)
	if err != nil {
		return nil, err
	}
	if _, seen := s.reads[key]; !seen {
		s.readOrder = append(s.readOrder, key)
	}
	s.reads[key] = ver
	return val, nil
}

func (s *stub) GetMultipleStates(keys ...string) ([][]byte, error) {
	out := make([][]byte, len(keys))
	for i, k := range keys {
		v, err := s.GetState(k)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (s *stub) PutState(key string, value []byte) error {
	if key == "" {
		return errors.New("key must not be an empty string")
	}
	if !utf8.ValidString(key) {
		return fmt.Errorf("key %x is not valid UTF-8", key)
	}
	if value == nil {
		value = []byte{}
	}
	s.writes[key] = Write{Key: key, Value: append([]byte(nil), value...)}
	return nil
}

func (s *stub) DelState(key string) error {
	if key == "" {
		return errors.New("key must not be an empty string")
	}
	s.writes[key] = Write{Key: key, Delete: true}
	return nil
}

func (s *stub) SetStateValidationParameter(string, []byte) error {
	return fmt.Errorf("key-level endorsement policies are %w", errUnsupported)
}

func (s *stub) GetStateValidationParameter(string) ([]byte, error) {
	return nil, fmt.Errorf("key-level endorsement policies are %w", errUnsupported)
}

// rangeQuery reads keys in [start, end) (end "" = unbounded), at most limit
// of them when limit > 0, records the read for phantom detection and returns
// the results and the key the next page starts at.
func (s *stub) rangeQuery(start, end string, limit int) ([]*queryresult.KV, string, error) {
	var kvs []*queryresult.KV
	rr := RangeRead{Start: start, End: end, Exhausted: true}
	bookmark := ""
	err := s.view.scan(start, end, func(k string, v Version, val []byte) (bool, error) {
		if limit > 0 && len(kvs) == limit {
			bookmark = k
			rr.Exhausted = false
			return false, nil
		}
		vv := v
		rr.Results = append(rr.Results, Read{Key: k, Version: &vv})
		kvs = append(kvs, &queryresult.KV{Namespace: s.prop.Chaincode, Key: k, Value: val})
		return true, nil
	})
	if err != nil {
		return nil, "", err
	}
	s.ranges = append(s.ranges, rr)
	return kvs, bookmark, nil
}

func checkSimpleKeys(keys ...string) error {
	for _, k := range keys {
		if len(k) > 0 && k[0] == 0 {
			return fmt.Errorf("first character of the key [%s] contains a null character which is not allowed", k)
		}
	}
	return nil
}

func (s *stub) GetStateByRange(startKey, endKey string) (shim.StateQueryIteratorInterface, error) {
	if err := checkSimpleKeys(startKey, endKey); err != nil {
		return nil, err
	}
	if startKey == "" {
		startKey = "\x01"
	}
	kvs, _, err := s.rangeQuery(startKey, endKey, 0)
	if err != nil {
		return nil, err
	}
	return &kvIterator{kvs: kvs}, nil
}

func (s *stub) paginated(start, end string, pageSize int32, bookmark string) (shim.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	s.usedPages = true
	if pageSize <= 0 {
		return nil, nil, fmt.Errorf("page size must be positive, got %d", pageSize)
	}
	if bookmark != "" {
		if bookmark < start || (end != "" && bookmark >= end) {
			return nil, nil, fmt.Errorf("bookmark %q lies outside the queried range", bookmark)
		}
		start = bookmark
	}
	kvs, next, err := s.rangeQuery(start, end, int(pageSize))
	if err != nil {
		return nil, nil, err
	}
	return &kvIterator{kvs: kvs}, &peer.QueryResponseMetadata{FetchedRecordsCount: int32(len(kvs)), Bookmark: next}, nil
}

func (s *stub) GetStateByRangeWithPagination(startKey, endKey string, pageSize int32, bookmark string) (shim.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	if err := checkSimpleKeys(startKey, endKey); err != nil {
		return nil, nil, err
	}
	if startKey == "" {
		startKey = "\x01"
	}
	return s.paginated(startKey, endKey, pageSize, bookmark)
}

func partialKeyRange(objectType string, attributes []string) (string, string, error) {
	prefix, err := shim.CreateCompositeKey(objectType, attributes)
	if err != nil {
		return "", "", err
	}
	return prefix, prefix + string(rune(maxUnicodeRune)), nil
}

func (s *stub) GetStateByPartialCompositeKey(objectType string, keys []string) (shim.StateQueryIteratorInterface, error) {
	start, end, err := partialKeyRange(objectType, keys)
	if err != nil {
		return nil, err
	}
	kvs, _, err := s.rangeQuery(start, end, 0)
	if err != nil {
		return nil, err
	}
	return &kvIterator{kvs: kvs}, nil
}

func (s *stub) GetStateByPartialCompositeKeyWithPagination(objectType string, keys []string, pageSize int32, bookmark string) (shim.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	start, end, err := partialKeyRange(objectType, keys)
	if err != nil {
		return nil, nil, err
	}
	return s.paginated(start, end, pageSize, bookmark)
}

func (s *stub) GetAllStatesCompositeKeyWithPagination(pageSize int32, bookmark string) (shim.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	return s.paginated(compositeKeyNamespace, compositeKeyNamespace+string(rune(maxUnicodeRune)), pageSize, bookmark)
}

func (s *stub) CreateCompositeKey(objectType string, attributes []string) (string, error) {
	return shim.CreateCompositeKey(objectType, attributes)
}

func (s *stub) SplitCompositeKey(compositeKey string) (string, []string, error) {
	if len(compositeKey) < 2 || compositeKey[0] != 0 || compositeKey[len(compositeKey)-1] != 0 {
		return "", nil, fmt.Errorf("%q is not a composite key", compositeKey)
	}
	var parts []string
	from := 1
	for i := 1; i < len(compositeKey); i++ {
		if compositeKey[i] == 0 {
			parts = append(parts, compositeKey[from:i])
			from = i + 1
		}
	}
	return parts[0], parts[1:], nil
}

func (s *stub) GetQueryResult(string) (shim.StateQueryIteratorInterface, error) {
	return nil, fmt.Errorf("rich queries are %w", errUnsupported)
}

func (s *stub) GetQueryResultWithPagination(string, int32, string) (shim.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	return nil, nil, fmt.Errorf("rich queries are %w", errUnsupported)
}

func (s *stub) GetHistoryForKey(key string) (shim.HistoryQueryIteratorInterface, error) {
	entries, err := s.view.history(key)
	if err != nil {
		return nil, err
	}
	mods := make([]*queryresult.KeyModification, len(entries))
	for i, e := range entries {
		mods[i] = &queryresult.KeyModification{
			TxId: e.TxID, Value: e.Value, IsDelete: e.Delete,
			Timestamp: &timestamppb.Timestamp{Seconds: e.Seconds, Nanos: e.Nanos},
		}
	}
	return &historyIterator{mods: mods}, nil
}

func (s *stub) GetPrivateData(string, string) ([]byte, error) {
	return nil, fmt.Errorf("private data is %w", errUnsupported)
}
func (s *stub) GetMultiplePrivateData(string, ...string) ([][]byte, error) {
	return nil, fmt.Errorf("private data is %w", errUnsupported)
}
func (s *stub) GetPrivateDataHash(string, string) ([]byte, error) {
	return nil, fmt.Errorf("private data is %w", errUnsupported)
}
func (s *stub) PutPrivateData(string, string, []byte) error {
	return fmt.Errorf("private data is %w", errUnsupported)
}
func (s *stub) DelPrivateData(string, string) error {
	return fmt.Errorf("private data is %w", errUnsupported)
}
func (s *stub) PurgePrivateData(string, string) error {
	return fmt.Errorf("private data is %w", errUnsupported)
}
func (s *stub) SetPrivateDataValidationParameter(string, string, []byte) error {
	return fmt.Errorf("private data is %w", errUnsupported)
}
func (s *stub) GetPrivateDataValidationParameter(string, string) ([]byte, error) {
	return nil, fmt.Errorf("private data is %w", errUnsupported)
}
func (s *stub) GetPrivateDataByRange(string, string, string) (shim.StateQueryIteratorInterface, error) {
	return nil, fmt.Errorf("private data is %w", errUnsupported)
}
func (s *stub) GetPrivateDataByPartialCompositeKey(string, string, []string) (shim.StateQueryIteratorInterface, error) {
	return nil, fmt.Errorf("private data is %w", errUnsupported)
}
func (s *stub) GetPrivateDataQueryResult(string, string) (shim.StateQueryIteratorInterface, error) {
	return nil, fmt.Errorf("private data is %w", errUnsupported)
}

func (s *stub) GetCreator() ([]byte, error) { return s.prop.Creator, nil }

func (s *stub) GetTransient() (map[string][]byte, error) { return map[string][]byte{}, nil }

func (s *stub) GetBinding() ([]byte, error) { return nil, nil }

func (s *stub) GetDecorations() map[string][]byte { return map[string][]byte{} }

func (s *stub) GetSignedProposal() (*peer.SignedProposal, error) {
	return &peer.SignedProposal{ProposalBytes: s.signed.Proposal, Signature: s.signed.Signature}, nil
}

func (s *stub) GetTxTimestamp() (*timestamppb.Timestamp, error) {
	return &timestamppb.Timestamp{Seconds: s.prop.Seconds, Nanos: s.prop.Nanos}, nil
}

func (s *stub) SetEvent(name string, payload []byte) error {
	if name == "" {
		return errors.New("event name can not be empty string")
	}
	s.event = &Event{Name: name, Payload: append([]byte(nil), payload...)}
	return nil
}

func (s *stub) StartWriteBatch()        {}
func (s *stub) FinishWriteBatch() error { return nil }

// rwset returns the recorded reads and the writes in key order, so the
// block bytes do not depend on map order (R8).
func (s *stub) rwset() ([]Read, []Write) {
	reads := make([]Read, 0, len(s.readOrder))
	for _, k := range s.readOrder {
		reads = append(reads, Read{Key: k, Version: s.reads[k]})
	}
	sort.Slice(reads, func(i, j int) bool { return reads[i].Key < reads[j].Key })
	writes := make([]Write, 0, len(s.writes))
	for _, w := range s.writes {
		writes = append(writes, w)
	}
	sort.Slice(writes, func(i, j int) bool { return writes[i].Key < writes[j].Key })
	return reads, writes
}

type kvIterator struct {
	kvs []*queryresult.KV
	i   int
}

func (it *kvIterator) HasNext() bool { return it.i < len(it.kvs) }
func (it *kvIterator) Close() error  { return nil }
func (it *kvIterator) Next() (*queryresult.KV, error) {
	if it.i >= len(it.kvs) {
		return nil, errors.New("no more results")
	}
	it.i++
	return it.kvs[it.i-1], nil
}

type historyIterator struct {
	mods []*queryresult.KeyModification
	i    int
}

func (it *historyIterator) HasNext() bool { return it.i < len(it.mods) }
func (it *historyIterator) Close() error  { return nil }
func (it *historyIterator) Next() (*queryresult.KeyModification, error) {
	if it.i >= len(it.mods) {
		return nil, errors.New("no more results")
	}
	it.i++
	return it.mods[it.i-1], nil
}
