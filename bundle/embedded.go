package bundle

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/ledger/embedded"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"google.golang.org/protobuf/proto"
)

// headerHash is an embedded block's hash: the hex SHA-256 of its canonical
// header.
func headerHash(h embedded.BlockHeader) (string, error) {
	raw, err := greenmint.Canonical(h)
	if err != nil {
		return "", err
	}
	return greenmint.SHA256Hex(raw), nil
}

// parseEmbeddedBlock decodes an embedded block from its canonical bytes into
// the model, without checking signatures.
func parseEmbeddedBlock(raw []byte) (*embedded.Block, *ledgerBlock, error) {
	var b embedded.Block
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, nil, fmt.Errorf("does not decode: %w", err)
	}
	again, err := greenmint.Canonical(b)
	if err != nil || !bytes.Equal(again, raw) {
		return nil, nil, fmt.Errorf("its bytes are not the canonical encoding of a block (altered)")
	}
	lb := &ledgerBlock{Number: b.Header.Number}
	for i := range b.Data.Transactions {
		tx := &b.Data.Transactions[i]
		lt := &ledgerTx{ID: tx.TxID, Block: b.Header.Number, Index: uint64(i), Validation: tx.Validation,
			Reads: map[string]*version{}, Writes: map[string]kvWrite{}}
		var p embedded.Proposal
		if err := json.Unmarshal(tx.Proposal, &p); err == nil {
			lt.Time, lt.Function, lt.Chaincode = time.Unix(p.Seconds, int64(p.Nanos)).UTC(), p.Function, p.Chaincode
			var sid msp.SerializedIdentity
			if proto.Unmarshal(p.Creator, &sid) == nil {
				lt.Creator = sid.Mspid
			}
		}
		read := func(r embedded.Read) {
			if r.Version == nil {
				lt.Reads[r.Key] = nil
			} else {
				lt.Reads[r.Key] = &version{Block: r.Version.Block, Tx: r.Version.Tx}
			}
		}
		for _, r := range tx.Reads {
			read(r)
		}
		for _, rr := range tx.Ranges {
			for _, r := range rr.Results {
				read(r)
			}
		}
		for _, w := range tx.Writes {
			lt.Writes[w.Key] = kvWrite{Value: w.Value, Delete: w.Delete}
		}
		lb.Txs = append(lb.Txs, lt)
	}
	return &b, lb, nil
}

// readEmbedded checks an embedded ledger's evidence: the header chain from
// block 0 to the head, each block against its header, the channel
// configuration of block 0; transactions' signatures are checked when a
// check cites them.
func readEmbedded(bd *Bundle, rep *Report, trustedHead string) (*evidence, *msps) {
	ev := newEvidence(bd.Ledger.Chaincode)
	lg := &bd.Ledger
	// The header chain.
	hashes := make([]string, len(lg.Headers))
	chainErr := func() error {
		if len(lg.Headers) == 0 {
			return fmt.Errorf("the bundle has no block headers")
		}
		for i, h := range lg.Headers {
			if h.Number != uint64(i) {
				return fmt.Errorf("header %d is numbered %d", i, h.Number)
			}
			want := ""
			if i > 0 {
				want = hashes[i-1]
			}
			if h.PreviousHash != want {
				return fmt.Errorf("block %d's previous_hash %s is not block %d's hash %s", i, short(h.PreviousHash), i-1, short(want))
			}
			var err error
			if hashes[i], err = headerHash(h); err != nil {
				return fmt.Errorf("header %d: %w", i, err)
			}
		}
		last := uint64(len(lg.Headers) - 1)
		switch {
		case lg.Head == nil:
			return fmt.Errorf("the bundle names no head")
		case lg.Head.Number != last:
			return fmt.Errorf("the head is block %d, the headers end at block %d", lg.Head.Number, last)
		case lg.Head.Hash != hashes[last]:
			return fmt.Errorf("the head's hash %s is not block %d's hash %s", short(lg.Head.Hash), last, short(hashes[last]))
		}
		return nil
	}()
	if chainErr != nil {
		rep.fail("ledger: header chain", "%v", chainErr)
	} else {
		rep.pass("ledger: header chain", "%d block headers link block 0 to the head, block %d, hash %s", len(lg.Headers), lg.Head.Number, lg.Head.Hash)
	}
	switch {
	case trustedHead == "":
		if lg.Head != nil {
			rep.note("ledger: trust anchor", "the chain ends at head %s (block %d): compare it with a head hash obtained independently from the ledger's operator (greenmint verify --head HASH)", lg.Head.Hash, lg.Head.Number)
		}
	case lg.Head == nil || lg.Head.Hash != trustedHead:
		got := "none"
		if lg.Head != nil {
			got = lg.Head.Hash
		}
		rep.fail("ledger: trust anchor", "the bundle's head %s is not the trusted head %s", got, trustedHead)
	default:
		rep.pass("ledger: trust anchor", "the bundle's head is the trusted head %s", trustedHead)
	}

	blocks := append([]RawBlock(nil), lg.Blocks...)
	sort.Slice(blocks, func(i, j int) bool { return blocks[i].Number < blocks[j].Number })
	var members *msps
	var cfg *embedded.ChannelConfig
	genesis := "is not in the bundle"
	for _, rb := range blocks {
		name := fmt.Sprintf("ledger: block %d", rb.Number)
		b, lb, err := parseEmbeddedBlock(rb.Bytes)
		if err == nil {
			err = checkEmbeddedBlock(b, rb.Number, lg, hashes)
		}
		if err == nil && rb.Number == 0 {
			cfg = b.Data.Config
			members, err = embeddedMSPs(cfg, lg)
		}
		if err == nil && members == nil {
			err = fmt.Errorf("block 0, with the channel's certificate authorities, %s", genesis)
		}
		if err != nil {
			if rb.Number == 0 {
				genesis = "does not verify"
			}
			rep.fail(name, "%v", err)
			ev.add(&ledgerBlock{Number: rb.Number, err: err})
			continue
		}
		if rb.Number == 0 {
			rep.pass(name, "the genesis block: channel %s, chaincode %s, the root certificates of %d organisations (%s)", cfg.ChannelID, cfg.Chaincode, len(cfg.Orgs), fingerprints(members))
		} else {
			rep.pass(name, "its %d transactions hash to the data hash of header %d", len(lb.Txs), rb.Number)
		}
		for i, lt := range lb.Txs {
			tx := &b.Data.Transactions[i]
			lt.check = func() error { return checkEmbeddedTx(tx, lt, cfg, members) }
		}
		ev.add(lb)
	}
	return ev, members
}

