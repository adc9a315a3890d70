package embedded

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/greenmint/greenmint"
	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
)

// Options tune an embedded ledger. The zero value is ready to use.
type Options struct {
	// Now is the client clock that stamps proposals (the transaction
	// timestamp the contract sees) in Submit and Evaluate. Default time.Now.
	Now func() time.Time
	// Clock is the ledger's own clock: creators' certificates must be valid
	// (NotBefore, NotAfter) at its time when a proposal is endorsed and when
	// a transaction is ordered, and a proposal's timestamp must lie within
	// MaxClockSkew of it, as Fabric's orderer and peers check. Default Now
	// when Now is set (so a test that fixes Now moves the whole ledger in
	// time), else time.Now.
	Clock func() time.Time
	// MaxClockSkew bounds how far a proposal's timestamp may lie from the
	// ledger's clock, either way. Default DefaultMaxClockSkew.
	MaxClockSkew time.Duration
	// MSPDir holds the organisations' MSP folders in Fabric's layout; the
	// X.509 revocation lists in <MSPDir>/<MSP ID>/msp/crls/, signed by that
	// organisation's CA, are honoured: a revoked certificate's proposals are
	// refused. They are loaded at Open, by ReloadRevocations, and again
	// whenever a crls folder changes. Empty: no revocation lists.
	MSPDir string
	// Logger receives the ledger's and its store's messages. Default
	// slog.Default().
	Logger *slog.Logger
	// MaxBlockTxs caps the transactions cut into one block. Default 2,000.
	MaxBlockTxs int
	// Retry is how Submit resubmits a transaction invalidated at commit by
	// an MVCC or phantom read conflict. Default (Attempts 0)
	// greenmint.DefaultRetryPolicy, the Fabric adapter's too.
	Retry greenmint.RetryPolicy
}

// DefaultMaxClockSkew is the default bound on a proposal timestamp's
// distance from the ledger's clock.
const DefaultMaxClockSkew = 15 * time.Minute

// Ledger is an embedded, single-node ledger that runs one chaincode through
// the real shim.Chaincode interface with Fabric's semantics: signed
// proposals verified against the organisations' CAs, simulation against
// committed state, MVCC validation at commit, hash-chained blocks made
// durable (fsync) before a transaction is acknowledged, key history and
// events readable from any block.
type Ledger struct {
	dir    string
	db     *pebble.DB
	blocks *blockFile
	cc     shim.Chaincode
	config ChannelConfig
	msp    *mspVerifier
	now    func() time.Time
	clock  func() time.Time
	skew   time.Duration
	log    *slog.Logger
	maxTxs int
	retry  greenmint.RetryPolicy

	queue     chan *pending
	endorsing atomic.Int64 // simulations of submitted transactions under way
	submitMu  sync.RWMutex // held for reading while enqueueing; Close takes it for writing
	closed    bool
	closing   chan struct{}
	done      chan struct{}

	mu       sync.Mutex
	height   uint64
	lastHash string
	newBlock chan struct{} // closed and replaced whenever a block commits
	failure  error         // set when a block could not be stored: the ledger stops
}

var _ greenmint.Ledger = (*Ledger)(nil)

type pending struct {
	tx   *Transaction
	done chan commitResult
}

type commitResult struct {
	res *greenmint.TxResult
	err error
}

