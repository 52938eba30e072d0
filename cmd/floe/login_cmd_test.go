package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestLoginWhoAmILogout(t *testing.T) {
	fake := newFakeServer()
	url := fake.start(t)
	env := clientEnv(t, "FLOE_SERVER="+url)

	code, _, stderr := runCLIStdin(t, env, "wrong\n", "login", "--user", "alice")
	if code != 1 || !strings.Contains(stderr, "wrong user or password") {
		t.Fatalf("bad password: code %d, stderr %q", code, stderr)
	}
	code, _, stderr = runCLIStdin(t, env, "", "login")
	if code != 1 || !strings.Contains(stderr, "no user: pass --user or set FLOE_USER") {
		t.Fatalf("no user: code %d, stderr %q", code, stderr)
	}

	// The password is the first line of stdin when it is not a terminal.
	code, out, stderr := runCLIStdin(t, env, "secret\r\n", "login", "--user", "alice")
	if code != 0 || !strings.HasPrefix(out, "Logged in to "+url+" as alice (role dba)") {
		t.Fatalf("login: code %d, stdout %q, stderr %q", code, out, stderr)
	}
	path, _ := credentialsPath(env)
	tok, ok, err := credentialStore{path: path}.get(url)
	if err != nil || !ok || tok.AccessToken != "access-1" || tok.RefreshToken != "refresh-1" || tok.ExpiresAt.Before(time.Now()) {
		t.Fatalf("stored %+v, %v, %v", tok, ok, err)
	}

	code, out, stderr = runCLIStdin(t, env, "", "whoami")
	if code != 0 || !strings.Contains(out, "user:    alice\nrole:    dba\nserver:  "+url+"\n") {
		t.Fatalf("whoami: code %d, stdout %q, stderr %q", code, out, stderr)
	}

	code, out, _ = runCLIStdin(t, env, "", "logout")
	if code != 0 || out != "Logged out of "+url+"\n" {
		t.Fatalf("logout: code %d, stdout %q", code, out)
	}
	code, out, _ = runCLIStdin(t, env, "", "logout")
	if code != 0 || out != "Not logged in to "+url+"\n" {
		t.Fatalf("second logout: code %d, stdout %q", code, out)
	}
	code, _, stderr = runCLIStdin(t, env, "", "whoami")
	if code != 1 || !strings.Contains(stderr, "not logged in to "+url) {
		t.Fatalf("whoami after logout: code %d, stderr %q", code, stderr)
	}
}

func TestReadLine(t *testing.T) {
	r := strings.NewReader("pw\r\nSELECT 1;\nlast")
	for _, want := range []string{"pw", "SELECT 1;", "last", ""} {
		got, err := readLine(r)
		if err != nil || got != want {
			t.Fatalf("readLine = %q, %v; want %q", got, err, want)
		}
	}
}

func TestProgressSilentWithoutTerminal(t *testing.T) {
	stop := progress{}.start()
	stop()
	stop() // idempotent

	var buf lockedBuffer
	stop = progress{w: &buf, delay: time.Millisecond, interval: time.Millisecond}.start()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(buf.String(), "running…") && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	stop()
	got := buf.String()
	if !strings.Contains(got, "running…") || !strings.HasSuffix(got, "\r\033[K") {
		t.Fatalf("spinner output %q: want frames and a cleared line", got)
	}
	n := len(got)
	time.Sleep(10 * time.Millisecond)
	if len(buf.String()) != n {
		t.Fatal("spinner wrote after stop")
	}

	var quick bytes.Buffer
	progress{w: &quick}.start()() // stopped before the 500 ms delay
	if quick.Len() != 0 {
		t.Fatalf("a quick call drew %q", quick.String())
	}
}
