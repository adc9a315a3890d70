package bundle

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"google.golang.org/protobuf/proto"
)

// The ledger's blocks, embedded or Fabric, are read into one model: blocks
// of transactions, each with its creator, time, validity and the keys of
// the contract's namespace it read (with the version it saw) and wrote.

// version is the height at which a key was written: block and transaction
// position, as both ledgers record it in read sets.
type version struct {
	Block uint64
	Tx    uint64
}

func (v version) String() string { return fmt.Sprintf("block %d #%d", v.Block, v.Tx) }

// kvWrite is one key a transaction wrote or deleted.
type kvWrite struct {
	Value  []byte
	Delete bool
}

// ledgerTx is one transaction of a block.
type ledgerTx struct {
	ID         string
	Block      uint64
	Index      uint64
	Time       time.Time
	Creator    string // the creator's MSP ID
	Chaincode  string // the chaincode it invoked, whose namespace Reads and Writes are
	Function   string
	Endorsers  []string // Fabric: the organisations whose endorsements verified
	Validation string   // the validation code's name; "VALID" for a valid one
	Reads      map[string]*version
	Writes     map[string]kvWrite

	check   func() error // checks the transaction's signatures, once
	checked bool
	err     error
}

// valid reports whether the ledger marked the transaction valid.
func (t *ledgerTx) valid() bool { return t.Validation == "VALID" }

// verify runs the transaction's signature checks once.
func (t *ledgerTx) verify() error {
	if !t.checked {
		t.checked = true
		if t.check != nil {
			t.err = t.check()
		}
	}
	return t.err
}

// ledgerBlock is one block of the bundle.
type ledgerBlock struct {
	Number uint64
	Txs    []*ledgerTx
	err    error // why the block itself does not verify (nil: it does)
}

// evidence is what the ledger section of a bundle proves: the blocks that
// verified, and the transactions in them.
type evidence struct {
	chaincode string
	blocks    map[uint64]*ledgerBlock
	byID      map[string]*ledgerTx
}

func newEvidence(chaincode string) *evidence {
	return &evidence{chaincode: chaincode, blocks: map[uint64]*ledgerBlock{}, byID: map[string]*ledgerTx{}}
}

func (e *evidence) add(b *ledgerBlock) {
	e.blocks[b.Number] = b
	for _, t := range b.Txs {
		if _, dup := e.byID[t.ID]; !dup || t.valid() {
			e.byID[t.ID] = t
		}
	}
}

// tx returns the committed, valid transaction a Ref names, with its
// signatures checked, or says why it cannot be used.
func (e *evidence) tx(r Ref) (*ledgerTx, error) {
	b, ok := e.blocks[r.Block]
	if !ok {
		return nil, fmt.Errorf("block %d is not in the bundle", r.Block)
	}
	if b.err != nil {
		return nil, fmt.Errorf("block %d does not verify", r.Block)
	}
	if r.Tx >= uint64(len(b.Txs)) {
		return nil, fmt.Errorf("block %d holds %d transactions, none at position %d", r.Block, len(b.Txs), r.Tx)
	}
	t := b.Txs[r.Tx]
	if t.ID != r.TxID {
		return nil, fmt.Errorf("transaction %d of block %d is %s, not %s", r.Tx, r.Block, short(t.ID), short(r.TxID))
	}
	if !t.valid() {
		return nil, fmt.Errorf("transaction %s in block %d is %s, not valid", short(t.ID), r.Block, t.Validation)
	}
	if t.Chaincode != e.chaincode {
		return nil, fmt.Errorf("transaction %s in block %d invoked chaincode %q, not %q", short(t.ID), r.Block, t.Chaincode, e.chaincode)
	}
	if err := t.verify(); err != nil {
		return nil, fmt.Errorf("transaction %s in block %d: %w", short(t.ID), r.Block, err)
	}
	return t, nil
}

// short abbreviates a transaction ID or hash for messages.
func short(id string) string {
	if len(id) > 12 {
		return id[:12] + "…"
	}
	return id
}

