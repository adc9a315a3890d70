package embedded

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"sync"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"google.golang.org/protobuf/proto"
)

// mspVerifier checks that a proposal's creator is a certificate issued by
// the CA of one of the channel's organisations and that the creator signed
// the proposal, as a Fabric peer's MSP does.
type mspVerifier struct {
	roots map[string]*x509.CertPool
	cache sync.Map // SHA-256 of the creator bytes → *creator (chain already verified)
}

// creator is a verified proposal creator.
type creator struct {
	mspID string
	cert  *x509.Certificate
}

func newMSPVerifier(orgs []OrgConfig) (*mspVerifier, error) {
	v := &mspVerifier{roots: map[string]*x509.CertPool{}}
	for _, o := range orgs {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(o.RootCertPEM) {
			return nil, fmt.Errorf("embedded: organisation %s has no usable root certificate", o.MSPID)
		}
		v.roots[o.MSPID] = pool
	}
	return v, nil
}

func unauthenticated(format string, args ...any) error {
	return greenmint.Errorf(greenmint.EUNAUTHENTICATED, format, args...)
}

// verify checks the creator and the signature at the transaction's time.
func (v *mspVerifier) verify(creatorBytes []byte, signedBytes, sig []byte, at time.Time) (*creator, error) {
	key := sha256.Sum256(creatorBytes)
	var c *creator
	if cached, ok := v.cache.Load(key); ok {
		c = cached.(*creator)
	} else {
		sid := &msp.SerializedIdentity{}
		if err := proto.Unmarshal(creatorBytes, sid); err != nil {
			return nil, unauthenticated("creator is not a serialized identity")
		}
		roots, ok := v.roots[sid.Mspid]
		if !ok {
			return nil, unauthenticated("organisation %q is not a member of the channel", sid.Mspid)
		}
		blk, _ := pem.Decode(sid.IdBytes)
		if blk == nil || blk.Type != "CERTIFICATE" {
			return nil, unauthenticated("creator carries no PEM certificate")
		}
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, unauthenticated("creator certificate does not parse: %v", err)
		}
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: cert.NotBefore.Add(time.Second), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			return nil, unauthenticated("creator certificate was not issued by %s's CA: %v", sid.Mspid, err)
		}
		if _, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok {
			return nil, unauthenticated("creator key is not ECDSA")
		}
		c = &creator{mspID: sid.Mspid, cert: cert}
		v.cache.Store(key, c)
	}
	if at.Before(c.cert.NotBefore) || at.After(c.cert.NotAfter) {
		return nil, unauthenticated("creator certificate is not valid at %s", at.UTC().Format(time.RFC3339))
	}
	digest := sha256.Sum256(signedBytes)
	if len(sig) == 0 || !ecdsa.VerifyASN1(c.cert.PublicKey.(*ecdsa.PublicKey), digest[:], sig) {
		return nil, unauthenticated("proposal signature does not verify against the creator's certificate")
	}
	return c, nil
}
