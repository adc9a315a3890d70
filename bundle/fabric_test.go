package bundle_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/bundle"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/fabricnet"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/ledger/fabric"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
)

// TestFabricBundles builds bundles on the Fabric network make test-fabric
// started (GREENMINT_FABRIC_DIR), verifies them, pinned to the consortium's
// MSP roots, and tampers with the blocks as the peers delivered them.
func TestFabricBundles(t *testing.T) {
	dir := os.Getenv("GREENMINT_FABRIC_DIR")
	if dir == "" {
		t.Skip("GREENMINT_FABRIC_DIR is not set: make test-fabric (FABRIC_BIN set) runs this on a Fabric network")
	}
	ctx := context.Background()
	netw, err := fabricnet.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("bundle%d", time.Now().UnixNano()%1_000_000_000)
	if err := netw.Deploy(ctx, name); err != nil {
		t.Fatal(err)
	}
	if err := netw.WaitServing(ctx, name); err != nil {
		t.Fatal(err)
	}
	c, err := consortium.Load(netw.OrgsDir())
	if err != nil {
		t.Fatal(err)
	}
	l, err := fabric.Open(netw.Connection(name), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	e, err := greenminttest.NewEnv(l, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	site, err := e.RegisterSite(ctx, e.Miner, "SITE0042")
	if err != nil {
		t.Fatal(err)
	}
	db := greenminttest.NewOracleDB(t, filepath.Join(t.TempDir(), "oracle.db"))
	period := greenminttest.Period{Start: greenminttest.DemoWeek.Start, Hours: 48}
	readings, err := site.Readings(period)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SaveReadings(ctx, readings, nil, period.End()); err != nil {
		t.Fatal(err)
	}
	sa, err := e.Attest(site, greenmint.CO2E, period, greenminttest.OracleAID, greenminttest.OracleBID)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Mint(ctx, sa)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		id  *greenmint.Identity
		fn  string
		req any
	}{
		{e.Buyer, greenmint.TxOpenAccount, greenmint.OpenAccountRequest{}},
		{e.Miner, greenmint.TxTransfer, greenmint.TransferRequest{BatchID: res.BatchID, To: e.Buyer.MSPID, Quantity: 1000}},
		{e.Miner, greenmint.TxListForSale, greenmint.ListRequest{BatchID: res.BatchID, Quantity: 100, PriceMinor: 5000, Currency: "EUR"}},
	} {
		if _, err := greenmint.SubmitJSON(ctx, l, step.id, step.fn, step.req, nil); err != nil {
			t.Fatalf("%s: %v", step.fn, err)
		}
	}
	var st greenmint.RetirementStatement
	retire := greenmint.RetireRequest{Parts: []greenmint.RetirePart{{BatchID: res.BatchID, Quantity: 400}}, Beneficiary: "Acme Mining SL",
		Jurisdiction: "ES-AN", Purpose: greenmint.PurposeVoluntary, ReportingYear: 2023, Reason: "2023 claim"}
	if _, err := greenmint.SubmitJSON(ctx, l, e.Buyer, greenmint.TxRetire, retire, &st); err != nil {
		t.Fatal(err)
	}

	roots := mspRoots(t, netw.OrgsDir())
	b, err := bundle.BuildBatch(ctx, l, nil, e.Auditor, res.BatchID, bundle.Options{Readings: db})
	if err != nil {
		t.Fatal(err)
	}
	if b.Ledger.Type != bundle.LedgerFabric || b.Ledger.Chaincode != name || b.Ledger.Channel != fabricnet.ChannelID || b.Batches[0].Readings == nil {
		t.Fatalf("bundle ledger = %s %s %s, readings %v", b.Ledger.Type, b.Ledger.Channel, b.Ledger.Chaincode, b.Batches[0].Readings != nil)
	}
	rep := mustVerify(t, b, bundle.VerifyOptions{Roots: roots})
	var out bytes.Buffer
	_ = rep.Print(&out)
	t.Logf("greenmint verify (Fabric):\n%s", out.String())
	for _, want := range []string{"PASS  ledger: MSP roots", "endorsed by", "the ordering service signed it", "PASS  batch " + res.BatchID + ": readings"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	sb, err := bundle.BuildStatement(ctx, l, l, e.Auditor, st.ID, bundle.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustVerify(t, sb, bundle.VerifyOptions{Roots: roots})

	// Tampering, one thing at a time.
	raw, _ := bundle.Marshal(b)
	mint := b.Batches[0].Attestation.Ref
	p := "batch " + res.BatchID + ": "
	other := otherRoot(t)
	orderer := ordererKey(t, netw.OrgsDir())
	cases := []mutation{
		{name: "an hour's matched Wh", path: "batches.0.attestation.value.attestation.attestation.hours.3.matched_wh", edit: add(1),
			want: []string{p + "attestation: the bundle's copy differs", p + "R2: hour"}},
		{name: "a signature byte", path: "batches.0.attestation.value.attestation.signatures.0.signature", edit: flipBase64(7), want: []string{p + "oracle signatures (R5)"}},
		{name: "the dataset factor", path: "batches.0.dataset.value.grid_factors.0.firm_g_per_mwh", edit: add(7), want: []string{p + "dataset: the bundle's copy differs"}},
		{name: "a history entry's value", path: "batches.0.history.1.value.escrowed", edit: add(1), want: []string{p + "history: version 2"}},
		{name: "a block byte", all: func(t *testing.T, doc map[string]any) {
			editFabricBlock(t, doc, mint.Block, func(blk *common.Block) { blk.Data.Data[mint.Tx][len(blk.Data.Data[mint.Tx])/2] ^= 1 })
		}, want: []string{fmt.Sprintf("ledger: block %d: its transactions do not hash to its data hash", mint.Block)}},
		{name: "a write, the data hash recomputed", all: func(t *testing.T, doc map[string]any) {
			editFabricBlock(t, doc, mint.Block, func(blk *common.Block) {
				editWrites(t, blk, int(mint.Tx), name, func(w *kvrwset.KVWrite) {
					w.Value = bytes.Replace(w.Value, []byte(`"escrowed":0`), []byte(`"escrowed":1`), 1)
				})
				rehashFabric(blk)
			})
		}, want: []string{fmt.Sprintf("ledger: block %d: the orderer's signature", mint.Block)}},
		{name: "the orderer's signature", all: func(t *testing.T, doc map[string]any) {
			editFabricBlock(t, doc, mint.Block, func(blk *common.Block) {
				var md common.Metadata
				mustUnmarshal(t, blk.Metadata.Metadata[common.BlockMetadataIndex_SIGNATURES], &md)
				md.Signatures[0].Signature[10] ^= 1
				blk.Metadata.Metadata[common.BlockMetadataIndex_SIGNATURES] = mustMarshal(t, &md)
			})
		}, want: []string{fmt.Sprintf("ledger: block %d: the orderer's signature", mint.Block)}},
		{name: "an endorsement", all: func(t *testing.T, doc map[string]any) {
			editFabricBlock(t, doc, mint.Block, func(blk *common.Block) {
				editEndorsement(t, blk, int(mint.Tx), func(e *peer.Endorsement) { e.Signature[12] ^= 1 })
				rehashFabric(blk)
			})
		}, want: []string{fmt.Sprintf("ledger: block %d: the orderer's signature", mint.Block)}},
		// A block the orderer signed again (its key in hand): the
		// creator's and the endorsers' signatures still catch it.
		{name: "an endorsement, the block re-signed", all: func(t *testing.T, doc map[string]any) {
			editFabricBlock(t, doc, mint.Block, func(blk *common.Block) {
				editEndorsement(t, blk, int(mint.Tx), func(e *peer.Endorsement) { e.Signature[12] ^= 1 })
				rehashFabric(blk)
				resign(t, blk, orderer)
			})
		}, want: []string{"ledger: transaction " + mint.TxID + ": block", "the creator's signature", p + "attestation: transaction"}},
		// The orderer and the creator colluding: the endorsing peers'
		// signatures still catch it.
		{name: "an endorsement, the transaction and the block re-signed", all: func(t *testing.T, doc map[string]any) {
			editFabricBlock(t, doc, mint.Block, func(blk *common.Block) {
				editEndorsement(t, blk, int(mint.Tx), func(e *peer.Endorsement) { e.Signature[12] ^= 1 })
				resignEnvelope(t, blk, int(mint.Tx), e.OracleA)
				rehashFabric(blk)
				resign(t, blk, orderer)
			})
		}, want: []string{"ledger: transaction " + mint.TxID + ": block", "the endorsement of", p + "attestation: transaction"}},
		{name: "a write, the transaction and the block re-signed", all: func(t *testing.T, doc map[string]any) {
			editFabricBlock(t, doc, mint.Block, func(blk *common.Block) {
				editWrites(t, blk, int(mint.Tx), name, func(w *kvrwset.KVWrite) {
					w.Value = bytes.Replace(w.Value, []byte(`"escrowed":0`), []byte(`"escrowed":1`), 1)
				})
				resignEnvelope(t, blk, int(mint.Tx), e.OracleA)
				rehashFabric(blk)
				resign(t, blk, orderer)
			})
		}, want: []string{"ledger: transaction " + mint.TxID + ": block", "the endorsement of", p + "history: version 1"}},
		{name: "a write, the block re-signed", all: func(t *testing.T, doc map[string]any) {
			editFabricBlock(t, doc, mint.Block, func(blk *common.Block) {
				editWrites(t, blk, int(mint.Tx), name, func(w *kvrwset.KVWrite) {
					w.Value = bytes.Replace(w.Value, []byte(`"escrowed":0`), []byte(`"escrowed":1`), 1)
				})
				rehashFabric(blk)
				resign(t, blk, orderer)
			})
		}, want: []string{"ledger: transaction " + mint.TxID + ": block", "the creator's signature", p + "history: version 1"}},
		{name: "the validation flag", all: func(t *testing.T, doc map[string]any) {
			editFabricBlock(t, doc, mint.Block, func(blk *common.Block) {
				blk.Metadata.Metadata[common.BlockMetadataIndex_TRANSACTIONS_FILTER][mint.Tx] = byte(peer.TxValidationCode_MVCC_READ_CONFLICT)
			})
		}, want: []string{p + "attestation: transaction", "is MVCC_READ_CONFLICT, not valid"}},
		{name: "a certificate", all: func(t *testing.T, doc map[string]any) {
			cfg := configBlockOf(t, doc, mint.Block)
			editFabricBlock(t, doc, cfg, func(blk *common.Block) { editMSP(t, blk, consortium.OracleAMSP, other) })
		}, want: []string{"ledger: block 0: its transactions do not hash to its data hash", "its channel configuration, block 0, does not verify"}},
		// The genesis block, which no orderer signs, rewritten whole: the
		// roots obtained independently catch it.
		{name: "a certificate, the genesis block rehashed", all: func(t *testing.T, doc map[string]any) {
			cfg := configBlockOf(t, doc, mint.Block)
			editFabricBlock(t, doc, cfg, func(blk *common.Block) {
				editMSP(t, blk, consortium.OracleAMSP, other)
				rehashFabric(blk)
			})
		}, want: []string{"ledger: MSP roots: OracleAMSP's root certificate \"ca.forger\" is not the trusted one", "was not issued by OracleAMSP's CA"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var doc map[string]any
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.UseNumber()
			if err := dec.Decode(&doc); err != nil {
				t.Fatal(err)
			}
			if tc.all != nil {
				tc.all(t, doc)
			} else {
				put(t, doc, tc.path, tc.edit(get(t, doc, tc.path)))
			}
			outb, _ := json.Marshal(doc)
			bd, err := bundle.Decode(outb)
			if err != nil {
				t.Fatal(err)
			}
			got := failures(bundle.Verify(bd, bundle.VerifyOptions{Roots: roots}))
			if got == "" {
				t.Fatalf("Verify(%s tampered) passed", tc.name)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("Verify(%s tampered): no failure says %q; failures:\n%s", tc.name, w, got)
				}
			}
		})
	}
	// Roots other than the consortium's.
	wrong := map[string][]byte{}
	for k, v := range roots {
		wrong[k] = v
	}
	wrong[consortium.OracleAMSP] = other
	if got := failures(bundle.Verify(b, bundle.VerifyOptions{Roots: wrong})); !strings.Contains(got, "ledger: MSP roots: OracleAMSP's root certificate") {
		t.Errorf("Verify(other roots) failures:\n%s", got)
	}
}

// mspRoots reads DIR/<MSP ID>/msp/cacerts/*.pem.
func mspRoots(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	files, _ := filepath.Glob(filepath.Join(dir, "*", "msp", "cacerts", "*.pem"))
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		id := filepath.Base(filepath.Dir(filepath.Dir(filepath.Dir(f))))
		out[id] = append(out[id], raw...)
	}
	return out
}

// otherRoot is a self-signed CA certificate no organisation uses.
func otherRoot(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "ca.forger"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func mustUnmarshal(t *testing.T, b []byte, m proto.Message) {
	t.Helper()
	if err := proto.Unmarshal(b, m); err != nil {
		t.Fatal(err)
	}
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// editFabricBlock edits block n of the document.
func editFabricBlock(t *testing.T, doc map[string]any, n uint64, edit func(*common.Block)) {
	t.Helper()
	for _, rb := range get(t, doc, "ledger.blocks").([]any) {
		m := rb.(map[string]any)
		if m["number"].(json.Number).String() != strconv.FormatUint(n, 10) {
			continue
		}
		raw, _ := base64.StdEncoding.DecodeString(m["bytes"].(string))
		var blk common.Block
		mustUnmarshal(t, raw, &blk)
		edit(&blk)
		m["bytes"] = base64.StdEncoding.EncodeToString(mustMarshal(t, &blk))
		return
	}
	t.Fatalf("block %d not in the bundle", n)
}

// configBlockOf returns the configuration block block n names.
func configBlockOf(t *testing.T, doc map[string]any, n uint64) uint64 {
	var idx uint64
	editFabricBlock(t, doc, n, func(blk *common.Block) {
		var md common.Metadata
		var obm common.OrdererBlockMetadata
		mustUnmarshal(t, blk.Metadata.Metadata[common.BlockMetadataIndex_SIGNATURES], &md)
		mustUnmarshal(t, md.Value, &obm)
		idx = obm.LastConfig.Index
	})
	return idx
}

// rehashFabric recomputes a block's data hash.
func rehashFabric(blk *common.Block) {
	sum := sha256.Sum256(bytes.Join(blk.Data.Data, nil))
	blk.Header.DataHash = sum[:]
}

// envelopeParts opens envelope i of a block down to its chaincode action
// payload, lets edit change it and seals it again (leaving its signatures
// as they were).
func envelopeParts(t *testing.T, blk *common.Block, i int, edit func(*peer.ChaincodeActionPayload)) {
	t.Helper()
	var env common.Envelope
	var pl common.Payload
	var tx peer.Transaction
	var cap peer.ChaincodeActionPayload
	mustUnmarshal(t, blk.Data.Data[i], &env)
	mustUnmarshal(t, env.Payload, &pl)
	mustUnmarshal(t, pl.Data, &tx)
	mustUnmarshal(t, tx.Actions[0].Payload, &cap)
	edit(&cap)
	tx.Actions[0].Payload = mustMarshal(t, &cap)
	pl.Data = mustMarshal(t, &tx)
	env.Payload = mustMarshal(t, &pl)
	blk.Data.Data[i] = mustMarshal(t, &env)
}

func editEndorsement(t *testing.T, blk *common.Block, i int, edit func(*peer.Endorsement)) {
	envelopeParts(t, blk, i, func(cap *peer.ChaincodeActionPayload) { edit(cap.Action.Endorsements[0]) })
}

func editWrites(t *testing.T, blk *common.Block, i int, namespace string, edit func(*kvrwset.KVWrite)) {
	envelopeParts(t, blk, i, func(cap *peer.ChaincodeActionPayload) {
		var prp peer.ProposalResponsePayload
		var act peer.ChaincodeAction
		var rws rwset.TxReadWriteSet
		mustUnmarshal(t, cap.Action.ProposalResponsePayload, &prp)
		mustUnmarshal(t, prp.Extension, &act)
		mustUnmarshal(t, act.Results, &rws)
		for _, ns := range rws.NsRwset {
			if ns.Namespace != namespace {
				continue
			}
			var kv kvrwset.KVRWSet
			mustUnmarshal(t, ns.Rwset, &kv)
			for _, w := range kv.Writes {
				edit(w)
			}
			ns.Rwset = mustMarshal(t, &kv)
		}
		act.Results = mustMarshal(t, &rws)
		prp.Extension = mustMarshal(t, &act)
		cap.Action.ProposalResponsePayload = mustMarshal(t, &prp)
	})
}

// editMSP replaces an organisation's root certificates in a configuration
// block.
func editMSP(t *testing.T, blk *common.Block, mspID string, root []byte) {
	t.Helper()
	var env common.Envelope
	var pl common.Payload
	var ce common.ConfigEnvelope
	mustUnmarshal(t, blk.Data.Data[0], &env)
	mustUnmarshal(t, env.Payload, &pl)
	mustUnmarshal(t, pl.Data, &ce)
	v := ce.Config.ChannelGroup.Groups["Application"].Groups[mspID].Values["MSP"]
	var mc msp.MSPConfig
	var fc msp.FabricMSPConfig
	mustUnmarshal(t, v.Value, &mc)
	mustUnmarshal(t, mc.Config, &fc)
	fc.RootCerts = [][]byte{root}
	mc.Config = mustMarshal(t, &fc)
	v.Value = mustMarshal(t, &mc)
	pl.Data = mustMarshal(t, &ce)
	env.Payload = mustMarshal(t, &pl)
	blk.Data.Data[0] = mustMarshal(t, &env)
}

// ordererKey reads the ordering node's signing key.
func ordererKey(t *testing.T, orgs string) *ecdsa.PrivateKey {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(orgs, fabricnet.OrdererMSP, "nodes", "orderer0", "msp", "keystore", "priv_sk"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(raw)
	if blk == nil {
		t.Fatal("the orderer's key is not PEM")
	}
	if k, err := x509.ParsePKCS8PrivateKey(blk.Bytes); err == nil {
		if ek, ok := k.(*ecdsa.PrivateKey); ok {
			return ek
		}
	}
	k, err := x509.ParseECPrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// resign signs a block's header again with the orderer's key, keeping the
// signature header.
func resign(t *testing.T, blk *common.Block, key *ecdsa.PrivateKey) {
	t.Helper()
	var md common.Metadata
	mustUnmarshal(t, blk.Metadata.Metadata[common.BlockMetadataIndex_SIGNATURES], &md)
	header, err := asn1.Marshal(struct {
		Number       *big.Int
		PreviousHash []byte
		DataHash     []byte
	}{new(big.Int).SetUint64(blk.Header.Number), blk.Header.PreviousHash, blk.Header.DataHash})
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256(bytes.Join([][]byte{md.Value, md.Signatures[0].SignatureHeader, header}, nil))
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	md.Signatures[0].Signature = sig
	blk.Metadata.Metadata[common.BlockMetadataIndex_SIGNATURES] = mustMarshal(t, &md)
}

// resignEnvelope signs envelope i's payload again as id.
func resignEnvelope(t *testing.T, blk *common.Block, i int, id *greenmint.Identity) {
	t.Helper()
	var env common.Envelope
	mustUnmarshal(t, blk.Data.Data[i], &env)
	digest := sha256.Sum256(env.Payload)
	sig, err := id.Signer.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	env.Signature = sig
	blk.Data.Data[i] = mustMarshal(t, &env)
}