// Create makes a new ledger in dir whose genesis block holds cfg. It fails
// with ECONFLICT if dir already holds a ledger.
func Create(dir string, cfg ChannelConfig) (err error) {
	if cfg.ChannelID == "" || cfg.Chaincode == "" || len(cfg.Orgs) == 0 {
		return greenmint.Errorf(greenmint.EINVALID, "channel config needs a channel ID, a chaincode name and organisations")
	}
	if _, err := newMSPVerifier(cfg.Orgs); err != nil {
		return greenmint.E(greenmint.EINVALID, "", err, "")
	}
	db, err := openStore(dir, storeCreate, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	defer recoverStore(&err, "creating the ledger in "+dir)
	if h, err := (view{db}).raw(metaHeight); err != nil {
		return err
	} else if h != nil {
		return greenmint.Errorf(greenmint.ECONFLICT, "a ledger already exists in %s", dir)
	}
	c := cfg
	genesis := &Block{Header: BlockHeader{Number: 0}, Data: BlockData{Config: &c, Transactions: []Transaction{}}}
	raw, hash, err := sealBlock(genesis)
	if err != nil {
		return err
	}
	bf, err := createBlockFile(dir)
	if errors.Is(err, os.ErrExist) {
		return greenmint.Errorf(greenmint.ECONFLICT, "a block file already exists in %s", dir)
	}
	if err != nil {
		return greenmint.E(greenmint.EUNAVAILABLE, "", err, "cannot create the block file in %s", dir)
	}
	defer bf.close()
	if err := bf.append(0, raw); err != nil {
		return greenmint.E(greenmint.EUNAVAILABLE, "", err, "cannot write the genesis block to %s", bf.path)
	}
	batch := db.NewBatch()
	if err := putSealed(batch, 0, raw, hash); err != nil {
		return err
	}
	return storeErr(batch.Commit(pebble.Sync), "writing the genesis block")
}

// sealBlock sets a block's data hash and returns its stored bytes and its
// hash. The data is encoded once: the stored bytes are the canonical
// encoding of the block, {"header":…,"data":…}, assembled from the encoded
// parts (Verify re-encodes every block and compares).
func sealBlock(b *Block) (raw []byte, hash string, err error) {
	data, err := greenmint.Canonical(b.Data)
	if err != nil {
		return nil, "", err
	}
	b.Header.DataHash = greenmint.SHA256Hex(data)
	header, err := greenmint.Canonical(b.Header)
	if err != nil {
		return nil, "", err
	}
	raw = make([]byte, 0, len(header)+len(data)+22)
	raw = append(raw, `{"header":`...)
	raw = append(raw, header...)
	raw = append(raw, `,"data":`...)
	raw = append(raw, data...)
	raw = append(raw, '}')
	return raw, greenmint.SHA256Hex(header), nil
}

// putSealed stores a sealed block and advances the height.
func putSealed(batch *pebble.Batch, n uint64, raw []byte, hash string) error {
	for _, kv := range [][2][]byte{{blockKey(n), raw}, {metaHeight, u64(n + 1)}, {metaLastHash, []byte(hash)}} {
		if err := batch.Set(kv[0], kv[1], nil); err != nil {
			return err
		}
	}
	return nil
}

// applyTx writes what transaction i of block num changes: its index entry
// (unless it is a duplicate) and, when valid, its writes and their history.
func applyTx(wb *pebble.Batch, num uint64, i int, tx *Transaction) error {
	if tx.Validation != TxDuplicateTxID {
		if err := wb.Set(txKey(tx.TxID), append(u64(num), u64(uint64(i))...), nil); err != nil {
			return err
		}
	}
	if tx.Validation != TxValid {
		return nil
	}
	ver := Version{Block: num, Tx: uint64(i)}
	for _, w := range tx.Writes {
		var err error
		if w.Delete {
			err = wb.Delete(stateKey(w.Key), nil)
		} else {
			err = wb.Set(stateKey(w.Key), encodeState(ver, w.Value), nil)
		}
		if err != nil {
			return err
		}
		he := historyEntry{TxID: tx.TxID, Seconds: tx.seconds, Nanos: tx.nanos, Value: w.Value, Delete: w.Delete}.encode()
		if err := wb.Set(historyKey(w.Key, ver), he, nil); err != nil {
			return err
		}
	}
	return nil
}

// replayBlock applies a block read from the block file to the state store:
// the recovery of a block that was made durable in the block file when the
// process stopped before the state store committed it.
func replayBlock(db *pebble.DB, raw []byte) error {
	b, err := decodeBlock(raw)
	if err != nil {
		return err
	}
	hash, err := b.Hash()
	if err != nil {
		return err
	}
	wb := db.NewBatch()
	defer wb.Close()
	for i := range b.Data.Transactions {
		tx := &b.Data.Transactions[i]
		var p Proposal
		if err := json.Unmarshal(tx.Proposal, &p); err != nil {
			return fmt.Errorf("block %d, transaction %d: proposal does not decode: %w", b.Header.Number, i, err)
		}
		tx.seconds, tx.nanos = p.Seconds, p.Nanos
		if err := applyTx(wb, b.Header.Number, i, tx); err != nil {
			return err
		}
	}
	if err := putSealed(wb, b.Header.Number, raw, hash); err != nil {
		return err
	}
	return wb.Commit(pebble.Sync)
}

func decodeBlock(raw []byte) (*Block, error) {
	var b Block
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, err
	}
	return &b, nil
}