// checkEmbeddedBlock checks a block's number, its header against the
// chain's, and its data hash.
func checkEmbeddedBlock(b *embedded.Block, n uint64, lg *Ledger, hashes []string) error {
	if b.Header.Number != n {
		return fmt.Errorf("the bundle files it as block %d, its header says %d", n, b.Header.Number)
	}
	if n >= uint64(len(lg.Headers)) {
		return fmt.Errorf("block %d lies beyond the headers, which end at block %d", n, len(lg.Headers)-1)
	}
	if b.Header != lg.Headers[n] {
		return fmt.Errorf("its header differs from header %d of the chain", n)
	}
	data, err := greenmint.Canonical(b.Data)
	if err != nil {
		return err
	}
	if greenmint.SHA256Hex(data) != b.Header.DataHash {
		return fmt.Errorf("its transactions do not hash to its data hash %s (altered)", short(b.Header.DataHash))
	}
	return nil
}

// embeddedMSPs reads the channel's organisations from the genesis block's
// configuration.
func embeddedMSPs(cfg *embedded.ChannelConfig, lg *Ledger) (*msps, error) {
	if cfg == nil {
		return nil, fmt.Errorf("the genesis block holds no channel configuration")
	}
	if cfg.ChannelID != lg.Channel || cfg.Chaincode != lg.Chaincode {
		return nil, fmt.Errorf("the genesis block configures channel %s, chaincode %s; the bundle names channel %s, chaincode %s", cfg.ChannelID, cfg.Chaincode, lg.Channel, lg.Chaincode)
	}
	m := newMSPs()
	for _, o := range cfg.Orgs {
		if err := m.addRoots(o.MSPID, o.RootCertPEM); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// checkEmbeddedTx checks a transaction as the embedded ledger's Verify does:
// its ID derived from the proposal's nonce and creator, the proposal for
// this channel and chaincode, the creator's certificate issued by its
// organisation's CA in the genesis block and valid at the transaction's
// time, and the creator's signature over the proposal.
func checkEmbeddedTx(tx *embedded.Transaction, lt *ledgerTx, cfg *embedded.ChannelConfig, m *msps) error {
	var p embedded.Proposal
	if err := json.Unmarshal(tx.Proposal, &p); err != nil {
		return fmt.Errorf("its proposal does not decode: %w", err)
	}
	if p.TxID != tx.TxID {
		return fmt.Errorf("its proposal is for transaction %s", short(p.TxID))
	}
	sum := sha256.Sum256(append(append([]byte(nil), p.Nonce...), p.Creator...))
	if hex.EncodeToString(sum[:]) != p.TxID {
		return fmt.Errorf("its ID is not SHA-256(nonce ‖ creator)")
	}
	if p.ChannelID != cfg.ChannelID || p.Chaincode != cfg.Chaincode {
		return fmt.Errorf("its proposal is for channel %s, chaincode %s", p.ChannelID, p.Chaincode)
	}
	mspID, cert, err := m.identity(p.Creator)
	if err != nil {
		return fmt.Errorf("creator: %w", err)
	}
	digest := sha256.Sum256(tx.Proposal)
	if !verifySig(cert, digest[:], tx.Signature) {
		return fmt.Errorf("the creator's signature (%s, %s) does not verify over its proposal", cert.Subject.CommonName, mspID)
	}
	if lt.Time.Before(cert.NotBefore) || lt.Time.After(cert.NotAfter) {
		return fmt.Errorf("the creator's certificate (%s) was not valid at the transaction's time %s", cert.Subject.CommonName, greenmint.FormatTime(lt.Time))
	}
	return nil
}
