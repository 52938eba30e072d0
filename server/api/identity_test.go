package api_test

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/floedb/floe/lakehouse/config"
	floev1 "github.com/floedb/floe/proto/floe/v1"
	"github.com/floedb/floe/proto/floe/v1/floev1connect"
)

// TestRecreatedUserSeesNoOldRows: DROP USER dave; CREATE USER dave gives
// a new user with a new id: the new dave sees none of the old dave's
// rows, the old dave's token does not work for the new one, and a dba
// can still reach the dropped user's rows by its id.
func TestRecreatedUserSeesNoOldRows(t *testing.T) {
	s := startServer(t, nil)
	root := s.login("root", rootPassword)
	root.exec(t, `CREATE USER dave WITH PASSWORD 'dave-password-1';
		CREATE USER dora WITH PASSWORD 'dora-password-1' ROLE dba;
		CREATE USER TABLE notes (id BIGINT PRIMARY KEY, body TEXT)`)
	old := s.login("dave", "dave-password-1")
	old.exec(t, "INSERT INTO notes VALUES (1, 'old dave''s secret')")
	if got := rowsText(old.exec(t, "SELECT body FROM notes")); strings.Join(got, ",") != "old dave's secret" {
		t.Fatalf("old dave's notes: %q", got)
	}
	oldID := rowsText(root.exec(t, "SELECT user_id FROM system.users WHERE user_name = 'dave'"))
	if len(oldID) != 1 || !strings.HasPrefix(oldID[0], "~") {
		t.Fatalf("dave's id: %q, want one id starting with ~", oldID)
	}

	root.exec(t, "DROP USER dave; CREATE USER dave WITH PASSWORD 'dave-password-2'")
	if _, err := old.try("SELECT body FROM notes"); err == nil {
		t.Fatal("the dropped dave's token still works")
	} else if code, _ := floeCode(t, err); code != connect.CodeUnauthenticated {
		t.Fatalf("the dropped dave's token: %v", err)
	}
	dave := s.login("dave", "dave-password-2")
	if got := rowsText(dave.exec(t, "SELECT body FROM notes")); len(got) != 0 {
		t.Fatalf("the new dave reads the old dave's notes: %q", got)
	}
	res := dave.exec(t, "INSERT INTO notes VALUES (1, 'new dave')")
	if as := res.GetResults()[0].GetAsUser(); as != "dave" {
		t.Fatalf("as_user = %q, want the name dave", as)
	}
	ids := rowsText(root.exec(t, "SELECT user_id, deleted_at IS NULL FROM system.users WHERE user_name = 'dave' ORDER BY created_at"))
	if len(ids) != 2 || ids[0] != oldID[0]+"|false" || ids[1] == oldID[0]+"|true" || !strings.HasSuffix(ids[1], "|true") {
		t.Fatalf("system.users for dave: %q (old id %s)", ids, oldID[0])
	}

	// Recovery: a dba reaches the dropped user's rows by id; a name never
	// names a dropped user, and a service cannot act by id.
	dora := s.login("dora", "dora-password-1")
	got := rowsText(dora.exec(t, "EXECUTE AS USER ID '"+oldID[0]+"' (SELECT body FROM notes)"))
	if strings.Join(got, ",") != "old dave's secret" {
		t.Fatalf("dba recovery of the dropped dave's notes: %q", got)
	}
	if got := rowsText(dora.exec(t, "EXECUTE AS USER dave (SELECT body FROM notes)")); strings.Join(got, ",") != "new dave" {
		t.Fatalf("EXECUTE AS USER dave reads %q, want the new dave's notes", got)
	}
	root.exec(t, "CREATE USER svc WITH PASSWORD 'svc-password-1' ROLE service")
	svc := s.login("svc", "svc-password-1")
	if _, err := svc.try("EXECUTE AS USER ID '" + oldID[0] + "' (SELECT body FROM notes)"); err == nil {
		t.Fatal("a service acted as a dropped user by id")
	} else if code, fc := floeCode(t, err); code != connect.CodePermissionDenied || fc != "PERMISSION_DENIED" {
		t.Fatalf("service EXECUTE AS USER ID: %v", err)
	}
	// A login name is never an id.
	c := s.clients("")
	if _, err := c.auth.Login(t.Context(), connect.NewRequest(&floev1.LoginRequest{User: oldID[0], Password: "dave-password-1"})); err == nil {
		t.Fatal("login by id succeeded")
	}
}

// clientsFrom returns clients whose connections come from the loopback
// address local (127.0.0.0/8 is all loopback on Linux).
func (s *server) clientsFrom(local string) *clients {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	hc := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	return &clients{auth: floev1connect.NewAuthServiceClient(hc, s.url), query: floev1connect.NewQueryServiceClient(hc, s.url)}
}

// TestFailedLoginsDoNotLockTheOwnerOut: a stranger's failed logins for
// root (auth.max_failed_logins of them) slow down only the stranger's
// address — RESOURCE_EXHAUSTED/RATE_LIMITED saying when to retry, even
// with the right password — while root logs in from its own address.
//
// The first wait is raised to a minute so that the stranger is still
// waiting after its failed logins, however slowly a loaded machine runs
// their bcrypt checks.
func TestFailedLoginsDoNotLockTheOwnerOut(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.Auth.LoginBackoff = config.Duration{Duration: time.Minute} })
	ctx := t.Context()
	stranger, owner := s.clientsFrom("127.0.0.2"), s.clientsFrom("127.0.0.1")
	login := func(c *clients, pw string) error {
		_, err := c.auth.Login(ctx, connect.NewRequest(&floev1.LoginRequest{User: "root", Password: pw}))
		return err
	}
	for i := range config.Default().Auth.MaxFailedLogins {
		if code, fc := floeCode(t, login(stranger, "not-the-password")); code != connect.CodeUnauthenticated || fc != "UNAUTHENTICATED" {
			t.Fatalf("failed login %d: %s %s", i+1, code, fc)
		}
	}
	err := login(stranger, rootPassword)
	if code, fc := floeCode(t, err); code != connect.CodeResourceExhausted || fc != "RATE_LIMITED" || !strings.Contains(err.Error(), "try again after") {
		t.Fatalf("the stranger's next attempt: %v", err)
	}
	if err := login(owner, rootPassword); err != nil {
		t.Fatalf("root from its own address after a stranger's failures: %v", err)
	}
}
