package workspace

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/auth"
	"github.com/greenmint/greenmint/consortium"
)

// SeedLogin is a user that SeedUsers makes on a first start, as kept in
// the logins file (0600): its login, organisation, role, admin flag and
// password.
type SeedLogin struct {
	Login    string         `json:"login"`
	Org      string         `json:"org"`
	Role     greenmint.Role `json:"role"`
	Admin    bool           `json:"admin"`
	Password string         `json:"password"`
}

// SeedPlan is the users a first start makes for consortium file f, with
// fresh random passwords: an admin of the registry's organisation, of the
// first miner, buyer and auditor organisations, and a user (not an admin)
// of the first oracle organisation, each with that role. Roles no
// organisation of f holds are left out.
func SeedPlan(f consortium.File) ([]SeedLogin, error) {
	var out []SeedLogin
	for _, want := range []struct {
		role  greenmint.Role
		login string
		admin bool
	}{
		{greenmint.RoleRegistry, "registrar", true},
		{greenmint.RoleMiner, "miner", true},
		{greenmint.RoleBuyer, "buyer", true},
		{greenmint.RoleAuditor, "auditor", true},
		{greenmint.RoleOracle, "oracle", false},
	} {
		org := ""
		if want.role == greenmint.RoleRegistry {
			org = f.RegistryMSP()
		} else {
			for _, o := range f.Organizations {
				if o.MSPID != f.RegistryMSP() && hasRole(o.Roles, want.role) {
					org = o.MSPID
					break
				}
			}
		}
		if org == "" {
			continue
		}
		pw, err := newPassword()
		if err != nil {
			return nil, err
		}
		out = append(out, SeedLogin{Login: want.login, Org: org, Role: want.role, Admin: want.admin, Password: pw})
	}
	return out, nil
}

func hasRole(roles []greenmint.Role, r greenmint.Role) bool {
	for _, x := range roles {
		if x == r {
			return true
		}
	}
	return false
}

// newPassword is 144 random bits in base64url: 24 characters.
func newPassword() (string, error) {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("workspace: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Seeded is what SeedUsers did.
type Seeded struct {
	Logins  []SeedLogin // every seeded login, with its password
	Created []string    // the logins made now (none on a later start)
}

// SeedUsers makes sure the users of the logins file at path exist, each
// with its ledger identity: on a first start (no file) it plans them
// (SeedPlan for the workspace's consortium file) and writes the file,
// 0600, before making any user, so that a start interrupted midway makes
// the same users with the same passwords the next time. Users that exist
// already are left as they are (their passwords may have been changed
// since), so a second start creates nothing.
func (s *Services) SeedUsers(ctx context.Context, w *Workspace, path string) (*Seeded, error) {
	const op = "workspace.SeedUsers"
	logins, err := ReadLogins(path)
	if greenmint.ErrorCode(err) == greenmint.ENOTFOUND {
		if logins, err = SeedPlan(w.File()); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		if err = writeLogins(path, logins); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	out := &Seeded{Logins: logins}
	for _, l := range logins {
		u, err := s.DB.UserByLogin(ctx, l.Login)
		id := u.ID
		switch greenmint.ErrorCode(err) {
		case greenmint.ENOTFOUND:
			nu, err := s.Auth.CreateUser(ctx, auth.NewUser{Login: l.Login, Org: l.Org, Role: l.Role, Admin: l.Admin, Password: l.Password})
			if err != nil {
				return nil, fmt.Errorf("%s: %w", op, err)
			}
			id = nu.ID
			out.Created = append(out.Created, l.Login)
		case "":
		default:
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		if _, err := s.Keyring.Info(ctx, id); greenmint.ErrorCode(err) == greenmint.ENOTFOUND {
			if _, err := s.Keyring.Enroll(ctx, id, l.Org, l.Role); err != nil {
				return nil, fmt.Errorf("%s: ledger identity of %s: %w", op, l.Login, err)
			}
		} else if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
	}
	return out, nil
}

// ReadLogins reads a logins file; ENOTFOUND if there is none.
func ReadLogins(path string) ([]SeedLogin, error) {
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, greenmint.Errorf(greenmint.ENOTFOUND, "no logins file %s", path)
	}
	if err != nil {
		return nil, greenmint.E(greenmint.EUNAVAILABLE, "", err, "logins file %s", path)
	}
	var logins []SeedLogin
	if err := json.Unmarshal(raw, &logins); err != nil {
		return nil, greenmint.E(greenmint.EINVALID, "", err, "logins file %s", path)
	}
	return logins, nil
}

func writeLogins(path string, logins []SeedLogin) error {
	raw, err := json.MarshalIndent(logins, "", "  ")
	if err != nil {
		return err
	}
	return WriteSecretFile(path, append(raw, '\n'))
}

// WriteSecretFile writes data to path readable by its owner only (0600),
// through a temporary file renamed into place, so that a crash leaves the
// old file or the new one, never half of one.
func WriteSecretFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
