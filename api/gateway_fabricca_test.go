package api_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/fabricca"
	"github.com/greenmint/greenmint/fabricca/fabricatest"
	"github.com/greenmint/greenmint/identity"
	"github.com/greenmint/greenmint/internal/greenminttest"
	"github.com/greenmint/greenmint/ledger/fabric"
	"github.com/greenmint/greenmint/workspace"
	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/hash"
	fabid "github.com/hyperledger/fabric-gateway/pkg/identity"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"
)

// fabricCAOrgs are the organisations whose users act in the journey: each
// gets its own fabric-ca-server in TestJourneyOnFabricWithFabricCA.
var fabricCAOrgs = []string{consortium.RegistryMSP, consortium.MinerMSP, consortium.OracleAMSP, consortium.AuditorMSP, consortium.BuyerMSP}

// TestJourneyOnFabricWithFabricCA runs the journey on the Fabric network
// make test-fabric started (GREENMINT_FABRIC_DIR) with the users' ledger
// identities from Fabric CA (FABRIC_CA_BIN): one fabric-ca-server per
// organisation whose users act in the journey, each serving its
// organisation's own CA certificate and key from the network's
// organizations folder, so what it issues chains to the root the
// channel's MSP already trusts; the seeded Miner2MSP user, who does not
// act, stays on the network's own CA (fabricca.Options.Others). After the
// journey, for the seeded miner and the invited buyer: their certificate
// is one their organisation's Fabric CA signed (its serial in the
// server's log) and chains to the organisation's MSP root, and the peers
// committed their transactions (the miner's site registration, the
// buyer's retirement) as valid, with exactly that certificate as the
// creator and a signature its key made (the transaction as qscc returns
// it).
func TestJourneyOnFabricWithFabricCA(t *testing.T) {
	dir := os.Getenv("GREENMINT_FABRIC_DIR")
	if dir == "" || !fabricatest.Available() {
		t.Skip("GREENMINT_FABRIC_DIR and " + fabricatest.BinEnv + " must both be set: make test-fabric with " + fabricatest.BinEnv +
			" naming a directory holding fabric-ca-server (docs/fabric-ca.md) runs the journey on Fabric with Fabric CA identities")
	}
	ctx := context.Background()
	connPath := filepath.Join(dir, "connection.json")
	conn, err := fabric.LoadConnection(connPath)
	if err != nil {
		t.Fatal(err)
	}
	w, err := workspace.Open(workspace.Config{Dir: t.TempDir(), Ledger: workspace.Fabric, Connection: connPath})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	oid, err := w.Identity(consortium.OracleAMSP + ":oracle")
	if err != nil {
		t.Fatal(err)
	}

	servers := map[string]*fabricatest.Server{}
	var cfgs []fabricca.Config
	for _, org := range fabricCAOrgs {
		caDir := filepath.Join(conn.Identities, org, "ca")
		s := fabricatest.StartTB(t, "ca-"+strings.ToLower(strings.TrimSuffix(org, "MSP")), filepath.Join(caDir, "ca.pem"), filepath.Join(caDir, "priv_sk"))
		servers[org] = s
		cfgs = append(cfgs, fabricca.Config{MSPID: org, URL: s.URL, CAName: s.CAName, TLSRootCertPEM: s.TLSRootPEM,
			Registrar: fabricatest.Registrar}.WithSecret(fabricatest.Secret))
	}
	ca, err := fabricca.New(ctx, cfgs, fabricca.Options{Others: w.Consortium.Store})
	if err != nil {
		t.Fatal(err)
	}
	txs := newTxReader(t, conn, oid)

	oracleDB := greenminttest.NewOracleDB(t, filepath.Join(t.TempDir(), "oracle.db"))
	for name, db := range greenminttest.StoreDBs(t) {
		t.Run(name, func(t *testing.T) {
			e := newGatewayEnvOn(t, db, envOptions{}, backend{ledger: w.Ledger, ws: w, oracleDB: oracleDB, oracleID: oid, ca: ca})
			done := journey(t, e, fmt.Sprintf("SITE%d", time.Now().UnixNano()%1_000_000_000))
			for _, tc := range []struct {
				login, org, txID string
			}{
				{"miner", consortium.MinerMSP, done.minerSite},
				{"bea", consortium.BuyerMSP, done.beaRetires},
			} {
				u, err := e.db.UserByLogin(ctx, tc.login)
				if err != nil {
					t.Fatal(err)
				}
				id, err := e.keyring.Identity(ctx, u.ID)
				if err != nil {
					t.Fatal(err)
				}
				cert, err := identity.ParseCertPEM(id.Certificate)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(servers[tc.org].Log(), "signed certificate with serial number "+cert.SerialNumber.String()+"\n") {
					t.Errorf("%s (%s): certificate %s is not one %s's Fabric CA signed", tc.login, tc.org, cert.SerialNumber, tc.org)
				}
				root, err := os.ReadFile(filepath.Join(conn.Identities, tc.org, "msp", "cacerts", "ca.pem"))
				if err != nil {
					t.Fatal(err)
				}
				roots := x509.NewCertPool()
				roots.AppendCertsFromPEM(root)
				if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
					t.Errorf("%s: the certificate does not chain to %s's root on the channel: %v", tc.login, tc.org, err)
				}
				if role, _ := identity.RoleOf(cert); string(role) != u.Role {
					t.Errorf("%s: role attribute %q, want %q", tc.login, role, u.Role)
				}

				creator, valid := txs.creator(tc.txID)
				if !valid {
					t.Errorf("%s: transaction %s is not committed as valid", tc.login, tc.txID)
				}
				if creator.mspID != tc.org || !bytes.Equal(creator.cert.Raw, cert.Raw) {
					t.Errorf("%s: transaction %s was signed by %s %q (serial %s), want %s's Fabric CA certificate %s",
						tc.login, tc.txID, creator.mspID, creator.cert.Subject, creator.cert.SerialNumber, tc.org, cert.SerialNumber)
				}
				if err := creator.cert.CheckSignature(x509.ECDSAWithSHA256, creator.payload, creator.signature); err != nil {
					t.Errorf("%s: transaction %s is not signed by its creator's key: %v", tc.login, tc.txID, err)
				}
			}
		})
	}
}

