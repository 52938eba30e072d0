//go:build tools

// Package tools pins the code generators Floe's API uses. They live in
// their own module so the main go.mod does not carry buf's dependencies.
// `make generate` installs them with `go install` from this module, at
// exactly the versions in this go.mod.
package tools

import (
	_ "connectrpc.com/connect/cmd/protoc-gen-connect-go"
	_ "github.com/bufbuild/buf/cmd/buf"
	_ "google.golang.org/protobuf/cmd/protoc-gen-go"
)
