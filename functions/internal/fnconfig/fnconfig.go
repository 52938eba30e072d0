// Package fnconfig reads the configuration of a Floe Lambda function: the
// FLOE_* environment variables of lakehouse/config (the same names as
// `floe serve`), with the role forced to "function", the data dir under
// Lambda's only writable directory, and a node id per container.
package fnconfig

import (
	"crypto/rand"
	"encoding/hex"
	"regexp"
	"strings"

	"github.com/floedb/floe/lakehouse/config"
)

// DefaultDataDir is the data dir when FLOE_DATA_DIR is unset: Lambda lets
// a function write only under /tmp.
const DefaultDataDir = "/tmp/floe"

// Load reads the FLOE_* variables of environ over the defaults and forces
// the function role. The data dir is DefaultDataDir unless FLOE_DATA_DIR
// sets one. Unless FLOE_NODE_ID sets one, the node id (recorded in
// manifests, system.jobs and logs) is the Lambda function's name
// (AWS_LAMBDA_FUNCTION_NAME, else fallback) plus a random suffix, so that
// every container of every function is told apart.
func Load(environ []string, fallback string) (config.Config, error) {
	cfg, err := config.Load("", environ)
	if err != nil {
		return config.Config{}, err
	}
	cfg.Role = config.RoleFunction
	if _, ok := lookup(environ, config.EnvPrefix+"DATA_DIR"); !ok {
		cfg.DataDir = DefaultDataDir
	}
	if _, ok := lookup(environ, config.EnvPrefix+"NODE_ID"); !ok {
		name, _ := lookup(environ, "AWS_LAMBDA_FUNCTION_NAME")
		cfg.NodeID = NodeID(name, fallback)
	}
	return cfg, nil
}

// nodeIDUnsafe is what a node id may not hold (lakehouse/config's rule).
var nodeIDUnsafe = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// NodeID returns a node id for one container of the function name
// (fallback if name has no usable character): the name cut to 55
// characters plus "-" and 8 random hex digits.
func NodeID(name, fallback string) string {
	name = strings.Trim(nodeIDUnsafe.ReplaceAllString(name, "-"), "-._")
	if name == "" {
		name = fallback
	}
	if len(name) > 55 {
		name = name[:55]
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return name + "-" + hex.EncodeToString(b[:])
}

func lookup(environ []string, name string) (string, bool) {
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v, true
		}
	}
	return "", false
}
