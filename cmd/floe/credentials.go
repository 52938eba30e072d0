package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// credentialStore keeps the tokens that `floe login` obtained, one entry
// per server URL, in a JSON file (credentials.json in the floe config
// directory). The file is mode 0600 in a directory created 0700, and every
// write replaces it atomically (temporary file, fsync, rename), so a reader
// never sees a torn file. Two processes writing at once do not corrupt it,
// but the last writer wins: a token refreshed by one may be dropped by the
// other, which then only costs a new refresh or login.
type credentialStore struct {
	path string
}

// credentialsFile is the JSON layout of the credentials file.
type credentialsFile struct {
	// Servers maps a normalized server URL (see normalizeServer) to its
	// tokens.
	Servers map[string]storedToken `json:"servers"`
}

// storedToken is what the client keeps about one login.
type storedToken struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	// ExpiresAt is when AccessToken expires; zero means unknown (never
	// treated as expired: the server's Unauthenticated answer decides).
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	User      string    `json:"user,omitempty"`
	Role      string    `json:"role,omitempty"`
}

// expired reports whether the access token expires before now+skew.
func (t storedToken) expired(now time.Time, skew time.Duration) bool {
	return !t.ExpiresAt.IsZero() && !now.Add(skew).Before(t.ExpiresAt)
}

// lookupEnviron returns the value of key in environ (the last one wins, as
// with os.Getenv) and whether it is set.
func lookupEnviron(environ []string, key string) (string, bool) {
	val, ok := "", false
	for _, kv := range environ {
		if v, found := strings.CutPrefix(kv, key+"="); found {
			val, ok = v, true
		}
	}
	return val, ok
}

// xdgDir returns $<xdgVar>/floe, or $HOME/<fallback>/floe when the
// variable is unset or not absolute (as the XDG spec asks).
func xdgDir(environ []string, xdgVar, fallback string) (string, error) {
	if dir, ok := lookupEnviron(environ, xdgVar); ok && filepath.IsAbs(dir) {
		return filepath.Join(dir, "floe"), nil
	}
	home, ok := lookupEnviron(environ, "HOME")
	if !ok || home == "" {
		return "", fmt.Errorf("neither %s nor HOME is set", xdgVar)
	}
	return filepath.Join(home, fallback, "floe"), nil
}

// credentialsPath returns $XDG_CONFIG_HOME/floe/credentials.json (default
// ~/.config/floe/credentials.json).
func credentialsPath(environ []string) (string, error) {
	dir, err := xdgDir(environ, "XDG_CONFIG_HOME", ".config")
	if err != nil {
		return "", fmt.Errorf("locate credentials file: %w", err)
	}
	return filepath.Join(dir, "credentials.json"), nil
}

// historyPath returns $XDG_STATE_HOME/floe/history (default
// ~/.local/state/floe/history).
func historyPath(environ []string) (string, error) {
	dir, err := xdgDir(environ, "XDG_STATE_HOME", filepath.Join(".local", "state"))
	if err != nil {
		return "", fmt.Errorf("locate history file: %w", err)
	}
	return filepath.Join(dir, "history"), nil
}

// normalizeServer checks that server is an http or https URL with a host
// and returns it in the form used as the credentials key: lower-case
// scheme and host, no trailing slash, no query or fragment.
func normalizeServer(server string) (string, error) {
	const want = "want a URL such as http://127.0.0.1:7878 or https://floe.example.com"
	u, err := url.Parse(strings.TrimSpace(server))
	if err != nil {
		return "", fmt.Errorf("server %q: %s: %w", server, want, err)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("server %q: %s", server, want)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("server %q: a server URL has no user, query or fragment", server)
	}
	u.Host = strings.ToLower(u.Host)
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u.String(), nil
}

// load reads the file; a missing file is an empty one.
func (s credentialStore) load() (credentialsFile, error) {
	f := credentialsFile{Servers: map[string]storedToken{}}
	raw, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return f, fmt.Errorf("read credentials: %w", err)
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return f, fmt.Errorf("read credentials %s: %w (remove the file and log in again)", s.path, err)
	}
	if f.Servers == nil {
		f.Servers = map[string]storedToken{}
	}
	return f, nil
}

// get returns the tokens stored for server (a normalized URL).
func (s credentialStore) get(server string) (storedToken, bool, error) {
	f, err := s.load()
	if err != nil {
		return storedToken{}, false, err
	}
	tok, ok := f.Servers[server]
	return tok, ok, nil
}

// put stores tok for server, keeping the other servers' entries.
func (s credentialStore) put(server string, tok storedToken) error {
	f, err := s.load()
	if err != nil {
		return err
	}
	f.Servers[server] = tok
	return s.write(f)
}

// remove drops server's entry and reports whether there was one; the file
// is deleted when no entry is left.
func (s credentialStore) remove(server string) (bool, error) {
	f, err := s.load()
	if err != nil {
		return false, err
	}
	if _, ok := f.Servers[server]; !ok {
		return false, nil
	}
	delete(f.Servers, server)
	if len(f.Servers) == 0 {
		if err := os.Remove(s.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return false, fmt.Errorf("remove credentials: %w", err)
		}
		return true, nil
	}
	return true, s.write(f)
}

// write replaces the file atomically with f.
func (s credentialStore) write(f credentialsFile) error {
	raw, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encode credentials: %w", err)
	}
	raw = append(raw, '\n')
	dir := filepath.Dir(s.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create credentials directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".credentials-*.json")
	if err != nil {
		return fmt.Errorf("write credentials: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write credentials: %w", err)
	}
	if _, err := tmp.Write(raw); err != nil {
		tmp.Close()
		return fmt.Errorf("write credentials: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write credentials: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write credentials: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return fmt.Errorf("write credentials: %w", err)
	}
	// Make the rename durable; a failure here leaves a valid file either
	// way, so it is not reported.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
