package store

import (
	"context"
	"time"

	"github.com/greenmint/greenmint"
	"gorm.io/gorm"
)

// LedgerIdentity is a user's ledger identity as the keyring keeps it: the
// certificate its organisation's CA issued and its private key sealed
// under the key-encryption key KEKID names. The store never sees the
// plaintext key.
type LedgerIdentity struct {
	UserID      string
	MSPID       string
	Role        string
	Certificate []byte // PEM
	Serial      string // the certificate's serial number, decimal
	KEKID       string
	SealedKey   []byte
	EnrolledAt  time.Time
}

// RetiredLedgerIdentity is a certificate a re-enrolment replaced, kept for
// revocation by its organisation's CA.
type RetiredLedgerIdentity struct {
	MSPID     string
	Serial    string
	UserID    string
	RetiredAt time.Time
	RevokedAt time.Time // zero until revoked
}

type ledgerIdentityRow struct {
	UserID      string `gorm:"column:user_id;primaryKey"`
	MSPID       string `gorm:"column:msp_id"`
	Role        string `gorm:"column:role"`
	Certificate []byte `gorm:"column:certificate"`
	Serial      string `gorm:"column:serial"`
	KEKID       string `gorm:"column:kek_id"`
	SealedKey   []byte `gorm:"column:sealed_key"`
	EnrolledAt  int64  `gorm:"column:enrolled_at"`
}

func (ledgerIdentityRow) TableName() string { return "ledger_identities" }

type retiredIdentityRow struct {
	MSPID     string `gorm:"column:msp_id;primaryKey"`
	Serial    string `gorm:"column:serial;primaryKey"`
	UserID    string `gorm:"column:user_id"`
	RetiredAt int64  `gorm:"column:retired_at"`
	RevokedAt int64  `gorm:"column:revoked_at"`
}

func (retiredIdentityRow) TableName() string { return "retired_ledger_identities" }

func identityToRow(id LedgerIdentity) ledgerIdentityRow {
	return ledgerIdentityRow{UserID: id.UserID, MSPID: id.MSPID, Role: id.Role, Certificate: id.Certificate, Serial: id.Serial,
		KEKID: id.KEKID, SealedKey: id.SealedKey, EnrolledAt: id.EnrolledAt.Unix()}
}

func identityFromRow(r ledgerIdentityRow) LedgerIdentity {
	return LedgerIdentity{UserID: r.UserID, MSPID: r.MSPID, Role: r.Role, Certificate: r.Certificate, Serial: r.Serial,
		KEKID: r.KEKID, SealedKey: r.SealedKey, EnrolledAt: time.Unix(r.EnrolledAt, 0).UTC()}
}

func retiredFromRow(r retiredIdentityRow) RetiredLedgerIdentity {
	out := RetiredLedgerIdentity{MSPID: r.MSPID, Serial: r.Serial, UserID: r.UserID, RetiredAt: time.Unix(r.RetiredAt, 0).UTC()}
	if r.RevokedAt != 0 {
		out.RevokedAt = time.Unix(r.RevokedAt, 0).UTC()
	}
	return out
}

func checkIdentity(id LedgerIdentity) error {
	if id.UserID == "" || id.MSPID == "" || id.Role == "" || len(id.Certificate) == 0 || id.Serial == "" || id.KEKID == "" || len(id.SealedKey) == 0 {
		return greenmint.Errorf(greenmint.EINVALID, "a ledger identity needs a user ID, an MSP ID, a role, a certificate, its serial, a key-encryption key ID and a sealed key")
	}
	return nil
}

// SaveLedgerIdentity stores a user's first ledger identity. A user who has
// one already is ECONFLICT.
func (db *DB) SaveLedgerIdentity(ctx context.Context, id LedgerIdentity) error {
	if err := checkIdentity(id); err != nil {
		return err
	}
	row := identityToRow(id)
	return translate("store.SaveLedgerIdentity", db.gdb.WithContext(ctx).Create(&row).Error)
}