// compositeKey is the contract's key of an object: the shim's composite key
// ("\x00" kind "\x00" and each attribute followed by "\x00").
func compositeKey(kind string, attrs ...string) string {
	var b strings.Builder
	b.WriteString("\x00" + kind + "\x00")
	for _, a := range attrs {
		b.WriteString(a + "\x00")
	}
	return b.String()
}

// describeKey names a composite key for people: kind/attr/attr.
func describeKey(k string) string {
	return strings.Join(strings.Split(strings.Trim(k, "\x00"), "\x00"), "/")
}

// msps holds the channel's organisations' root (and intermediate)
// certificates, by MSP ID.
type msps struct {
	roots map[string]*x509.CertPool
	inter map[string]*x509.CertPool
	certs map[string][]*x509.Certificate // roots, for fingerprints
}

func newMSPs() *msps {
	return &msps{roots: map[string]*x509.CertPool{}, inter: map[string]*x509.CertPool{}, certs: map[string][]*x509.Certificate{}}
}

// addRoots adds an organisation's PEM root certificates.
func (m *msps) addRoots(mspID string, pems ...[]byte) error {
	if m.roots[mspID] == nil {
		m.roots[mspID], m.inter[mspID] = x509.NewCertPool(), x509.NewCertPool()
	}
	n := 0
	for _, p := range pems {
		for rest := p; ; {
			var blk *pem.Block
			blk, rest = pem.Decode(rest)
			if blk == nil {
				break
			}
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return fmt.Errorf("organisation %s: a root certificate does not parse: %w", mspID, err)
			}
			m.roots[mspID].AddCert(c)
			m.certs[mspID] = append(m.certs[mspID], c)
			n++
		}
	}
	if n == 0 {
		return fmt.Errorf("organisation %s has no root certificate", mspID)
	}
	return nil
}

// addIntermediates adds an organisation's PEM intermediate certificates.
func (m *msps) addIntermediates(mspID string, pems ...[]byte) {
	for _, p := range pems {
		m.inter[mspID].AppendCertsFromPEM(p)
	}
}

// ids returns the MSP IDs in order.
func (m *msps) ids() []string {
	out := make([]string, 0, len(m.roots))
	for id := range m.roots {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// identity checks a serialized identity (msp.SerializedIdentity) against
// its organisation's CA, as Fabric's MSP does (the chain verified at the
// certificate's own start, so an expired certificate of an old block still
// verifies), and returns its MSP ID and certificate.
func (m *msps) identity(serialized []byte) (string, *x509.Certificate, error) {
	var sid msp.SerializedIdentity
	if err := proto.Unmarshal(serialized, &sid); err != nil {
		return "", nil, fmt.Errorf("the identity is not a serialized identity")
	}
	roots, ok := m.roots[sid.Mspid]
	if !ok {
		return sid.Mspid, nil, fmt.Errorf("organisation %q is not a member of the channel", sid.Mspid)
	}
	blk, _ := pem.Decode(sid.IdBytes)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return sid.Mspid, nil, fmt.Errorf("the identity of %s carries no PEM certificate", sid.Mspid)
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return sid.Mspid, nil, fmt.Errorf("the certificate of %s does not parse: %w", sid.Mspid, err)
	}
	opts := x509.VerifyOptions{Roots: roots, Intermediates: m.inter[sid.Mspid], CurrentTime: cert.NotBefore.Add(time.Second), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
	if _, err := cert.Verify(opts); err != nil {
		return sid.Mspid, nil, fmt.Errorf("the certificate of %s (%s) was not issued by %s's CA in the bundle: %w", cert.Subject.CommonName, sid.Mspid, sid.Mspid, err)
	}
	if _, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok {
		return sid.Mspid, nil, fmt.Errorf("the key of %s (%s) is not ECDSA", cert.Subject.CommonName, sid.Mspid)
	}
	return sid.Mspid, cert, nil
}

// verifySig checks an ECDSA signature over SHA-256(msg) by cert.
func verifySig(cert *x509.Certificate, digest []byte, sig []byte) bool {
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	return ok && len(sig) > 0 && ecdsa.VerifyASN1(pub, digest, sig)
}
