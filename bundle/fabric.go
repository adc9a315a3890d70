package bundle

import (
	"bytes"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"math/big"
	"sort"
	"strings"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
)

// fabricBlock is a Fabric block with what the checks need from it.
type fabricBlock struct {
	blk        *common.Block
	lb         *ledgerBlock
	txs        []*fabricTx // one per envelope, nil where the envelope does not parse
	lastConfig uint64      // the block holding the channel configuration in force
	config     *common.Config
}

// fabricTx is one endorser transaction's signed parts.
type fabricTx struct {
	payload    []byte // the envelope's payload, which the creator signed
	signature  []byte
	channelID  string
	chdr, shdr []byte // the channel and signature headers' bytes
	creator    []byte
	nonce      []byte
	ccpp       []byte // the chaincode proposal payload, as the proposal hash covers it
	prp        []byte // the proposal response payload, which the endorsers signed
	prpHash    []byte // the proposal hash in it
	endorse    []*peer.Endorsement
	endorsers  []string // set by the check: the organisations whose endorsements verified
}

// unmarshal decodes b into m, naming what in errors.
func unmarshal(b []byte, m proto.Message, what string) error {
	if err := proto.Unmarshal(b, m); err != nil {
		return fmt.Errorf("%s does not decode: %w", what, err)
	}
	return nil
}

// parseFabricBlock decodes a Fabric block into the model, without checking
// signatures. Reads and writes are those of each transaction's own
// chaincode's namespace.
func parseFabricBlock(raw []byte) (*fabricBlock, error) {
	blk := &common.Block{}
	if err := unmarshal(raw, blk, "the block"); err != nil {
		return nil, err
	}
	if blk.GetHeader() == nil || blk.GetData() == nil || blk.GetMetadata() == nil {
		return nil, fmt.Errorf("the block lacks its header, data or metadata")
	}
	fb := &fabricBlock{blk: blk, lb: &ledgerBlock{Number: blk.Header.Number}}
	md := blk.Metadata.Metadata
	if len(md) > int(common.BlockMetadataIndex_SIGNATURES) {
		var m common.Metadata
		var obm common.OrdererBlockMetadata
		if proto.Unmarshal(md[common.BlockMetadataIndex_SIGNATURES], &m) == nil && proto.Unmarshal(m.Value, &obm) == nil {
			fb.lastConfig = obm.GetLastConfig().GetIndex()
		}
	}
	var filter []byte
	if len(md) > int(common.BlockMetadataIndex_TRANSACTIONS_FILTER) {
		filter = md[common.BlockMetadataIndex_TRANSACTIONS_FILTER]
	}
	for i, envBytes := range blk.Data.Data {
		lt := &ledgerTx{Block: fb.lb.Number, Index: uint64(i), Reads: map[string]*version{}, Writes: map[string]kvWrite{}, Validation: "NOT_VALIDATED"}
		if i < len(filter) {
			lt.Validation = peer.TxValidationCode(filter[i]).String()
		}
		ft, cfg, err := parseEnvelope(envBytes, lt)
		if err != nil {
			lt.Validation = "UNPARSEABLE"
			lt.check = func() error { return err }
		}
		if cfg != nil {
			fb.config = cfg
		}
		fb.txs = append(fb.txs, ft)
		fb.lb.Txs = append(fb.lb.Txs, lt)
	}
	return fb, nil
}