// ReplaceLedgerIdentity replaces the ledger identity of id.UserID whose
// certificate has serial oldSerial with id, and keeps the old certificate
// among the retired ones for revocation, in one transaction. A user
// without an identity is ENOTFOUND; one whose serial is no longer oldSerial
// (replaced meanwhile) ECONFLICT, and nothing changes.
func (db *DB) ReplaceLedgerIdentity(ctx context.Context, id LedgerIdentity, oldSerial string) error {
	const op = "store.ReplaceLedgerIdentity"
	if err := checkIdentity(id); err != nil {
		return err
	}
	return db.gdb.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var old []ledgerIdentityRow
		if err := tx.Where("user_id = ?", id.UserID).Limit(1).Find(&old).Error; err != nil {
			return translate(op, err)
		}
		if len(old) == 0 {
			return greenmint.Errorf(greenmint.ENOTFOUND, "user %q has no ledger identity", id.UserID)
		}
		if old[0].Serial != oldSerial {
			return greenmint.Errorf(greenmint.ECONFLICT, "the ledger identity of user %q was replaced meanwhile", id.UserID)
		}
		row := identityToRow(id)
		res := tx.Model(&ledgerIdentityRow{}).Where("user_id = ? AND serial = ?", id.UserID, oldSerial).Updates(map[string]any{
			"msp_id": row.MSPID, "role": row.Role, "certificate": row.Certificate, "serial": row.Serial,
			"kek_id": row.KEKID, "sealed_key": row.SealedKey, "enrolled_at": row.EnrolledAt,
		})
		if res.Error != nil {
			return translate(op, res.Error)
		}
		if res.RowsAffected != 1 {
			return greenmint.Errorf(greenmint.ECONFLICT, "the ledger identity of user %q was replaced meanwhile", id.UserID)
		}
		retired := retiredIdentityRow{MSPID: old[0].MSPID, Serial: old[0].Serial, UserID: id.UserID, RetiredAt: row.EnrolledAt}
		return translate(op, tx.Create(&retired).Error)
	})
}

// LedgerIdentity returns a user's ledger identity; a user without one is
// ENOTFOUND.
func (db *DB) LedgerIdentity(ctx context.Context, userID string) (LedgerIdentity, error) {
	var rows []ledgerIdentityRow
	if err := db.gdb.WithContext(ctx).Where("user_id = ?", userID).Limit(1).Find(&rows).Error; err != nil {
		return LedgerIdentity{}, translate("store.LedgerIdentity", err)
	}
	if len(rows) == 0 {
		return LedgerIdentity{}, greenmint.Errorf(greenmint.ENOTFOUND, "user %q has no ledger identity", userID)
	}
	return identityFromRow(rows[0]), nil
}

// LedgerIdentitiesNotUnder returns up to limit ledger identities sealed
// under a key-encryption key other than kekID whose user IDs sort after
// afterUserID, in user ID order: a rotation's next batch.
func (db *DB) LedgerIdentitiesNotUnder(ctx context.Context, kekID, afterUserID string, limit int) ([]LedgerIdentity, error) {
	if limit <= 0 {
		return nil, greenmint.Errorf(greenmint.EINVALID, "a batch holds at least one identity")
	}
	var rows []ledgerIdentityRow
	if err := db.gdb.WithContext(ctx).Where("kek_id <> ? AND user_id > ?", kekID, afterUserID).Order("user_id").Limit(limit).Find(&rows).Error; err != nil {
		return nil, translate("store.LedgerIdentitiesNotUnder", err)
	}
	out := make([]LedgerIdentity, len(rows))
	for i, r := range rows {
		out[i] = identityFromRow(r)
	}
	return out, nil
}