// Open opens the ledger in dir and runs cc as its chaincode.
//
// Before it changes anything it checks the state store against the block
// file: the same height and head hash, every record of the block file
// intact. A damaged or mismatched ledger is refused with an EINTERNAL error
// wrapping a *BadBlockError that names the first block it cannot vouch for
// and the file, and nothing on disk is changed. Two states that a crash
// leaves are repaired: a block file record that was never finished (its
// block was never acknowledged) is cut off, and a block made durable in
// the block file but not yet in the state store is applied to it, after the
// whole chain verifies.
func Open(dir string, cc shim.Chaincode, opts Options) (_ *Ledger, err error) {
	l := &Ledger{dir: dir, cc: cc, now: opts.Now, clock: opts.Clock, skew: opts.MaxClockSkew, maxTxs: opts.MaxBlockTxs, log: opts.Logger, retry: opts.Retry}
	if l.retry.Attempts == 0 {
		l.retry = greenmint.DefaultRetryPolicy()
	}
	if l.now == nil {
		l.now = time.Now
	}
	if l.clock == nil {
		l.clock = l.now
	}
	if l.skew <= 0 {
		l.skew = DefaultMaxClockSkew
	}
	if l.maxTxs <= 0 {
		l.maxTxs = 2000
	}
	if l.log == nil {
		l.log = slog.Default()
	}
	plan, err := checkLedger(dir, l.log)
	if err != nil {
		return nil, err
	}
	db, err := openStore(dir, storeOpen, l.log)
	if err != nil {
		return nil, err
	}
	l.db = db
	defer func() {
		if err != nil {
			if l.blocks != nil {
				l.blocks.close()
			}
			db.Close()
		}
	}()
	defer recoverStore(&err, "opening the ledger in "+dir)
	if plan.adopt {
		if err := os.Rename(plan.adoptPath, filepath.Join(dir, BlockFileName)); err != nil {
			return nil, greenmint.E(greenmint.EUNAVAILABLE, "", err, "cannot install the block file")
		}
		if err := syncDir(dir); err != nil {
			return nil, greenmint.E(greenmint.EUNAVAILABLE, "", err, "cannot install the block file")
		}
		l.log.Warn("embedded ledger: this ledger predated block files; wrote one from the verified chain", "dir", dir, "blocks", plan.scan.count)
	}
	if plan.scan.end != plan.scan.size {
		l.log.Warn("embedded ledger: cutting off an unfinished block file record (a block never acknowledged)",
			"file", filepath.Join(dir, BlockFileName), "offset", plan.scan.end, "reason", plan.scan.tail)
	}
	if l.blocks, err = openBlockFile(dir, plan.scan.end); err != nil {
		return nil, greenmint.E(greenmint.EUNAVAILABLE, "", err, "cannot open the block file of %s", dir)
	}
	if plan.replay {
		l.log.Warn("embedded ledger: applying the last block of the block file, which the state store did not commit before the process stopped",
			"dir", dir, "block", plan.scan.count-1)
		if err := replayBlock(db, plan.scan.lastRaw); err != nil {
			return nil, storeErr(err, fmt.Sprintf("applying block %d from the block file", plan.scan.count-1))
		}
	}
	tightenPermissions(dir, l.log)
	err = func() error {
		v := view{db}
		h, err := v.raw(metaHeight)
		if err != nil {
			return err
		}
		if h == nil {
			return greenmint.Errorf(greenmint.ENOTFOUND, "no ledger in %s (create one first)", dir)
		}
		last, err := v.raw(metaLastHash)
		if err != nil {
			return err
		}
		l.height, l.lastHash = beUint64(h), string(last)
		if l.height != plan.scan.count || l.lastHash != plan.scan.lastHash {
			return bad(l.height-1, "after opening, the state store's head (height %d) is not the block file's (height %d)", l.height, plan.scan.count)
		}
		g, err := readBlock(v, 0)
		if err != nil {
			return err
		}
		if g.Data.Config == nil {
			return greenmint.Errorf(greenmint.EINTERNAL, "block 0 holds no channel config")
		}
		l.config = *g.Data.Config
		return nil
	}()
	if err != nil {
		return nil, err
	}
	if l.msp, err = newMSPVerifier(l.config.Orgs); err != nil {
		return nil, err
	}
	if err := l.msp.setCRLDir(opts.MSPDir); err != nil {
		return nil, err
	}
	l.queue = make(chan *pending, 8192)
	l.closing = make(chan struct{})
	l.done = make(chan struct{})
	l.newBlock = make(chan struct{})
	go l.commitLoop()
	return l, nil
}

// openPlan is what checkLedger decided Open should do.
type openPlan struct {
	scan      *blockScan
	replay    bool   // apply the block file's last block to the state store
	adopt     bool   // install the block file written at adoptPath
	adoptPath string // from a ledger made before block files
}

// checkLedger compares, changing nothing, the state store of the ledger in
// dir with its block file, and says what Open must do.
func checkLedger(dir string, log *slog.Logger) (plan *openPlan, err error) {
	rdb, err := openStore(dir, storeReadOnly, log)
	if err != nil {
		return nil, err
	}
	defer rdb.Close()
	defer recoverStore(&err, "checking the ledger in "+dir)
	hs, _, err := readHead(view{rdb})
	if err != nil {
		return nil, err
	}
	if err := readAll(rdb, filepath.Join(dir, StoreDir), hs); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, BlockFileName)
	scan, err := scanBlockFile(path, 0, nil)
	if errors.Is(err, errNoBlockFile) {
		if hs == 0 {
			return nil, greenmint.Errorf(greenmint.ENOTFOUND, "no ledger in %s (create one first)", dir)
		}
		return adoptLedger(dir, rdb)
	}
	if err != nil {
		return nil, greenmint.E(greenmint.EUNAVAILABLE, "", err, "cannot read the block file %s", path)
	}
	if hs == 0 && scan.count == 0 {
		return nil, greenmint.Errorf(greenmint.ENOTFOUND, "no ledger in %s (create one first)", dir)
	}
	if err := compareHeads(dir, view{rdb}, scan, false); err != nil {
		return nil, err
	}
	plan = &openPlan{scan: scan, replay: scan.count == hs+1}
	orphans, err := orphanTables(rdb, filepath.Join(dir, StoreDir))
	if err != nil {
		return nil, err
	}
	if plan.replay || len(orphans) > 0 {
		// The state store one block behind (a crash between the block file
		// and the state store, or damage that lost its last block), or
		// table files its manifest does not list (a crash before Pebble
		// removed them, or a damaged manifest that lost them): only a
		// ledger that verifies in full is opened.
		if len(orphans) > 0 {
			log.Warn("embedded ledger: the store holds table files its manifest does not list; verifying the whole ledger", "dir", dir, "tables", orphans)
		}
		if _, err := verifyChain(context.Background(), dir, path, rdb, false); err != nil {
			return nil, err
		}
	}
	return plan, nil
}

