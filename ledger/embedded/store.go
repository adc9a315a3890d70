package embedded

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// The buckets of the ledger file.
var (
	bucketState   = []byte("state")   // key → version (16 bytes) ‖ value
	bucketHistory = []byte("history") // len(key) ‖ key ‖ block ‖ tx → historyEntry
	bucketBlocks  = []byte("blocks")  // block number → canonical Block JSON
	bucketTxIDs   = []byte("txids")   // tx ID → block ‖ tx
	bucketMeta    = []byte("meta")    // "height", "last_hash"
)

var (
	metaHeight   = []byte("height")
	metaLastHash = []byte("last_hash")
)

type historyEntry struct {
	TxID    string `json:"tx_id"`
	Seconds int64  `json:"seconds"`
	Nanos   int32  `json:"nanos"`
	Value   []byte `json:"value"`
	Delete  bool   `json:"delete"`
}

func u64(n uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return b[:]
}

func encodeState(v Version, value []byte) []byte {
	out := make([]byte, 16+len(value))
	binary.BigEndian.PutUint64(out[0:8], v.Block)
	binary.BigEndian.PutUint64(out[8:16], v.Tx)
	copy(out[16:], value)
	return out
}

func decodeState(raw []byte) (Version, []byte, error) {
	if len(raw) < 16 {
		return Version{}, nil, fmt.Errorf("embedded: state entry of %d bytes is too short", len(raw))
	}
	v := Version{Block: binary.BigEndian.Uint64(raw[0:8]), Tx: binary.BigEndian.Uint64(raw[8:16])}
	return v, append([]byte(nil), raw[16:]...), nil
}

func historyPrefix(key string) []byte {
	out := make([]byte, 4, 4+len(key)+16)
	binary.BigEndian.PutUint32(out, uint32(len(key)))
	return append(out, key...)
}

func historyKey(key string, v Version) []byte {
	out := historyPrefix(key)
	out = append(out, u64(v.Block)...)
	return append(out, u64(v.Tx)...)
}

// stateView reads committed state inside one bbolt transaction.
type stateView struct{ tx *bolt.Tx }

func (s stateView) get(key string) ([]byte, *Version, error) {
	raw := s.tx.Bucket(bucketState).Get([]byte(key))
	if raw == nil {
		return nil, nil, nil
	}
	v, val, err := decodeState(raw)
	if err != nil {
		return nil, nil, err
	}
	return val, &v, nil
}

// scan calls fn for keys in [start, end) in order until fn returns false.
// An empty end means no upper bound.
func (s stateView) scan(start, end string, fn func(key string, v Version, value []byte) (bool, error)) error {
	c := s.tx.Bucket(bucketState).Cursor()
	for k, raw := c.Seek([]byte(start)); k != nil; k, raw = c.Next() {
		if end != "" && bytes.Compare(k, []byte(end)) >= 0 {
			return nil
		}
		v, val, err := decodeState(raw)
		if err != nil {
			return err
		}
		more, err := fn(string(k), v, val)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

func (s stateView) history(key string) ([]historyEntry, error) {
	prefix := historyPrefix(key)
	c := s.tx.Bucket(bucketHistory).Cursor()
	var out []historyEntry
	for k, raw := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+16; k, raw = c.Next() {
		var e historyEntry
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, fmt.Errorf("embedded.history: %w", err)
		}
		out = append(out, e)
	}
	return out, nil
}
