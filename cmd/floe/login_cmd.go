package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// newLoginCmd builds `floe login`: log in with a password and store the
// tokens for the server.
func newLoginCmd(c *cli) *cobra.Command {
	var f connFlags
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Log in to a Floe server and store the tokens",
		Long: `Log in to a Floe server with a user and password and store the access
and refresh tokens for that server in $XDG_CONFIG_HOME/floe/credentials.json
(default ~/.config/floe/credentials.json, mode 0600). Later commands use
them and refresh the access token when it expires.

The password comes from --password, FLOE_PASSWORD, a prompt without echo
when standard input is a terminal, or else the first line of standard
input.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if err := f.resolve(cmd.Flags(), c.environ); err != nil {
				return err
			}
			path, err := credentialsPath(c.environ)
			if err != nil {
				return err
			}
			if f.user == "" {
				if f.user, err = promptUser(cmd.InOrStdin(), c.stderr); err != nil {
					return err
				}
			}
			password, err := passwordFor(&f, cmd.InOrStdin(), c.stderr)
			if err != nil {
				return err
			}
			auth, query := f.clients()
			s := &session{server: f.server, auth: auth, query: query, timeout: f.timeout}
			tok, err := s.login(ctx, f.user, password)
			if err != nil {
				return err
			}
			store := credentialStore{path: path}
			if err := store.put(f.server, tok); err != nil {
				return err
			}
			msg := fmt.Sprintf("Logged in to %s as %s (role %s)", f.server, tok.User, tok.Role)
			if !tok.ExpiresAt.IsZero() {
				msg += "; the access token expires at " + tok.ExpiresAt.Local().Format(time.DateTime)
			}
			_, err = fmt.Fprintln(c.stdout, msg)
			return err
		},
	}
	f.register(cmd.Flags(), withAuth)
	return cmd
}

// newLogoutCmd builds `floe logout`: forget the stored tokens of a server.
func newLogoutCmd(c *cli) *cobra.Command {
	var f connFlags
	cmd := &cobra.Command{
		Use:   "logout",
		Short: "Remove the stored tokens for a Floe server",
		Long: `Remove the tokens stored by ` + "`floe login`" + ` for --server. The
credentials file is deleted when no server is left in it. The tokens stay
valid on the server until they expire.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.resolve(cmd.Flags(), c.environ); err != nil {
				return err
			}
			path, err := credentialsPath(c.environ)
			if err != nil {
				return err
			}
			removed, err := credentialStore{path: path}.remove(f.server)
			if err != nil {
				return err
			}
			if !removed {
				_, err = fmt.Fprintf(c.stdout, "Not logged in to %s\n", f.server)
				return err
			}
			_, err = fmt.Fprintf(c.stdout, "Logged out of %s\n", f.server)
			return err
		},
	}
	f.register(cmd.Flags(), 0)
	return cmd
}

// newWhoAmICmd builds `floe whoami`: print the caller as the server sees
// it.
func newWhoAmICmd(c *cli) *cobra.Command {
	var f connFlags
	cmd := &cobra.Command{
		Use:   "whoami",
		Short: "Print the user and role the server sees",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if err := f.resolve(cmd.Flags(), c.environ); err != nil {
				return err
			}
			s, err := openSession(ctx, &f, c.environ, cmd.InOrStdin(), c.stderr)
			if err != nil {
				return err
			}
			who, err := s.whoAmI(ctx)
			if err != nil {
				return err
			}
			var b strings.Builder
			fmt.Fprintf(&b, "user:    %s\nrole:    %s\nserver:  %s\n", who.GetUser(), who.GetRole(), f.server)
			if who.GetExpiresAt() != nil {
				fmt.Fprintf(&b, "expires: %s\n", who.GetExpiresAt().AsTime().Local().Format(time.DateTime))
			}
			_, err = io.WriteString(c.stdout, b.String())
			return err
		},
	}
	f.register(cmd.Flags(), withAuth)
	return cmd
}

// passwordFor returns f.password, or asks for it: without echo on a
// terminal, else as the first line of stdin.
func passwordFor(f *connFlags, stdin io.Reader, prompt io.Writer) (string, error) {
	if f.password != "" {
		return f.password, nil
	}
	if fd, ok := terminalFd(stdin); ok {
		fmt.Fprintf(prompt, "Password for %s: ", f.user)
		pw, err := term.ReadPassword(fd)
		fmt.Fprintln(prompt)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		return string(pw), nil
	}
	pw, err := readLine(stdin)
	if err != nil {
		return "", fmt.Errorf("read password from standard input: %w", err)
	}
	if pw == "" {
		return "", errors.New("no password: pass --password, set FLOE_PASSWORD or write it on standard input")
	}
	return pw, nil
}

// promptUser asks for a user name on a terminal.
func promptUser(stdin io.Reader, prompt io.Writer) (string, error) {
	if _, ok := terminalFd(stdin); !ok {
		return "", errors.New("no user: pass --user or set FLOE_USER")
	}
	fmt.Fprint(prompt, "User: ")
	user, err := readLine(stdin)
	if err != nil {
		return "", fmt.Errorf("read user: %w", err)
	}
	if user == "" {
		return "", errors.New("no user given")
	}
	return user, nil
}

// readLine reads up to and without the next newline (and a '\r' before
// it). It reads one byte at a time so that the rest of r is left for a
// later reader (a script after the password, for instance). A last line
// without a newline is returned with a nil error.
func readLine(r io.Reader) (string, error) {
	var b []byte
	var one [1]byte
	for {
		n, err := r.Read(one[:])
		if n == 1 {
			if one[0] == '\n' {
				return strings.TrimSuffix(string(b), "\r"), nil
			}
			b = append(b, one[0])
		}
		if err == io.EOF {
			return strings.TrimSuffix(string(b), "\r"), nil
		}
		if err != nil {
			return "", err
		}
	}
}