// orphanTables lists the table files in the store's folder that its
// manifest does not list.
func orphanTables(db *pebble.DB, store string) ([]string, error) {
	levels, err := db.SSTables()
	if err != nil {
		return nil, storeErr(err, "listing tables")
	}
	live := map[string]bool{}
	for _, level := range levels {
		for _, t := range level {
			live[fmt.Sprintf("%06d.sst", uint64(t.BackingSSTNum))] = true
		}
	}
	files, err := filepath.Glob(filepath.Join(store, "*.sst"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, f := range files {
		if !live[filepath.Base(f)] {
			out = append(out, filepath.Base(f))
		}
	}
	return out, nil
}

// readAll reads every key and value of the store once, so that Pebble
// checks every table block's checksum before the store is opened for
// writing (which would flush and delete its write-ahead log).
func readAll(db *pebble.DB, store string, height uint64) error {
	it, err := db.NewIter(nil)
	if err != nil {
		return storeErr(err, "reading the store")
	}
	defer it.Close()
	next := uint64(0) // the block after the last block key seen
	var last []byte
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) == 9 && k[0] == prefixBlock {
			next = beUint64(k[1:]) + 1
		}
		last = append(last[:0], k...)
		_ = it.Value()
	}
	if err := it.Error(); err != nil {
		if pebble.IsCorruptionError(err) {
			return badCause(min(next, max(height, 1)-1), pebbleError{err}, "the state store %s is damaged after key %q", store, last)
		}
		return storeErr(err, "reading the store")
	}
	return nil
}

// readHead returns the state store's recorded height and head hash.
func readHead(v view) (uint64, string, error) {
	h, err := v.raw(metaHeight)
	if err != nil || h == nil {
		return 0, "", err
	}
	last, err := v.raw(metaLastHash)
	if err != nil {
		return 0, "", err
	}
	return beUint64(h), string(last), nil
}

// compareHeads checks the state store's height and head hash against a
// scan of the block file. The state store may be one block behind (a block
// durable in the block file that it has not committed), or, in a live
// ledger, the block file may go on beyond it. Anything else names the
// first block that the two do not both vouch for.
func compareHeads(dir string, v view, scan *blockScan, live bool) error {
	hs, hashS, err := readHead(v)
	if err != nil {
		return err
	}
	store := filepath.Join(dir, StoreDir)
	file := filepath.Join(dir, BlockFileName)
	why := ""
	if scan.tail != "" {
		why = " (" + scan.tail + ")"
	}
	switch {
	case scan.count < hs:
		return bad(scan.count, "the state store %s records %d blocks but the block file %s holds only %d intact%s", store, hs, file, scan.count, why)
	case scan.count == hs:
		if scan.lastHash != hashS {
			return bad(hs-1, "the state store %s records head hash %.16s… but block %d in the block file %s hashes to %.16s…", store, hashS, hs-1, file, scan.lastHash)
		}
		if scan.tail != "" && !scan.torn && !live {
			// Not an interrupted append (more follows the bad record): the
			// block file holds damaged blocks the state store lacks.
			return bad(hs, "the block file %s is damaged after block %d, the state store's head (%s)", file, hs-1, scan.tail)
		}
		return nil
	case scan.count == hs+1 && (scan.tail == "" || live):
		return nil
	default:
		return bad(hs, "the block file %s holds %d blocks but the state store %s ends at height %d: its write-ahead log or tables may be damaged%s", file, scan.count, store, hs, why)
	}
}

// adoptLedger writes a block file for a ledger made before block files,
// from the chain in its state store, to a temporary name, and verifies the
// whole ledger against it. Open installs it.
func adoptLedger(dir string, rdb *pebble.DB) (*openPlan, error) {
	tmp := filepath.Join(dir, BlockFileName+".new")
	os.Remove(tmp)
	tmpDir, err := os.MkdirTemp(dir, "adopt-")
	if err != nil {
		return nil, greenmint.E(greenmint.EUNAVAILABLE, "", err, "cannot write a block file in %s", dir)
	}
	defer os.RemoveAll(tmpDir)
	bf, err := createBlockFile(tmpDir)
	if err != nil {
		return nil, greenmint.E(greenmint.EUNAVAILABLE, "", err, "cannot write a block file in %s", dir)
	}
	it, err := rdb.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixBlock}, UpperBound: []byte{prefixBlock + 1}})
	if err != nil {
		bf.close()
		return nil, storeErr(err, "reading blocks")
	}
	n := uint64(0)
	for ok := it.First(); ok; ok = it.Next() {
		if beUint64(it.Key()[1:]) != n {
			break // verification names the gap
		}
		if err := bf.append(n, it.Value()); err != nil {
			it.Close()
			bf.close()
			return nil, greenmint.E(greenmint.EUNAVAILABLE, "", err, "cannot write a block file in %s", dir)
		}
		n++
	}
	ierr := it.Close()
	bf.close()
	if ierr != nil {
		return nil, storeErr(ierr, "reading blocks")
	}
	path := filepath.Join(tmpDir, BlockFileName)
	if _, err := verifyChain(context.Background(), dir, path, rdb, false); err != nil {
		return nil, err
	}
	if err := os.Rename(path, tmp); err != nil {
		return nil, greenmint.E(greenmint.EUNAVAILABLE, "", err, "cannot write a block file in %s", dir)
	}
	scan, err := scanBlockFile(tmp, 0, nil)
	if err != nil {
		return nil, greenmint.E(greenmint.EUNAVAILABLE, "", err, "cannot read the block file %s", tmp)
	}
	return &openPlan{scan: scan, adopt: true, adoptPath: tmp}, nil
}

