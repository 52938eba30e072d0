package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCredentialStoreRoundTripAndPermissions(t *testing.T) {
	dir := t.TempDir()
	env := []string{"HOME=/nonexistent", "XDG_CONFIG_HOME=" + dir}
	path, err := credentialsPath(env)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "floe", "credentials.json"); path != want {
		t.Fatalf("path %s, want %s", path, want)
	}
	store := credentialStore{path: path}
	if _, ok, err := store.get("http://a:1"); ok || err != nil {
		t.Fatalf("empty store: ok=%v err=%v", ok, err)
	}

	exp := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	a := storedToken{AccessToken: "acc-a", RefreshToken: "ref-a", ExpiresAt: exp, User: "alice", Role: "dba"}
	b := storedToken{AccessToken: "acc-b"}
	if err := store.put("http://a:1", a); err != nil {
		t.Fatal(err)
	}
	if err := store.put("https://b", b); err != nil {
		t.Fatal(err)
	}
	for server, want := range map[string]storedToken{"http://a:1": a, "https://b": b} {
		got, ok, err := store.get(server)
		if err != nil || !ok || !got.ExpiresAt.Equal(want.ExpiresAt) {
			t.Fatalf("get %s = %+v, %v, %v; want %+v", server, got, ok, err, want)
		}
		got.ExpiresAt = want.ExpiresAt
		if got != want {
			t.Fatalf("get %s = %+v, want %+v", server, got, want)
		}
	}

	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s mode %v, want %v", p, st.Mode().Perm(), want)
		}
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil || len(entries) != 1 {
		t.Fatalf("directory holds %v (%v), want only credentials.json", entries, err)
	}

	if removed, err := store.remove("http://a:1"); !removed || err != nil {
		t.Fatalf("remove a: %v %v", removed, err)
	}
	if removed, err := store.remove("http://a:1"); removed || err != nil {
		t.Fatalf("remove a twice: %v %v", removed, err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("file gone while b is still stored: %v", err)
	}
	if removed, err := store.remove("https://b"); !removed || err != nil {
		t.Fatalf("remove b: %v %v", removed, err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("file still there after the last logout: %v", err)
	}

	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.get("http://a:1"); err == nil || !strings.Contains(err.Error(), "remove the file") {
		t.Fatalf("corrupt file: err = %v", err)
	}
}

func TestConfigPaths(t *testing.T) {
	cases := []struct {
		name      string
		env       []string
		wantCreds string
		wantHist  string
		wantErr   bool
	}{
		{"xdg", []string{"HOME=/h", "XDG_CONFIG_HOME=/c", "XDG_STATE_HOME=/s"}, "/c/floe/credentials.json", "/s/floe/history", false},
		{"home fallback", []string{"HOME=/h"}, "/h/.config/floe/credentials.json", "/h/.local/state/floe/history", false},
		{"relative xdg is ignored", []string{"HOME=/h", "XDG_CONFIG_HOME=rel", "XDG_STATE_HOME=rel"}, "/h/.config/floe/credentials.json", "/h/.local/state/floe/history", false},
		{"last value wins", []string{"HOME=/old", "HOME=/h"}, "/h/.config/floe/credentials.json", "/h/.local/state/floe/history", false},
		{"nothing set", nil, "", "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			creds, err1 := credentialsPath(tc.env)
			hist, err2 := historyPath(tc.env)
			if tc.wantErr {
				if err1 == nil || err2 == nil {
					t.Fatalf("want errors, got %q %q", creds, hist)
				}
				return
			}
			if err1 != nil || err2 != nil || creds != tc.wantCreds || hist != tc.wantHist {
				t.Fatalf("got %q %q (%v %v), want %q %q", creds, hist, err1, err2, tc.wantCreds, tc.wantHist)
			}
		})
	}
}

func TestNormalizeServer(t *testing.T) {
	cases := []struct{ in, want, wantErr string }{
		{in: "http://127.0.0.1:7878", want: "http://127.0.0.1:7878"},
		{in: "HTTPS://Floe.Example.com/", want: "https://floe.example.com"},
		{in: " http://h:1/base/ ", want: "http://h:1/base"},
		{in: "127.0.0.1:7878", wantErr: "want a URL"},
		{in: "ftp://h", wantErr: "want a URL"},
		{in: "http://u:p@h", wantErr: "no user"},
		{in: "http://h?x=1", wantErr: "no user, query"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := normalizeServer(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %q, %v; want error %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestStoredTokenExpired(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name    string
		expires time.Time
		want    bool
	}{
		{"unknown expiry", time.Time{}, false},
		{"far future", now.Add(time.Hour), false},
		{"within skew", now.Add(10 * time.Second), true},
		{"past", now.Add(-time.Second), true},
	}
	for _, tc := range cases {
		if got := (storedToken{ExpiresAt: tc.expires}).expired(now, expirySkew); got != tc.want {
			t.Errorf("%s: expired = %v, want %v", tc.name, got, tc.want)
		}
	}
}