// parseEnvelope reads one envelope into lt: a configuration transaction's
// channel configuration, or an endorser transaction's function, chaincode,
// read set and write set.
func parseEnvelope(envBytes []byte, lt *ledgerTx) (*fabricTx, *common.Config, error) {
	var env common.Envelope
	if err := unmarshal(envBytes, &env, "the envelope"); err != nil {
		return nil, nil, err
	}
	var pl common.Payload
	if err := unmarshal(env.Payload, &pl, "the payload"); err != nil {
		return nil, nil, err
	}
	var chdr common.ChannelHeader
	if err := unmarshal(pl.GetHeader().GetChannelHeader(), &chdr, "the channel header"); err != nil {
		return nil, nil, err
	}
	var shdr common.SignatureHeader
	if err := unmarshal(pl.GetHeader().GetSignatureHeader(), &shdr, "the signature header"); err != nil {
		return nil, nil, err
	}
	lt.ID = chdr.TxId
	if ts := chdr.GetTimestamp(); ts != nil {
		lt.Time = ts.AsTime().UTC()
	}
	var sid msp.SerializedIdentity
	if proto.Unmarshal(shdr.Creator, &sid) == nil {
		lt.Creator = sid.Mspid
	}
	ft := &fabricTx{payload: env.Payload, signature: env.Signature, channelID: chdr.ChannelId,
		chdr: pl.Header.ChannelHeader, shdr: pl.Header.SignatureHeader, creator: shdr.Creator, nonce: shdr.Nonce}
	switch common.HeaderType(chdr.Type) {
	case common.HeaderType_CONFIG:
		var ce common.ConfigEnvelope
		if err := unmarshal(pl.Data, &ce, "the configuration envelope"); err != nil {
			return ft, nil, err
		}
		lt.Function = "(channel configuration)"
		return ft, ce.Config, nil
	case common.HeaderType_ENDORSER_TRANSACTION:
	default:
		lt.Function = "(" + common.HeaderType(chdr.Type).String() + ")"
		return ft, nil, nil
	}
	var tx peer.Transaction
	if err := unmarshal(pl.Data, &tx, "the transaction"); err != nil {
		return ft, nil, err
	}
	if len(tx.Actions) != 1 {
		return ft, nil, fmt.Errorf("the transaction has %d actions, not 1", len(tx.Actions))
	}
	var cap peer.ChaincodeActionPayload
	if err := unmarshal(tx.Actions[0].Payload, &cap, "the chaincode action payload"); err != nil {
		return ft, nil, err
	}
	ft.ccpp, ft.prp, ft.endorse = cap.ChaincodeProposalPayload, cap.GetAction().GetProposalResponsePayload(), cap.GetAction().GetEndorsements()
	var ccpp peer.ChaincodeProposalPayload
	if err := unmarshal(cap.ChaincodeProposalPayload, &ccpp, "the chaincode proposal payload"); err != nil {
		return ft, nil, err
	}
	var cis peer.ChaincodeInvocationSpec
	if err := unmarshal(ccpp.Input, &cis, "the invocation"); err != nil {
		return ft, nil, err
	}
	if args := cis.GetChaincodeSpec().GetInput().GetArgs(); len(args) > 0 {
		fn := string(args[0])
		if i := strings.LastIndexByte(fn, ':'); i >= 0 {
			fn = fn[i+1:] // contract:function
		}
		lt.Function = fn
	}
	var prp peer.ProposalResponsePayload
	if err := unmarshal(ft.prp, &prp, "the proposal response payload"); err != nil {
		return ft, nil, err
	}
	ft.prpHash = prp.ProposalHash
	var act peer.ChaincodeAction
	if err := unmarshal(prp.Extension, &act, "the chaincode action"); err != nil {
		return ft, nil, err
	}
	lt.Chaincode = act.GetChaincodeId().GetName()
	var rws rwset.TxReadWriteSet
	if err := unmarshal(act.Results, &rws, "the read-write set"); err != nil {
		return ft, nil, err
	}
	for _, ns := range rws.NsRwset {
		if ns.Namespace != lt.Chaincode {
			continue
		}
		var kv kvrwset.KVRWSet
		if err := unmarshal(ns.Rwset, &kv, "the read-write set of "+ns.Namespace); err != nil {
			return ft, nil, err
		}
		read := func(r *kvrwset.KVRead) {
			if r.Version == nil {
				lt.Reads[r.Key] = nil
			} else {
				lt.Reads[r.Key] = &version{Block: r.Version.BlockNum, Tx: r.Version.TxNum}
			}
		}
		for _, r := range kv.Reads {
			read(r)
		}
		for _, rq := range kv.RangeQueriesInfo {
			for _, r := range rq.GetRawReads().GetKvReads() {
				read(r)
			}
		}
		for _, w := range kv.Writes {
			lt.Writes[w.Key] = kvWrite{Value: w.Value, Delete: w.IsDelete}
		}
	}
	return ft, nil, nil
}

// fabricMSPs reads the organisations of a channel configuration: the
// application's and the ordering service's, and which are orderers.
func fabricMSPs(cfg *common.Config) (*msps, map[string]bool, error) {
	m := newMSPs()
	orderers := map[string]bool{}
	for _, part := range []string{"Application", "Orderer"} {
		g := cfg.GetChannelGroup().GetGroups()[part]
		if g == nil {
			return nil, nil, fmt.Errorf("the channel configuration has no %s group", part)
		}
		names := make([]string, 0, len(g.Groups))
		for n := range g.Groups {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			v := g.Groups[n].GetValues()["MSP"]
			if v == nil {
				return nil, nil, fmt.Errorf("organisation %s of the %s group has no MSP", n, part)
			}
			var mc msp.MSPConfig
			if err := unmarshal(v.Value, &mc, "the MSP of "+n); err != nil {
				return nil, nil, err
			}
			var fc msp.FabricMSPConfig
			if err := unmarshal(mc.Config, &fc, "the Fabric MSP of "+n); err != nil {
				return nil, nil, err
			}
			if err := m.addRoots(fc.Name, fc.RootCerts...); err != nil {
				return nil, nil, err
			}
			m.addIntermediates(fc.Name, fc.IntermediateCerts...)
			if part == "Orderer" {
				orderers[fc.Name] = true
			}
		}
	}
	return m, orderers, nil
}

