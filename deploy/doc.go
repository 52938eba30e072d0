// Package deploy holds the conventions that tie the deployment descriptors
// at the repository root (template.yaml, the Makefile's build-lambda and
// deploy targets, localstack/) to the code, and the tests that check them.
//
// A Lambda function is a main package functions/<name>; `make build-lambda`
// writes its binary to LambdaBinary(name) (build/lambda/<name>/bootstrap,
// the handler name of the provided.al2023 runtime), and template.yaml points
// the function's CodeUri at LambdaBuildDir(name). TestTemplate parses
// template.yaml with goformation and checks it against these conventions,
// against the environment variables the code reads (lakehouse/config), and
// for least-privilege IAM.
package deploy

import "path"

// LambdaHandler is the executable of every function: the provided.al2023
// runtime runs the file named by the handler in the code's root.
const LambdaHandler = "bootstrap"

// LambdaRuntime is the Lambda runtime of every function.
const LambdaRuntime = "provided.al2023"

// LambdaBuildDir returns the directory, relative to the repository root,
// that `make build-lambda` builds function fn into and template.yaml uses
// as its CodeUri.
func LambdaBuildDir(fn string) string { return path.Join("build", "lambda", fn) }

// LambdaBinary returns the path of function fn's binary relative to the
// repository root.
func LambdaBinary(fn string) string { return path.Join(LambdaBuildDir(fn), LambdaHandler) }
