package embedded

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
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

// storeLogger is the Pebble logger of a ledger: Pebble's information and
// errors go to the ledger's *slog.Logger, and its fatal errors, which Pebble's
// default logger answers with os.Exit, panic with a storeFatal that the
// ledger recovers at its boundary (recoverStore) into a greenmint.Error.
type storeLogger struct{ log *slog.Logger }

// storeFatal is the panic value of a fatal error reported by Pebble.
type storeFatal struct{ msg string }

func (l storeLogger) Infof(format string, args ...any) {
	l.log.Debug("embedded store: " + strings.TrimSpace(fmt.Sprintf(format, args...)))
}

func (l storeLogger) Errorf(format string, args ...any) {
	l.log.Error("embedded store: " + strings.TrimSpace(fmt.Sprintf(format, args...)))
}

func (l storeLogger) Fatalf(format string, args ...any) {
	msg := firstLine(fmt.Sprintf(format, args...))
	l.log.Error("embedded store: fatal: " + msg)
	panic(storeFatal{msg: msg})
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// pebbleError keeps a Pebble error as a cause (errors.Is and errors.As see
// it) but renders only its first line: Pebble's messages can carry
// multi-line detail that belongs in no answer.
type pebbleError struct{ err error }

func (e pebbleError) Error() string { return firstLine(e.err.Error()) }
func (e pebbleError) Unwrap() error { return e.err }

// locked reports whether Pebble could not take the store's lock because
// another process holds it (fcntl's EAGAIN) or this one does (Pebble says
// so only in text, "lock held by current process": it has no error value
// for it).
func locked(err error) bool {
	return errors.Is(err, syscall.EAGAIN) || strings.Contains(err.Error(), "lock held by current process")
}

// recoverStore turns a storeFatal panic into an EINTERNAL error in *err;
// any other panic goes on.
func recoverStore(err *error, what string) {
	r := recover()
	if r == nil {
		return
	}
	f, ok := r.(storeFatal)
	if !ok {
		panic(r)
	}
	*err = &greenmint.Error{Code: greenmint.EINTERNAL, Message: what + ": the ledger store failed", Err: &fatalError{msg: f.msg}}
}

// fatalError is a fatal error Pebble reported: after one, the store may be
// left in any state, so the ledger stops.
type fatalError struct{ msg string }

func (e *fatalError) Error() string { return e.msg }

func isFatal(err error) bool {
	var f *fatalError
	return errors.As(err, &f)
}

// storeErr names a store error: corruption becomes EINTERNAL naming what
// was being read, anything else EUNAVAILABLE.
func storeErr(err error, what string) error {
	if err == nil {
		return nil
	}
	var ge *greenmint.Error
	if errors.As(err, &ge) {
		return err
	}
	if pebble.IsCorruptionError(err) {
		return greenmint.E(greenmint.EINTERNAL, "", pebbleError{err}, "the ledger store is damaged (%s)", what)
	}
	return greenmint.E(greenmint.EUNAVAILABLE, "", pebbleError{err}, "the ledger store failed (%s)", what)
}

// privateFS creates the store's files 0600 and its directories 0700, so that
// no other local user reads the ledger.
type privateFS struct{ vfs.FS }

func (fs privateFS) private(f vfs.File, name string, err error) (vfs.File, error) {
	if err == nil {
		err = os.Chmod(name, 0o600)
	}
	return f, err
}

func (fs privateFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, c)
	return fs.private(f, name, err)
}

func (fs privateFS) OpenReadWrite(name string, c vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := fs.FS.OpenReadWrite(name, c, opts...)
	return fs.private(f, name, err)
}

func (fs privateFS) ReuseForWrite(oldname, newname string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, c)
	return fs.private(f, newname, err)
}

func (fs privateFS) Lock(name string) (io.Closer, error) {
	c, err := fs.FS.Lock(name)
	if err == nil {
		if cerr := os.Chmod(name, 0o600); cerr != nil {
			c.Close()
			return nil, cerr
		}
	}
	return c, err
}

