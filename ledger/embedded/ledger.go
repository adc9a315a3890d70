package embedded

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
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

// Options tune an embedded ledger.
type Options struct {
	// Now is the client clock that stamps proposals (the transaction
	// timestamp the contract sees). Default time.Now.
	Now func() time.Time
	// MaxBlockTxs caps the transactions cut into one block. Default 2,000.
	MaxBlockTxs int
}

// Ledger is an embedded, single-node ledger that runs one chaincode through
// the real shim.Chaincode interface with Fabric's semantics: signed
// proposals verified against the organisations' CAs, simulation against
// committed state, MVCC validation at commit, hash-chained blocks made
// durable (fsync) before a transaction is acknowledged, key history and
// events readable from any block.
type Ledger struct {
	db     *pebble.DB
	cc     shim.Chaincode
	config ChannelConfig
	msp    *mspVerifier
	now    func() time.Time
	maxTxs int

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
func Create(dir string, cfg ChannelConfig) error {
	if cfg.ChannelID == "" || cfg.Chaincode == "" || len(cfg.Orgs) == 0 {
		return greenmint.Errorf(greenmint.EINVALID, "channel config needs a channel ID, a chaincode name and organisations")
	}
	if _, err := newMSPVerifier(cfg.Orgs); err != nil {
		return greenmint.Errorf(greenmint.EINVALID, "%v", err)
	}
	db, err := openStore(dir, true)
	if err != nil {
		return err
	}
	defer db.Close()
	if h, err := (view{db}).raw(metaHeight); err != nil {
		return err
	} else if h != nil {
		return greenmint.Errorf(greenmint.ECONFLICT, "a ledger already exists in %s", dir)
	}
	c := cfg
	genesis := &Block{Header: BlockHeader{Number: 0}, Data: BlockData{Config: &c, Transactions: []Transaction{}}}
	batch := db.NewBatch()
	if _, err := putBlock(batch, genesis); err != nil {
		return err
	}
	return batch.Commit(pebble.Sync)
}

// putBlock seals a block (data hash), stores it and advances the height.
// The data is encoded once: the stored bytes are the canonical encoding of
// the block, {"header":…,"data":…}, assembled from the encoded parts
// (Verify re-encodes every block and compares).
func putBlock(batch *pebble.Batch, b *Block) (string, error) {
	data, err := greenmint.Canonical(b.Data)
	if err != nil {
		return "", err
	}
	b.Header.DataHash = greenmint.SHA256Hex(data)
	header, err := greenmint.Canonical(b.Header)
	if err != nil {
		return "", err
	}
	raw := make([]byte, 0, len(header)+len(data)+22)
	raw = append(raw, `{"header":`...)
	raw = append(raw, header...)
	raw = append(raw, `,"data":`...)
	raw = append(raw, data...)
	raw = append(raw, '}')
	hash := greenmint.SHA256Hex(header)
	for _, kv := range [][2][]byte{{blockKey(b.Header.Number), raw}, {metaHeight, u64(b.Header.Number + 1)}, {metaLastHash, []byte(hash)}} {
		if err := batch.Set(kv[0], kv[1], nil); err != nil {
			return "", err
		}
	}
	return hash, nil
}

// Open opens the ledger in dir and runs cc as its chaincode.
func Open(dir string, cc shim.Chaincode, opts Options) (*Ledger, error) {
	db, err := openStore(dir, false)
	if err != nil {
		return nil, err
	}
	l := &Ledger{db: db, cc: cc, now: opts.Now, maxTxs: opts.MaxBlockTxs}
	if l.now == nil {
		l.now = time.Now
	}
	if l.maxTxs <= 0 {
		l.maxTxs = 2000
	}
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
		db.Close()
		return nil, err
	}
	if l.msp, err = newMSPVerifier(l.config.Orgs); err != nil {
		db.Close()
		return nil, err
	}
	l.queue = make(chan *pending, 8192)
	l.closing = make(chan struct{})
	l.done = make(chan struct{})
	l.newBlock = make(chan struct{})
	go l.commitLoop()
	return l, nil
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
	return l.db.Close()
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
		return nil, greenmint.Errorf(greenmint.EINTERNAL, "block %d does not decode: %v", n, err)
	}
	return &b, nil
}

