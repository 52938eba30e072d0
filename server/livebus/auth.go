package livebus

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/floedb/floe/lakehouse/dberr"
)

// Key authenticates the bus: writer processes sign each publish with it
// and live nodes verify. It is derived from the warehouse's shared secret
// (config auth.jwt_secret), so the secret itself never travels and a bus
// credential is no user token.
type Key struct {
	k   []byte
	set bool
}

// CredentialPrefix starts every bus credential. Version 2 binds the
// credential to the message it comes with (version 1 signed the
// timestamp alone, so a credential seen on the wire could carry forged
// batches for MaxSkew).
const CredentialPrefix = "floebus2."

// MaxSkew bounds the clock difference between a publisher and a live node
// (and how long a captured credential stays usable).
const MaxSkew = 5 * time.Minute

// DeriveKey returns the bus key of a warehouse secret. An empty secret
// gives a key that signs nothing and verifies nothing.
func DeriveKey(secret []byte) Key {
	if len(secret) == 0 {
		return Key{}
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("floe live bus v1"))
	return Key{k: m.Sum(nil), set: true}
}

// Valid reports whether the key was derived from a secret.
func (k Key) Valid() bool { return k.set }

// mac signs the timestamp and the SHA-256 of the message body.
func (k Key) mac(ts string, body []byte) string {
	m := hmac.New(sha256.New, k.k)
	m.Write([]byte("publish:" + ts + ":"))
	d := sha256.Sum256(body)
	m.Write(d[:])
	return hex.EncodeToString(m.Sum(nil))
}

// Credential returns the credential of a publish of body made at now:
// "floebus2.<unix seconds>.<hex HMAC-SHA256 of the time and the body's
// SHA-256>". body is the message as both sides encode it (see bodyOf).
func (k Key) Credential(now time.Time, body []byte) string {
	ts := strconv.FormatInt(now.Unix(), 10)
	return CredentialPrefix + ts + "." + k.mac(ts, body)
}

// Verify checks a credential made by Credential with the same key, for
// the same body, within MaxSkew of now. Its error is a
// dberr.Unauthenticated saying what is wrong. (A message replayed whole
// within MaxSkew verifies: its batches are duplicates by _seq, which the
// live node drops.)
func (k Key) Verify(cred string, body []byte, now time.Time) error {
	if !k.set {
		return dberr.New(dberr.Unauthenticated, "live bus: this live node has no auth.jwt_secret, so it cannot verify publishes; "+
			"configure the warehouse's shared auth.jwt_secret (FLOE_AUTH_JWT_SECRET) on the live nodes and the writers")
	}
	rest, ok := strings.CutPrefix(cred, CredentialPrefix)
	ts, mac, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 {
		return dberr.New(dberr.Unauthenticated, "live bus: a publish needs \"Authorization: Bearer %s<unix>.<hmac>\", the credential of the warehouse's shared auth.jwt_secret", CredentialPrefix)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return dberr.New(dberr.Unauthenticated, "live bus: the credential's timestamp %q is not a number", ts)
	}
	if !hmac.Equal([]byte(mac), []byte(k.mac(ts, body))) {
		return dberr.New(dberr.Unauthenticated, "live bus: the credential does not verify: the publisher's auth.jwt_secret differs from this live node's, or the message was altered")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > MaxSkew || d < -MaxSkew {
		return dberr.New(dberr.Unauthenticated, "live bus: the credential is %s off this node's clock (at most %s); check the clocks", d.Round(time.Second), MaxSkew)
	}
	return nil
}