func (fs privateFS) MkdirAll(dir string, _ os.FileMode) error { return fs.FS.MkdirAll(dir, 0o700) }

func (fs privateFS) Unwrap() vfs.FS { return fs.FS }

// storeMode says how openStore opens a store.
type storeMode int

const (
	storeOpen     storeMode = iota // an existing store, read-write
	storeCreate                    // a new store
	storeReadOnly                  // an existing store, changing nothing on disk
)

// openStore opens the store of the ledger in dir as mode says. A fatal
// error from Pebble while opening is returned, never an exit.
func openStore(dir string, mode storeMode, log *slog.Logger) (db *pebble.DB, err error) {
	path := filepath.Join(dir, StoreDir)
	if mode != storeCreate {
		if m, _ := filepath.Glob(filepath.Join(path, "marker.manifest.*")); len(m) == 0 {
			return nil, greenmint.Errorf(greenmint.ENOTFOUND, "no ledger in %s", dir)
		}
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, greenmint.E(greenmint.EUNAVAILABLE, "", err, "cannot create ledger directory %s", dir)
	}
	if log == nil {
		log = slog.Default()
	}
	logger := storeLogger{log: log}
	opts := &pebble.Options{
		FS:               privateFS{vfs.Default},
		Logger:           logger,
		ErrorIfNotExists: mode != storeCreate,
		ReadOnly:         mode == storeReadOnly,
		Cache:            pebble.NewCache(256 << 20),
		EventListener: &pebble.EventListener{
			// Pebble's default answer to corruption is a fatal exit; the
			// read that met it returns the error, which the ledger names.
			DataCorruption: func(info pebble.DataCorruptionInfo) {
				log.Error("embedded store: damaged file", "path", info.Path, "details", firstLine(fmt.Sprint(info.Details)))
			},
			BackgroundError: func(err error) {
				log.Error("embedded store: background error: " + firstLine(err.Error()))
			},
		},
	}
	if mode == storeCreate {
		// The newest format writes WAL sync offsets, which let Pebble tell a
		// damaged log record from an unfinished tail.
		opts.FormatMajorVersion = pebble.FormatNewest
	}
	defer opts.Cache.Unref()
	for i := range opts.Levels {
		// Bloom filters spare a disk read for keys that are absent (fresh
		// transaction IDs, new holdings); no compression spares the CPU.
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
		opts.Levels[i].Compression = func() *sstable.CompressionProfile { return sstable.NoCompression }
	}
	defer recoverStore(&err, "opening "+path)
	db, err = pebble.Open(path, opts)
	if err != nil {
		if locked(err) {
			return nil, greenmint.E(greenmint.EUNAVAILABLE, "", pebbleError{err}, "ledger %s is in use by another process", dir)
		}
		// Pebble says "database does not exist" in text only when a
		// read-only open misses the folder; it has no error value for it.
		if pebble.IsCorruptionError(err) || errors.Is(err, os.ErrNotExist) || errors.Is(err, pebble.ErrDBDoesNotExist) || strings.Contains(err.Error(), "does not exist") {
			// The store's marker is there (checked above): a file that its
			// manifest or log needs is missing or damaged.
			return nil, greenmint.E(greenmint.EINTERNAL, "", pebbleError{err}, "the ledger store %s is damaged and cannot be opened", path)
		}
		return nil, greenmint.E(greenmint.EUNAVAILABLE, "", pebbleError{err}, "cannot open ledger %s", dir)
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
		return nil, storeErr(err, fmt.Sprintf("reading key %q", key))
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
	return storeErr(it.Error(), fmt.Sprintf("scanning keys from %q", start))
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
	return out, storeErr(it.Error(), fmt.Sprintf("reading the history of %q", key))
}

func beUint64(b []byte) uint64 {
	var n uint64
	for _, c := range b {
		n = n<<8 | uint64(c)
	}
	return n
}