// tightenPermissions makes the ledger's folders 0700 and files 0600, as
// ledgers made before this rule need.
func tightenPermissions(dir string, log *slog.Logger) {
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		mode := os.FileMode(0o600)
		if d.IsDir() {
			mode = 0o700
		}
		if fi, err := d.Info(); err == nil && fi.Mode().Perm() != mode {
			return os.Chmod(path, mode)
		}
		return nil
	})
	if err != nil {
		log.Warn("embedded ledger: cannot restrict the permissions of the ledger's files", "dir", dir, "err", err)
	}
}

// Close stops accepting transactions, commits those already queued and
// closes the file.
func (l *Ledger) Close() error {
	l.submitMu.Lock()
	if l.closed {
		l.submitMu.Unlock()
		return nil
	}
	l.closed = true
	close(l.closing)
	l.submitMu.Unlock()
	<-l.done
	berr := l.blocks.close()
	if err := l.db.Close(); err != nil {
		return storeErr(err, "closing")
	}
	return berr
}

// stopped returns the failure that stopped the ledger, if any.
func (l *Ledger) stopped() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failure
}

// Config returns the channel configuration from the genesis block.
func (l *Ledger) Config() ChannelConfig { return l.config }

// Height returns the number of blocks, the genesis block included.
func (l *Ledger) Height() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.height
}

func readBlock(v view, n uint64) (*Block, error) {
	raw, err := v.raw(blockKey(n))
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, greenmint.Errorf(greenmint.ENOTFOUND, "block %d does not exist", n)
	}
	var b Block
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, greenmint.E(greenmint.EINTERNAL, "", err, "block %d does not decode", n)
	}
	return &b, nil
}

// Block returns block n.
func (l *Ledger) Block(n uint64) (b *Block, err error) {
	if err := l.stopped(); err != nil {
		return nil, err
	}
	defer l.recoverStore(&err, fmt.Sprintf("reading block %d", n))
	return readBlock(view{l.db}, n)
}

// recoverStore is the package's recoverStore that also stops the ledger
// after a fatal store error.
func (l *Ledger) recoverStore(err *error, what string) {
	r := recover()
	if r == nil {
		return
	}
	func() {
		defer recoverStore(err, what)
		panic(r)
	}()
	l.mu.Lock()
	if l.failure == nil {
		l.failure = *err
	}
	l.mu.Unlock()
}

// NewSignedProposal builds and signs, as id, a proposal to call function
// with args at time at. It is the client half of a transaction.
func NewSignedProposal(id *greenmint.Identity, channelID, chaincode, function string, args []string, at time.Time) (*SignedProposal, error) {
	creator, err := proto.Marshal(&msp.SerializedIdentity{Mspid: id.MSPID, IdBytes: id.Certificate})
	if err != nil {
		return nil, fmt.Errorf("embedded.NewSignedProposal: %w", err)
	}
	nonce := make([]byte, 24)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("embedded.NewSignedProposal: %w", err)
	}
	txid := sha256.Sum256(append(append([]byte(nil), nonce...), creator...))
	if args == nil {
		args = []string{}
	}
	p := Proposal{
		ChannelID: channelID, Chaincode: chaincode, TxID: hex.EncodeToString(txid[:]),
		Nonce: nonce, Creator: creator, Seconds: at.Unix(), Nanos: int32(at.Nanosecond()),
		Function: function, Args: args,
	}
	raw, err := greenmint.Canonical(p)
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256(raw)
	sig, err := id.Signer.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return nil, greenmint.E(greenmint.EUNAUTHENTICATED, "", err, "cannot sign the proposal")
	}
	return &SignedProposal{Proposal: raw, Signature: sig}, nil
}

// Endorse verifies a signed proposal (a member organisation's certificate,
// a valid signature, a fresh transaction ID) and simulates it against
// committed state. It returns the transaction ready to commit, or the
// chaincode's error with its code.
func (l *Ledger) Endorse(ctx context.Context, sp *SignedProposal) (*Transaction, error) {
	tx, _, err := l.simulate(ctx, sp, false)
	return tx, err
}

