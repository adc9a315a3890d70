package identity

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"slices"

	"github.com/greenmint/greenmint"
)

// userRoles are the roles a user identity may carry.
var userRoles = []greenmint.Role{greenmint.RoleRegistry, greenmint.RoleMiner, greenmint.RoleOracle, greenmint.RoleAuditor, greenmint.RoleBuyer}

// IssueCertificate is the organisation's CA as the keyring calls it
// (keyring.CA): it certifies the public key of a PKCS#10 request (DER),
// whose signature proves the caller holds the private key, as a client
// identity named name (the certificate's CN and hf.EnrollmentID, as for
// Enroll) of the organisation mspID with role, and returns the certificate
// in PEM. The private key never reaches the CA and nothing is written to
// the MSP folders: the caller keeps the key. The request's subject is
// ignored. A request that does not parse, is not self-signed or holds a
// key other than ECDSA P-256, an unknown role or a bad name is EINVALID;
// an unknown organisation ENOTFOUND.
func (s *Store) IssueCertificate(ctx context.Context, mspID, name string, role greenmint.Role, csrDER []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, greenmint.E(greenmint.EUNAVAILABLE, "identity.IssueCertificate", err, "")
	}
	if !slices.Contains(userRoles, role) {
		return nil, greenmint.Errorf(greenmint.EINVALID, "role %q is not one of %v", role, userRoles)
	}
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		return nil, greenmint.E(greenmint.EINVALID, "identity.IssueCertificate", err, "the certificate request does not parse")
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, greenmint.E(greenmint.EINVALID, "identity.IssueCertificate", err, "the certificate request is not signed by its key")
	}
	pub, ok := csr.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, greenmint.Errorf(greenmint.EINVALID, "the certificate request's key is not ECDSA P-256")
	}
	ca, err := s.CA(mspID)
	if err != nil {
		return nil, err
	}
	if !namePattern.MatchString(name) {
		return nil, greenmint.Errorf(greenmint.EINVALID, "name %q must be 1-64 letters, digits, '.', '_' or '-'", name)
	}
	cert, err := ca.issue(name, role, OUClient, pub, s.Now(), nil)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), nil
}

// RevokeCertificate is the organisation's CA revoking a certificate it
// issued, by serial number (keyring.CA): the serial joins the
// organisation's revocation list as Revoke adds it, and the embedded ledger
// refuses the certificate's proposals once it reloads the list. A serial
// revoked already is ECONFLICT; an unknown organisation ENOTFOUND.
func (s *Store) RevokeCertificate(ctx context.Context, mspID string, serial *big.Int) error {
	if err := ctx.Err(); err != nil {
		return greenmint.E(greenmint.EUNAVAILABLE, "identity.RevokeCertificate", err, "")
	}
	if serial == nil || serial.Sign() <= 0 {
		return greenmint.Errorf(greenmint.EINVALID, "a certificate serial number is positive")
	}
	if _, err := s.revoke(mspID, serial, fmt.Sprintf("certificate %s of %s", serial, mspID)); err != nil {
		return err
	}
	return nil
}