// LedgerIdentityUnder returns one ledger identity sealed under kekID, if
// there is one: a sample to check a key-encryption key against.
func (db *DB) LedgerIdentityUnder(ctx context.Context, kekID string) (LedgerIdentity, bool, error) {
	var rows []ledgerIdentityRow
	if err := db.gdb.WithContext(ctx).Where("kek_id = ?", kekID).Order("user_id").Limit(1).Find(&rows).Error; err != nil {
		return LedgerIdentity{}, false, translate("store.LedgerIdentityUnder", err)
	}
	if len(rows) == 0 {
		return LedgerIdentity{}, false, nil
	}
	return identityFromRow(rows[0]), true, nil
}

// CountLedgerIdentitiesByKEK returns how many ledger identities each
// key-encryption key seals.
func (db *DB) CountLedgerIdentitiesByKEK(ctx context.Context) (map[string]int64, error) {
	var rows []struct {
		KEKID string `gorm:"column:kek_id"`
		N     int64  `gorm:"column:n"`
	}
	if err := db.gdb.WithContext(ctx).Model(&ledgerIdentityRow{}).Select("kek_id, COUNT(*) AS n").Group("kek_id").Scan(&rows).Error; err != nil {
		return nil, translate("store.CountLedgerIdentitiesByKEK", err)
	}
	out := make(map[string]int64, len(rows))
	for _, r := range rows {
		out[r.KEKID] = r.N
	}
	return out, nil
}

// ResealLedgerIdentity replaces the sealed key of userID, if its
// certificate is still serial and its key still under oldKEKID, with sealed
// under newKEKID, and reports whether it did: false means the identity
// changed meanwhile (re-enrolled or re-sealed) and was left alone.
func (db *DB) ResealLedgerIdentity(ctx context.Context, userID, serial, oldKEKID, newKEKID string, sealed []byte) (bool, error) {
	if newKEKID == "" || len(sealed) == 0 {
		return false, greenmint.Errorf(greenmint.EINVALID, "re-sealing needs a key-encryption key ID and a sealed key")
	}
	res := db.gdb.WithContext(ctx).Model(&ledgerIdentityRow{}).Where("user_id = ? AND serial = ? AND kek_id = ?", userID, serial, oldKEKID).
		Updates(map[string]any{"kek_id": newKEKID, "sealed_key": sealed})
	if res.Error != nil {
		return false, translate("store.ResealLedgerIdentity", res.Error)
	}
	return res.RowsAffected == 1, nil
}

// RetiredLedgerIdentities returns the certificates re-enrolments replaced
// that are not revoked yet, oldest first.
func (db *DB) RetiredLedgerIdentities(ctx context.Context) ([]RetiredLedgerIdentity, error) {
	var rows []retiredIdentityRow
	if err := db.gdb.WithContext(ctx).Where("revoked_at = 0").Order("retired_at, msp_id, serial").Find(&rows).Error; err != nil {
		return nil, translate("store.RetiredLedgerIdentities", err)
	}
	out := make([]RetiredLedgerIdentity, len(rows))
	for i, r := range rows {
		out[i] = retiredFromRow(r)
	}
	return out, nil
}

// MarkLedgerIdentityRevoked records that the organisation's CA revoked the
// retired certificate serial of mspID. An unknown one is ENOTFOUND;
// marking it twice changes nothing.
func (db *DB) MarkLedgerIdentityRevoked(ctx context.Context, mspID, serial string, now time.Time) error {
	const op = "store.MarkLedgerIdentityRevoked"
	res := db.gdb.WithContext(ctx).Model(&retiredIdentityRow{}).Where("msp_id = ? AND serial = ? AND revoked_at = 0", mspID, serial).Update("revoked_at", max(now.Unix(), 1))
	if res.Error != nil {
		return translate(op, res.Error)
	}
	if res.RowsAffected == 0 {
		var n int64
		if err := db.gdb.WithContext(ctx).Model(&retiredIdentityRow{}).Where("msp_id = ? AND serial = ?", mspID, serial).Count(&n).Error; err != nil {
			return translate(op, err)
		}
		if n == 0 {
			return greenmint.Errorf(greenmint.ENOTFOUND, "no retired certificate %s of %s", serial, mspID)
		}
	}
	return nil
}