// blockHeaderBytes is the ASN.1 DER encoding of a Fabric block header, which
// the next block's previous hash and the orderer's signature cover.
func blockHeaderBytes(h *common.BlockHeader) []byte {
	raw, _ := asn1.Marshal(struct {
		Number       *big.Int
		PreviousHash []byte
		DataHash     []byte
	}{new(big.Int).SetUint64(h.Number), h.PreviousHash, h.DataHash})
	return raw
}

// readFabric checks a Fabric ledger's evidence: each block's data hash and
// its orderer signatures against the ordering organisations' CAs of the
// channel configuration block it names; each transaction's creator and
// endorsement signatures are checked when a check cites it.
func readFabric(bd *Bundle, rep *Report) (*evidence, *msps) {
	ev := newEvidence(bd.Ledger.Chaincode)
	lg := &bd.Ledger
	parsed := map[uint64]*fabricBlock{}
	var numbers []uint64
	for _, rb := range lg.Blocks {
		fb, err := parseFabricBlock(rb.Bytes)
		if err == nil && fb.lb.Number != rb.Number {
			err = fmt.Errorf("the bundle files it as block %d, its header says %d", rb.Number, fb.lb.Number)
		}
		if err != nil {
			rep.fail(fmt.Sprintf("ledger: block %d", rb.Number), "%v", err)
			ev.add(&ledgerBlock{Number: rb.Number, err: err})
			continue
		}
		parsed[rb.Number] = fb
		numbers = append(numbers, rb.Number)
	}
	sort.Slice(numbers, func(i, j int) bool { return numbers[i] < numbers[j] })
	type config struct {
		m        *msps
		orderers map[string]bool
		err      error // why blocks naming it cannot be verified
		own      error // why the configuration block itself does not verify
	}
	configs := map[uint64]*config{}
	configOf := func(n uint64) *config {
		if c, ok := configs[n]; ok {
			return c
		}
		c := &config{}
		fb := parsed[n]
		switch {
		case fb == nil:
			c.err = fmt.Errorf("its channel configuration, block %d, is not in the bundle", n)
		case fb.config == nil:
			c.err = fmt.Errorf("block %d, which it names as the channel configuration, holds none", n)
		default:
			c.m, c.orderers, c.err = fabricMSPs(fb.config)
			if c.err == nil {
				// The configuration block must itself verify, by its own
				// ordering organisations; the genesis block, which no
				// orderer signs, is the channel's root of trust: its MSP
				// roots are what a verifier compares (--msp-dir).
				if err := checkFabricBlock(fb, c.m, c.orderers, lg.Channel, n == 0); err != nil {
					c.own, c.err = err, fmt.Errorf("its channel configuration, block %d, does not verify: %w", n, err)
				}
			}
		}
		configs[n] = c
		return c
	}
	var newest *msps
	for _, n := range numbers {
		fb := parsed[n]
		name := fmt.Sprintf("ledger: block %d", n)
		c := configOf(fb.lastConfig)
		err := c.err
		if fb.lastConfig == n && c.own != nil {
			err = c.own
		}
		if err == nil {
			err = checkFabricBlock(fb, c.m, c.orderers, lg.Channel, n == 0)
		}
		if err != nil {
			rep.fail(name, "%v", err)
			ev.add(&ledgerBlock{Number: n, err: err})
			continue
		}
		newest = c.m
		what := fmt.Sprintf("%d transactions", len(fb.lb.Txs))
		if fb.config != nil {
			what = fmt.Sprintf("the channel configuration (%s)", strings.Join(c.m.ids(), ", "))
		}
		if n == 0 {
			rep.pass(name, "the genesis block, %s; its data hash covers it; no orderer signs it: its MSP roots are the channel's root of trust", what)
		} else {
			rep.pass(name, "%s; its data hash covers them and the ordering service signed it (configuration of block %d)", what, fb.lastConfig)
		}
		for i, lt := range fb.lb.Txs {
			ft := fb.txs[i]
			if ft == nil || lt.check != nil {
				continue
			}
			lt.check = func() error { return checkFabricTx(ft, lt, c.m) }
		}
		ev.add(fb.lb)
	}
	return ev, newest
}