// Block returns block n.
func (l *Ledger) Block(n uint64) (*Block, error) { return readBlock(view{l.db}, n) }

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
		return nil, greenmint.Errorf(greenmint.EUNAUTHENTICATED, "cannot sign the proposal: %v", err)
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
		return nil, nil, greenmint.Errorf(greenmint.EUNAVAILABLE, "%v", err)
	}
	if sp == nil {
		return nil, nil, unauthenticated("no proposal")
	}
	var p Proposal
	if err := greenmint.DecodeStrict(sp.Proposal, &p); err != nil {
		return nil, nil, unauthenticated("proposal does not decode: %v", greenmint.ErrorMessage(err))
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
	if _, err := l.msp.verify(p.Creator, sp.Proposal, sp.Signature, time.Unix(p.Seconds, int64(p.Nanos))); err != nil {
		return nil, nil, err
	}
	if !readOnly {
		l.endorsing.Add(1)
		defer l.endorsing.Add(-1)
	}
	var tx *Transaction
	err := func() error {
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
			seconds:  p.Seconds, nanos: p.Nanos,
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
			resp = &peer.Response{Status: shim.ERROR, Message: fmt.Sprintf("internal: chaincode panicked: %v", r)}
		}
	}()
	return l.cc.Invoke(st)
}

// Commit orders an endorsed transaction into a block and waits until the
// block is durable. A transaction invalidated at commit returns ECONFLICT.
func (l *Ledger) Commit(ctx context.Context, tx *Transaction) (*greenmint.TxResult, error) {
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
		return nil, greenmint.Errorf(greenmint.EUNAVAILABLE, "transaction %s not ordered: %v", tx.TxID, ctx.Err())
	}
	l.submitMu.RUnlock()
	select {
	case r := <-p.done:
		return r.res, r.err
	case <-ctx.Done():
		return nil, greenmint.Errorf(greenmint.EUNAVAILABLE, "commit status of %s unknown: %v", tx.TxID, ctx.Err())
	}
}

// Submit signs a proposal as id, endorses it and commits it.
func (l *Ledger) Submit(ctx context.Context, id *greenmint.Identity, function string, args ...string) (*greenmint.TxResult, error) {
	sp, err := NewSignedProposal(id, l.config.ChannelID, l.config.Chaincode, function, args, l.now())
	if err != nil {
		return nil, err
	}
	tx, err := l.Endorse(ctx, sp)
	if err != nil {
		return nil, err
	}
	return l.Commit(ctx, tx)
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
	num, prev := l.height, l.lastHash
	l.mu.Unlock()
	block := &Block{Header: BlockHeader{Number: num, PreviousHash: prev}, Data: BlockData{Transactions: make([]Transaction, len(batch))}}
	var hash string
	err := func() error {
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
				if err := wb.Set(txKey(tx.TxID), append(u64(num), u64(uint64(i))...), nil); err != nil {
					return err
				}
			}
			if code == TxValid {
				ver := Version{Block: num, Tx: uint64(i)}
				for _, w := range tx.Writes {
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
			}
			block.Data.Transactions[i] = tx
		}
		var err error
		if hash, err = putBlock(wb, block); err != nil {
			return err
		}
		return wb.Commit(pebble.Sync)
	}()
	if err != nil {
		for _, p := range batch {
			p.done <- commitResult{err: greenmint.Errorf(greenmint.EUNAVAILABLE, "block %d could not be written: %v", num, err)}
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
			p.done <- commitResult{err: greenmint.Errorf(greenmint.ECONFLICT, "transaction %s invalidated at commit: %s", tx.TxID, tx.Validation)}
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
	var tx *Transaction
	var num uint64
	err := func() error {
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