func (l *Ledger) simulate(ctx context.Context, sp *SignedProposal, readOnly bool) (*Transaction, *Proposal, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, greenmint.E(greenmint.EUNAVAILABLE, "", err, "")
	}
	if sp == nil {
		return nil, nil, unauthenticated("no proposal")
	}
	var p Proposal
	if err := greenmint.DecodeStrict(sp.Proposal, &p); err != nil {
		return nil, nil, greenmint.E(greenmint.EUNAUTHENTICATED, "", err, "proposal does not decode")
	}
	if canon, err := greenmint.Canonical(p); err != nil || !bytes.Equal(canon, sp.Proposal) {
		return nil, nil, unauthenticated("proposal is not in canonical form")
	}
	if p.ChannelID != l.config.ChannelID || p.Chaincode != l.config.Chaincode {
		return nil, nil, greenmint.Errorf(greenmint.ENOTFOUND, "no chaincode %q on channel %q", p.Chaincode, p.ChannelID)
	}
	want := sha256.Sum256(append(append([]byte(nil), p.Nonce...), p.Creator...))
	if len(p.Nonce) < 16 || p.TxID != hex.EncodeToString(want[:]) {
		return nil, nil, unauthenticated("transaction ID is not derived from the nonce and creator")
	}
	c, err := l.msp.verify(p.Creator, sp.Proposal, sp.Signature)
	if err != nil {
		return nil, nil, err
	}
	if err := l.msp.checkCreator(c, time.Unix(p.Seconds, int64(p.Nanos)), l.clock(), l.skew); err != nil {
		return nil, nil, err
	}
	if err := l.stopped(); err != nil {
		return nil, nil, err
	}
	if !readOnly {
		l.endorsing.Add(1)
		defer l.endorsing.Add(-1)
	}
	var tx *Transaction
	err = func() (err error) {
		defer l.recoverStore(&err, "simulating transaction "+p.TxID)
		v := view{l.db}
		if !readOnly {
			if seen, err := v.raw(txKey(p.TxID)); err != nil {
				return err
			} else if seen != nil {
				return greenmint.Errorf(greenmint.ECONFLICT, "transaction %s was already submitted", p.TxID)
			}
		}
		st := newStub(&p, sp, v, readOnly)
		resp := l.invoke(st)
		if resp.Status != shim.OK {
			return greenmint.ParseError(resp.Message)
		}
		reads, writes := st.rwset()
		if st.usedPages && len(writes) > 0 {
			return greenmint.Errorf(greenmint.EINVALID, "paginated queries are only valid in read-only transactions")
		}
		ranges := st.ranges
		if ranges == nil {
			ranges = []RangeRead{}
		}
		tx = &Transaction{
			TxID: p.TxID, Proposal: sp.Proposal, Signature: sp.Signature,
			Reads: reads, Ranges: ranges, Writes: writes, Event: st.event,
			Response: Response{Status: resp.Status, Message: resp.Message, Payload: resp.Payload},
			seconds:  p.Seconds, nanos: p.Nanos, creator: c,
		}
		return nil
	}()
	if err != nil {
		return nil, nil, err
	}
	return tx, &p, nil
}

// invoke runs the chaincode, turning a panic into an error response.
func (l *Ledger) invoke(st *stub) (resp *peer.Response) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(storeFatal); ok {
				panic(r) // the store failed, not the chaincode
			}
			resp = &peer.Response{Status: shim.ERROR, Message: fmt.Sprintf("internal: chaincode panicked: %v", r)}
		}
	}()
	return l.cc.Invoke(st)
}

// Commit orders an endorsed transaction into a block and waits until the
// block is durable. A transaction invalidated at commit returns ECONFLICT,
// retryable (greenmint.IsRetryable) for an MVCC or phantom read conflict.
func (l *Ledger) Commit(ctx context.Context, tx *Transaction) (*greenmint.TxResult, error) {
	if tx == nil {
		return nil, greenmint.Errorf(greenmint.EINVALID, "no transaction")
	}
	if err := l.checkOrdering(tx); err != nil {
		return nil, err
	}
	if err := l.stopped(); err != nil {
		return nil, err
	}
	p := &pending{tx: tx, done: make(chan commitResult, 1)}
	l.submitMu.RLock()
	if l.closed {
		l.submitMu.RUnlock()
		return nil, greenmint.Errorf(greenmint.EUNAVAILABLE, "ledger is closed")
	}
	select {
	case l.queue <- p:
	case <-ctx.Done():
		l.submitMu.RUnlock()
		return nil, greenmint.E(greenmint.EUNAVAILABLE, "", ctx.Err(), "transaction %s not ordered", tx.TxID)
	}
	l.submitMu.RUnlock()
	select {
	case r := <-p.done:
		return r.res, r.err
	case <-ctx.Done():
		return nil, greenmint.E(greenmint.EUNAVAILABLE, "", ctx.Err(), "commit status of %s unknown", tx.TxID)
	}
}

