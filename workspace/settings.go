package workspace

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/greenmint/greenmint"
)

// Settings are an oracle's settings, kept in oracle.json (0600) in the
// workspace: the secret its bearer tokens are signed with, their issuer and
// audience.
type Settings struct {
	TokenSecret string `json:"token_secret"` // hex; the HS256 secret of the tokens this oracle issues
	Issuer      string `json:"issuer"`
	Audience    string `json:"audience"`
}

const settingsFile = "oracle.json"

// Secret returns the token secret; EINVALID if it is not at least 32 bytes
// of hex.
func (s *Settings) Secret() ([]byte, error) {
	secret, err := hex.DecodeString(s.TokenSecret)
	if err != nil || len(secret) < 32 {
		return nil, greenmint.Errorf(greenmint.EINVALID, "%s: token_secret must be at least 32 bytes of hex", settingsFile)
	}
	return secret, nil
}

// Settings reads the oracle's settings; ENOTFOUND if the workspace has
// none (greenmint init makes them).
func (c Config) Settings() (*Settings, error) {
	raw, err := os.ReadFile(filepath.Join(c.Dir, settingsFile))
	if err != nil {
		return nil, greenmint.Errorf(greenmint.ENOTFOUND, "no workspace in %s (run greenmint init --dir %s)", c.Dir, c.Dir)
	}
	var s Settings
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, &greenmint.Error{Code: greenmint.EINVALID, Message: filepath.Join(c.Dir, settingsFile), Err: err}
	}
	return &s, nil
}

// InitOracle makes an oracle's part of the workspace in c.Dir (created
// 0700 if need be): its settings with a fresh token secret, and its
// database migrated to the latest schema, whose version it returns.
func (c Config) InitOracle(ctx context.Context) (int64, error) {
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return 0, fmt.Errorf("workspace.InitOracle: %w", err)
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return 0, fmt.Errorf("workspace.InitOracle: %w", err)
	}
	s := Settings{TokenSecret: hex.EncodeToString(secret), Issuer: "greenmint-oracle", Audience: "greenmint-oracle"}
	raw, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return 0, fmt.Errorf("workspace.InitOracle: %w", err)
	}
	if err := os.WriteFile(filepath.Join(c.Dir, settingsFile), raw, 0o600); err != nil {
		return 0, fmt.Errorf("workspace.InitOracle: %w", err)
	}
	db, err := c.OpenStore(ctx)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	return db.Migrate(ctx)
}
