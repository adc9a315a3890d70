package embedded

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/greenmint/greenmint"
)

// The ledger keeps everything in one Pebble store (an LSM tree: a block is
// one sequential, fsynced write-ahead-log append), under key prefixes:
//
//	s ‖ key                       → version (block, tx: 16 bytes) ‖ value   world state
//	h ‖ len(key) ‖ key ‖ block ‖ tx → history entry                          key history
//	b ‖ block number              → canonical block JSON                    the chain
//	t ‖ tx ID                     → block ‖ tx                              transaction index
//	m ‖ name                      → height, last block hash
const (
	prefixState   = 's'
	prefixHistory = 'h'
	prefixBlock   = 'b'
	prefixTx      = 't'
	prefixMeta    = 'm'
)

var (
	metaHeight   = metaKey("height")
	metaLastHash = metaKey("last_hash")
)

func u64(n uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return b[:]
}

func stateKey(k string) []byte { return append([]byte{prefixState}, k...) }
func blockKey(n uint64) []byte { return append([]byte{prefixBlock}, u64(n)...) }
func txKey(id string) []byte   { return append([]byte{prefixTx}, id...) }
func metaKey(n string) []byte  { return append([]byte{prefixMeta}, n...) }

func historyPrefix(key string) []byte {
	out := make([]byte, 5, 5+len(key)+16)
	out[0] = prefixHistory
	binary.BigEndian.PutUint32(out[1:5], uint32(len(key)))
	return append(out, key...)
}

func historyKey(key string, v Version) []byte {
	out := historyPrefix(key)
	out = append(out, u64(v.Block)...)
	return append(out, u64(v.Tx)...)
}

type historyEntry struct {
	TxID    string
	Seconds int64
	Nanos   int32
	Value   []byte
	Delete  bool
}

// encode lays a history entry out as seconds (8) ‖ nanos (4) ‖ delete (1)
// ‖ len(tx ID) (2) ‖ tx ID ‖ value.
func (e historyEntry) encode() []byte {
	out := make([]byte, 15, 15+len(e.TxID)+len(e.Value))
	binary.BigEndian.PutUint64(out[0:8], uint64(e.Seconds))
	binary.BigEndian.PutUint32(out[8:12], uint32(e.Nanos))
	if e.Delete {
		out[12] = 1
	}
	binary.BigEndian.PutUint16(out[13:15], uint16(len(e.TxID)))
	out = append(out, e.TxID...)
	return append(out, e.Value...)
}

func decodeHistory(raw []byte) (historyEntry, error) {
	if len(raw) < 15 {
		return historyEntry{}, fmt.Errorf("embedded: history entry of %d bytes is too short", len(raw))
	}
	n := int(binary.BigEndian.Uint16(raw[13:15]))
	if len(raw) < 15+n {
		return historyEntry{}, fmt.Errorf("embedded: history entry is truncated")
	}
	return historyEntry{
		Seconds: int64(binary.BigEndian.Uint64(raw[0:8])), Nanos: int32(binary.BigEndian.Uint32(raw[8:12])), Delete: raw[12] == 1,
		TxID: string(raw[15 : 15+n]), Value: append([]byte(nil), raw[15+n:]...),
	}, nil
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

// StoreDir is the store's directory inside a ledger directory.
const StoreDir = "store"

// FileName is kept for callers that look for the ledger inside a
// directory: it names the store's directory.
const FileName = StoreDir

type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "embedded store: "+format+"\n", args...)
	os.Exit(2)
}

// openStore opens (or, with create, makes) the store of the ledger in dir.
func openStore(dir string, create bool) (*pebble.DB, error) {
	path := filepath.Join(dir, StoreDir)
	if !create {
		if m, _ := filepath.Glob(filepath.Join(path, "marker.manifest.*")); len(m) == 0 {
			return nil, greenmint.Errorf(greenmint.ENOTFOUND, "no ledger in %s", dir)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, greenmint.Errorf(greenmint.EUNAVAILABLE, "cannot create ledger directory %s: %v", dir, err)
	}
	opts := &pebble.Options{Logger: quietLogger{}, ErrorIfNotExists: !create, Cache: pebble.NewCache(256 << 20)}
	defer opts.Cache.Unref()
	for i := range opts.Levels {
		// Bloom filters spare a disk read for keys that are absent (fresh
		// transaction IDs, new holdings); no compression spares the CPU.
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
		opts.Levels[i].Compression = func() *sstable.CompressionProfile { return sstable.NoCompression }
	}
	db, err := pebble.Open(path, opts)
	if err != nil {
		if strings.Contains(err.Error(), "lock") {
			return nil, greenmint.Errorf(greenmint.EUNAVAILABLE, "ledger %s is in use by another process", dir)
		}
		return nil, greenmint.Errorf(greenmint.EUNAVAILABLE, "cannot open ledger %s: %v", dir, err)
	}
	return db, nil
}

// reader is what reads go through: the database, or a block's batch while
// it is being validated (so that later transactions see earlier ones).
type reader interface {
	Get(key []byte) ([]byte, io.Closer, error)
	NewIter(o *pebble.IterOptions) (*pebble.Iterator, error)
}

// view reads the ledger's store.
type view struct{ r reader }

// raw returns a copy of the value at key, or nil.
func (v view) raw(key []byte) ([]byte, error) {
	val, closer, err := v.r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := append([]byte(nil), val...)
	return out, closer.Close()
}

func (v view) get(key string) ([]byte, *Version, error) {
	raw, err := v.raw(stateKey(key))
	if err != nil || raw == nil {
		return nil, nil, err
	}
	ver, val, err := decodeState(raw)
	if err != nil {
		return nil, nil, err
	}
	return val, &ver, nil
}

// scan calls fn for state keys in [start, end) in order until fn returns
// false. An empty end means no upper bound.
func (v view) scan(start, end string, fn func(key string, ver Version, value []byte) (bool, error)) error {
	upper := []byte{prefixState + 1}
	if end != "" {
		upper = stateKey(end)
	}
	it, err := v.r.NewIter(&pebble.IterOptions{LowerBound: stateKey(start), UpperBound: upper})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		ver, val, err := decodeState(it.Value())
		if err != nil {
			return err
		}
		more, err := fn(string(it.Key()[1:]), ver, val)
		if err != nil || !more {
			return err
		}
	}
	return it.Error()
}

func (v view) history(key string) ([]historyEntry, error) {
	prefix := historyPrefix(key)
	upper := append(append([]byte(nil), prefix...), bytes.Repeat([]byte{0xff}, 17)...)
	it, err := v.r.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: upper})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []historyEntry
	for ok := it.First(); ok; ok = it.Next() {
		if len(it.Key()) != len(prefix)+16 {
			continue
		}
		e, err := decodeHistory(it.Value())
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, it.Error()
}

func beUint64(b []byte) uint64 {
	var n uint64
	for _, c := range b {
		n = n<<8 | uint64(c)
	}
	return n
}