// checkFabricBlock checks a block's data hash and the ordering service's
// signatures over its header. The genesis block carries none.
func checkFabricBlock(fb *fabricBlock, m *msps, orderers map[string]bool, channel string, genesis bool) error {
	blk := fb.blk
	sum := sha256.Sum256(bytes.Join(blk.Data.Data, nil))
	if !bytes.Equal(sum[:], blk.Header.DataHash) {
		return fmt.Errorf("its transactions do not hash to its data hash (altered)")
	}
	for i, ft := range fb.txs {
		if ft != nil && ft.channelID != channel {
			return fmt.Errorf("transaction %d is for channel %s, not %s", i, ft.channelID, channel)
		}
	}
	md := blk.Metadata.Metadata
	var meta common.Metadata
	if len(md) > int(common.BlockMetadataIndex_SIGNATURES) {
		if err := unmarshal(md[common.BlockMetadataIndex_SIGNATURES], &meta, "the signatures metadata"); err != nil {
			return err
		}
	}
	if len(meta.Signatures) == 0 {
		if genesis && fb.config != nil {
			return nil
		}
		return fmt.Errorf("it carries no orderer signatures")
	}
	header := blockHeaderBytes(blk.Header)
	for _, s := range meta.Signatures {
		if len(s.SignatureHeader) == 0 {
			return fmt.Errorf("an orderer signature names its signer by consenter ID (BFT), which this verifier does not read")
		}
		var shdr common.SignatureHeader
		if err := unmarshal(s.SignatureHeader, &shdr, "an orderer signature's header"); err != nil {
			return err
		}
		mspID, cert, err := m.identity(shdr.Creator)
		if err != nil {
			return fmt.Errorf("orderer signature: %w", err)
		}
		if !orderers[mspID] {
			return fmt.Errorf("it is signed by %s, which is not an ordering organisation of the channel", mspID)
		}
		digest := sha256.Sum256(bytes.Join([][]byte{meta.Value, s.SignatureHeader, header}, nil))
		if !verifySig(cert, digest[:], s.Signature) {
			return fmt.Errorf("the orderer's signature (%s, %s) does not verify over its header", cert.Subject.CommonName, mspID)
		}
	}
	return nil
}

// checkFabricTx checks an endorser transaction: its ID derived from the
// nonce and creator, the creator's certificate and signature over the
// payload, and every endorsement: the endorser's certificate, its signature
// over the proposal response, and the proposal response's hash of this
// transaction's proposal.
func checkFabricTx(ft *fabricTx, lt *ledgerTx, m *msps) error {
	sum := sha256.Sum256(append(append([]byte(nil), ft.nonce...), ft.creator...))
	if hex.EncodeToString(sum[:]) != lt.ID {
		return fmt.Errorf("its ID is not SHA-256(nonce ‖ creator)")
	}
	mspID, cert, err := m.identity(ft.creator)
	if err != nil {
		return fmt.Errorf("creator: %w", err)
	}
	digest := sha256.Sum256(ft.payload)
	if !verifySig(cert, digest[:], ft.signature) {
		return fmt.Errorf("the creator's signature (%s, %s) does not verify over the transaction", cert.Subject.CommonName, mspID)
	}
	if ft.prp == nil {
		return nil // not an endorser transaction
	}
	ph := sha256.Sum256(bytes.Join([][]byte{ft.chdr, ft.shdr, ft.ccpp}, nil))
	if !bytes.Equal(ph[:], ft.prpHash) {
		return fmt.Errorf("the endorsed proposal response is not for this transaction's proposal")
	}
	if len(ft.endorse) == 0 {
		return fmt.Errorf("it carries no endorsement")
	}
	ft.endorsers = nil
	for _, e := range ft.endorse {
		org, ecert, err := m.identity(e.Endorser)
		if err != nil {
			return fmt.Errorf("endorser: %w", err)
		}
		d := sha256.Sum256(append(append([]byte(nil), ft.prp...), e.Endorser...))
		if !verifySig(ecert, d[:], e.Signature) {
			return fmt.Errorf("the endorsement of %s (%s) does not verify", ecert.Subject.CommonName, org)
		}
		ft.endorsers = append(ft.endorsers, org)
	}
	lt.Endorsers = ft.endorsers
	return nil
}