// checkOrdering checks, as Fabric's orderer does when a transaction is
// broadcast, that its creator signed it and that the creator's
// certificate is valid and not revoked by the ledger's clock now: an
// endorsement held back until the certificate expired or was revoked is
// not ordered.
func (l *Ledger) checkOrdering(tx *Transaction) error {
	c := tx.creator
	if c == nil {
		var p Proposal
		if err := json.Unmarshal(tx.Proposal, &p); err != nil || p.TxID != tx.TxID {
			return unauthenticated("transaction %s does not carry its proposal", tx.TxID)
		}
		var err error
		if c, err = l.msp.verify(p.Creator, tx.Proposal, tx.Signature); err != nil {
			return err
		}
	}
	if err := c.validAt(l.clock(), "the ledger's time"); err != nil {
		return err
	}
	return l.msp.checkRevoked(c)
}

// Submit signs a proposal as id, endorses it and commits it. A
// transaction invalidated at commit by an MVCC or phantom read conflict
// changed nothing; Submit proposes it again (a new transaction ID, the
// same request) as the retry policy says, as the Fabric adapter does.
func (l *Ledger) Submit(ctx context.Context, id *greenmint.Identity, function string, args ...string) (*greenmint.TxResult, error) {
	var res *greenmint.TxResult
	err := l.retry.Do(ctx, "embedded.Submit", func(int) error {
		sp, err := NewSignedProposal(id, l.config.ChannelID, l.config.Chaincode, function, args, l.now())
		if err != nil {
			return err
		}
		tx, err := l.Endorse(ctx, sp)
		if err != nil {
			return err
		}
		res, err = l.Commit(ctx, tx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// Evaluate signs a proposal as id and simulates it without committing.
func (l *Ledger) Evaluate(ctx context.Context, id *greenmint.Identity, function string, args ...string) ([]byte, error) {
	sp, err := NewSignedProposal(id, l.config.ChannelID, l.config.Chaincode, function, args, l.now())
	if err != nil {
		return nil, err
	}
	tx, _, err := l.simulate(ctx, sp, true)
	if err != nil {
		return nil, err
	}
	return tx.Response.Payload, nil
}

func (l *Ledger) commitLoop() {
	defer close(l.done)
	lastSize := 0
	for {
		var first *pending
		select {
		case first = <-l.queue:
		case <-l.closing:
			for {
				select {
				case p := <-l.queue:
					l.commitBatch([]*pending{p})
				default:
					return
				}
			}
		}
		batch := l.fill([]*pending{first})
		// A small block costs almost as much to write as a large one: while
		// endorsements are in flight, give them a moment to join it.
		// A lone client (the last block held one transaction and nothing is
		// being endorsed) does not wait.
		for waited := time.Duration(0); len(batch) < lingerBelow && waited < linger && (lastSize > 1 || l.endorsing.Load() > 0); waited += lingerStep {
			time.Sleep(lingerStep)
			batch = l.fill(batch)
		}
		lastSize = len(batch)
		l.commitBatch(batch)
	}
}

// Block cutting: while endorsements are under way, a block smaller than
// lingerBelow waits up to linger for them, in steps of lingerStep.
const (
	lingerBelow = 48
	linger      = time.Millisecond
	lingerStep  = 200 * time.Microsecond
)

// fill adds queued transactions to batch without waiting, up to the block
// size limit.
func (l *Ledger) fill(batch []*pending) []*pending {
	for len(batch) < l.maxTxs {
		select {
		case p := <-l.queue:
			batch = append(batch, p)
		default:
			return batch
		}
	}
	return batch
}

func (l *Ledger) commitBatch(batch []*pending) {
	l.mu.Lock()
	num, prev, failure := l.height, l.lastHash, l.failure
	l.mu.Unlock()
	if failure != nil {
		for _, p := range batch {
			p.done <- commitResult{err: failure}
		}
		return
	}
	block := &Block{Header: BlockHeader{Number: num, PreviousHash: prev}, Data: BlockData{Transactions: make([]Transaction, len(batch))}}
	var hash string
	appended := false // the block is durable in the block file
	err := func() (err error) {
		defer recoverStore(&err, fmt.Sprintf("committing block %d", num))
		// An indexed batch: validation reads see the writes of the block's
		// earlier transactions; the whole block commits as one fsynced write.
		wb := l.db.NewIndexedBatch()
		defer wb.Close()
		v := view{wb}
		inBlock := make(map[string]bool, len(batch))
		for i, p := range batch {
			tx := *p.tx
			code, err := validate(v, inBlock, &tx)
			if err != nil {
				return err
			}
			tx.Validation = code
			if code != TxDuplicateTxID {
				inBlock[tx.TxID] = true
			}
			if err := applyTx(wb, num, i, &tx); err != nil {
				return err
			}
			block.Data.Transactions[i] = tx
		}
		raw, h, err := sealBlock(block)
		if err != nil {
			return err
		}
		hash = h
		if err := putSealed(wb, num, raw, hash); err != nil {
			return err
		}
		// The block file first, as Fabric's block store before its state
		// database: a block the state store holds is always in the block
		// file, and Open applies one that the block file holds alone.
		if err := l.blocks.append(num, raw); err != nil {
			return fmt.Errorf("block file %s: %w", l.blocks.path, err)
		}
		appended = true
		return wb.Commit(pebble.Sync)
	}()
	if err != nil {
		res := greenmint.E(greenmint.EUNAVAILABLE, "", err, "block %d could not be written", num)
		if appended || isFatal(err) {
			// The block file holds the block and the state store may not:
			// stop here; the next Open applies it.
			res = greenmint.E(greenmint.EUNAVAILABLE, "", err, "commit status of block %d unknown: the state store failed after the block file recorded it; the ledger stopped, reopen it to recover", num)
			l.mu.Lock()
			l.failure = res
			l.mu.Unlock()
			l.log.Error("embedded ledger: stopped", "err", res)
		}
		for _, p := range batch {
			p.done <- commitResult{err: res}
		}
		return
	}
	l.mu.Lock()
	l.height, l.lastHash = num+1, hash
	close(l.newBlock)
	l.newBlock = make(chan struct{})
	l.mu.Unlock()
	for i, p := range batch {
		tx := &block.Data.Transactions[i]
		if tx.Validation != TxValid {
			err := greenmint.Errorf(greenmint.ECONFLICT, "transaction %s invalidated at commit: %s", tx.TxID, tx.Validation)
			err.Retryable = tx.Validation == TxMVCCReadConflict || tx.Validation == TxPhantomReadConflict
			p.done <- commitResult{err: err}
			continue
		}
		p.done <- commitResult{res: &greenmint.TxResult{TxID: tx.TxID, BlockNumber: num, Payload: tx.Response.Payload}}
	}
}

// validate checks a transaction against the state as earlier transactions
// of the block left it: a fresh transaction ID, unchanged read versions (MVCC)
// and unchanged range results (phantoms).
func validate(view view, inBlock map[string]bool, tx *Transaction) (string, error) {
	if inBlock[tx.TxID] {
		return TxDuplicateTxID, nil
	}
	if seen, err := view.raw(txKey(tx.TxID)); err != nil {
		return "", err
	} else if seen != nil {
		return TxDuplicateTxID, nil
	}
	for _, r := range tx.Reads {
		_, cur, err := view.get(r.Key)
		if err != nil {
			return "", err
		}
		if !sameVersion(cur, r.Version) {
			return TxMVCCReadConflict, nil
		}
	}
	for _, rr := range tx.Ranges {
		i, conflict := 0, false
		err := view.scan(rr.Start, rr.End, func(k string, v Version, _ []byte) (bool, error) {
			if !rr.Exhausted && (len(rr.Results) == 0 || k > rr.Results[len(rr.Results)-1].Key) {
				return false, nil
			}
			if i >= len(rr.Results) || rr.Results[i].Key != k || !sameVersion(&v, rr.Results[i].Version) {
				conflict = true
				return false, nil
			}
			i++
			return true, nil
		})
		if err != nil {
			return "", err
		}
		if conflict || i != len(rr.Results) {
			return TxPhantomReadConflict, nil
		}
	}
	return TxValid, nil
}

func sameVersion(a, b *Version) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// Events delivers the events of valid transactions from block fromBlock on.
func (l *Ledger) Events(ctx context.Context, fromBlock uint64) (<-chan greenmint.ChaincodeEvent, error) {
	ch := make(chan greenmint.ChaincodeEvent, 256)
	go func() {
		defer close(ch)
		next := fromBlock
		for {
			l.mu.Lock()
			height, notify := l.height, l.newBlock
			l.mu.Unlock()
			for ; next < height; next++ {
				b, err := l.Block(next)
				if err != nil {
					return
				}
				for _, tx := range b.Data.Transactions {
					if tx.Validation != TxValid || tx.Event == nil {
						continue
					}
					ev := greenmint.ChaincodeEvent{BlockNumber: next, TxID: tx.TxID, Name: tx.Event.Name, Payload: tx.Event.Payload}
					select {
					case ch <- ev:
					case <-ctx.Done():
						return
					}
				}
			}
			select {
			case <-notify:
			case <-ctx.Done():
				return
			case <-l.closing:
				return
			}
		}
	}()
	return ch, nil
}

// Transaction returns a committed transaction by ID with the number of its
// block. It reports ENOTFOUND for an ID the ledger never committed.
func (l *Ledger) Transaction(txID string) (*Transaction, uint64, error) {
	if err := l.stopped(); err != nil {
		return nil, 0, err
	}
	var tx *Transaction
	var num uint64
	err := func() (err error) {
		defer l.recoverStore(&err, "reading transaction "+txID)
		v := view{l.db}
		loc, err := v.raw(txKey(txID))
		if err != nil {
			return err
		}
		if len(loc) != 16 {
			return greenmint.Errorf(greenmint.ENOTFOUND, "transaction %s is not on the ledger", txID)
		}
		num = beUint64(loc[:8])
		b, err := readBlock(v, num)
		if err != nil {
			return err
		}
		i := beUint64(loc[8:])
		if i >= uint64(len(b.Data.Transactions)) {
			return greenmint.Errorf(greenmint.EINTERNAL, "transaction index %d out of block %d", i, num)
		}
		tx = &b.Data.Transactions[i]
		return nil
	}()
	return tx, num, err
}