// txReader reads committed transactions from the gateway peer through
// the query system chaincode (qscc GetTransactionByID), as a member of
// the channel.
type txReader struct {
	t       testing.TB
	channel string
	qscc    *client.Contract
}

func newTxReader(t testing.TB, conn *fabric.Connection, id *greenmint.Identity) *txReader {
	t.Helper()
	pemBytes, err := os.ReadFile(conn.TLSRootCert)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	server := conn.ServerName
	if server == "" {
		server, _, _ = strings.Cut(conn.PeerEndpoint, ":")
	}
	cc, err := grpc.NewClient(conn.PeerEndpoint, grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(pool, server)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	cert, err := fabid.CertificateFromPEM(id.Certificate)
	if err != nil {
		t.Fatal(err)
	}
	xid, err := fabid.NewX509Identity(id.MSPID, cert)
	if err != nil {
		t.Fatal(err)
	}
	sign, err := fabid.NewPrivateKeySign(id.Signer)
	if err != nil {
		t.Fatal(err)
	}
	g, err := client.Connect(xid, client.WithSign(sign), client.WithHash(hash.SHA256), client.WithClientConnection(cc),
		client.WithEvaluateTimeout(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return &txReader{t: t, channel: conn.Channel, qscc: g.GetNetwork(conn.Channel).GetContract("qscc")}
}

// txCreator is who a committed transaction says signed it, and what it
// signed.
type txCreator struct {
	mspID     string
	cert      *x509.Certificate
	payload   []byte // the envelope's payload
	signature []byte // the envelope's signature over it
}

// creator returns the creator of committed transaction txID and whether
// the peers validated it.
func (r *txReader) creator(txID string) (txCreator, bool) {
	r.t.Helper()
	raw, err := r.qscc.Evaluate("GetTransactionByID", client.WithArguments(r.channel, txID))
	if err != nil {
		r.t.Fatalf("qscc GetTransactionByID %s: %v", txID, err)
	}
	unmarshal := func(what string, b []byte, m proto.Message) {
		if err := proto.Unmarshal(b, m); err != nil {
			r.t.Fatalf("transaction %s: the %s does not parse: %v", txID, what, err)
		}
	}
	var ptx peer.ProcessedTransaction
	unmarshal("processed transaction", raw, &ptx)
	env := ptx.GetTransactionEnvelope()
	var pl common.Payload
	unmarshal("payload", env.GetPayload(), &pl)
	var ch common.ChannelHeader
	unmarshal("channel header", pl.GetHeader().GetChannelHeader(), &ch)
	var sh common.SignatureHeader
	unmarshal("signature header", pl.GetHeader().GetSignatureHeader(), &sh)
	var sid msp.SerializedIdentity
	unmarshal("creator", sh.GetCreator(), &sid)
	if ch.GetTxId() != txID {
		r.t.Fatalf("qscc returned transaction %q for %q", ch.GetTxId(), txID)
	}
	blk, _ := pem.Decode(sid.GetIdBytes())
	if blk == nil {
		r.t.Fatalf("transaction %s: the creator's certificate is not PEM: %q", txID, sid.GetIdBytes())
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		r.t.Fatalf("transaction %s: the creator's certificate: %v", txID, err)
	}
	return txCreator{mspID: sid.GetMspid(), cert: cert, payload: env.GetPayload(), signature: env.GetSignature()},
		ptx.GetValidationCode() == int32(peer.TxValidationCode_VALID)
}
